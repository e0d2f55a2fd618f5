"""Anthropic models over the official `anthropic` SDK.

Structured output is a forced tool call whose input schema is the pydantic model's JSON schema (mode
`tools`); a server whose error names tools (aar/llm/modes.py) moves the client to `json_object`: JSON in
the text with the schema in the system prompt, for good. The reply is always validated here.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, cast

import anthropic
from anthropic.types import Message as AnthropicMessage
from pydantic import BaseModel

from aar.llm.adapter import AdapterSettings, Reply, text_reply, to_response, with_system_note
from aar.llm.base import KEY_ENV, LLMResponse, Message
from aar.llm.modes import ModeChoice, StructuredMode
from aar.llm.parsing import (
    ParseResult,
    json_schema_of,
    schema_instruction,
    schema_name,
    tool_description,
    validate_data,
)
from aar.llm.transport import Endpoint, SDKErrors, send, send_structured

log = logging.getLogger(__name__)
ERRORS = SDKErrors(status=anthropic.APIStatusError, connection=anthropic.APIConnectionError)


class AnthropicClient:
    """An `LLMClient` for `anthropic/<model>`."""

    provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        settings: AdapterSettings | None = None,
    ) -> None:
        self.model = model
        self.settings = settings or AdapterSettings()
        self.modes = ModeChoice("anthropic", self.settings.structured, self.settings.structured_known)
        self._endpoint = Endpoint("anthropic", KEY_ENV["anthropic"], ERRORS, self.settings.retry)
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=self.settings.timeout_s
        )

    @property
    def structured_mode(self) -> StructuredMode:
        """The structured-output mode this client currently uses."""
        return self.modes.current

    def complete(
        self,
        messages: list[Message],
        *,
        schema: type[BaseModel] | None = None,
        node: str = "",
        max_tokens: int = 4096,
    ) -> LLMResponse:
        """One Messages API call; with `schema`, a forced tool call (or JSON text) validated into `parsed`."""
        start = time.monotonic()
        if schema is None:
            request = self._request(messages, None, None, max_tokens)
            reply = send(lambda: self._create(request), self._endpoint)
        else:
            request, reply = send_structured(
                lambda mode: self._request(messages, schema, mode, max_tokens),
                self._create,
                self._endpoint,
                self.modes,
            )
        log.debug("anthropic/%s answered node %r", self.model, node)
        return to_response(
            self._reply(reply, schema),
            request=request,
            provider=self.provider,
            model=self.model,
            settings=self.settings,
            latency_s=time.monotonic() - start,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _request(
        self,
        messages: list[Message],
        schema: type[BaseModel] | None,
        mode: StructuredMode | None,
        max_tokens: int,
    ) -> dict[str, Any]:
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
