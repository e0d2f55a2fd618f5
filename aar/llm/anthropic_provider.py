"""Anthropic models over the official `anthropic` SDK.

Structured output is a forced tool call whose input schema is the pydantic model's JSON schema (mode
`tools`); a server whose error names tools (aar/llm/modes.py) moves the client to `json_object`: JSON in
the text with the schema in the system prompt, for good. The reply is always validated here.
"""

from __future__ import annotations

import json
from typing import Any, cast

import anthropic
from anthropic.types import Message as AnthropicMessage
from pydantic import BaseModel

from aar.llm.adapter import AdapterSettings, Reply, text_reply, with_system_note
from aar.llm.base import Message
from aar.llm.parsing import (
    ParseResult,
    json_schema_of,
    schema_instruction,
    schema_name,
    tool_description,
    validate_data,
)
from aar.llm.transport import Mode, Request, Schema, SDKClient, SDKErrors

ERRORS = SDKErrors(status=anthropic.APIStatusError, connection=anthropic.APIConnectionError)


class AnthropicClient(SDKClient[AnthropicMessage]):
    """An `LLMClient` for `anthropic/<model>`."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        settings: AdapterSettings | None = None,
    ) -> None:
        super().__init__(
            "anthropic",
            model,
            settings,
            sdk=anthropic.Anthropic,
            errors=ERRORS,
            api_key=api_key,
            base_url=base_url,
        )

    def _request(self, messages: list[Message], schema: Schema, mode: Mode, max_tokens: int) -> Request:
        """The messages.create arguments: system text apart, the tool when structured (None: plain text)."""
        if schema is not None and mode == "json_object":
            messages = with_system_note(messages, schema_instruction(schema))
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
        }
        if system:
            request["system"] = system
        if schema is not None and mode == "tools":
            name = schema_name(schema)
            request["tools"] = [
                {
                    "name": name,
                    "description": tool_description(schema),
                    "input_schema": json_schema_of(schema),
                }
            ]
            request["tool_choice"] = {"type": "tool", "name": name}
        return request

    def _create(self, request: dict[str, Any]) -> AnthropicMessage:
        return cast(AnthropicMessage, self._client.messages.create(**request))

    def _reply(self, message: AnthropicMessage, schema: type[BaseModel] | None) -> Reply:
        """Text (or the tool input as JSON), validation and usage from a message."""
        tool_inputs = [block.input for block in message.content if block.type == "tool_use"]
        texts = [block.text for block in message.content if block.type == "text"]
        parsed: ParseResult
        if schema is not None and tool_inputs:
            text = json.dumps(tool_inputs[0])
            parsed = validate_data(tool_inputs[0], schema)
        else:
            text = "".join(texts)
            parsed = text_reply(text, schema)
        usage = message.usage
        tokens_in = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        return Reply(text, parsed, tokens_in, usage.output_tokens, message.model_dump_json())
