"""OpenAI and OpenAI-compatible servers (vLLM, llama.cpp, Ollama) over the official `openai` SDK.

Structured output asks in one of three modes (aar/llm/modes.py): a JSON-schema `response_format`, JSON
mode with the schema in the prompt, or a forced function call. Without a forced mode the client starts
with json_schema and steps down on the first error that names the mode (llama-cpp-python answers HTTP
500 to json_schema), then keeps the mode that worked. The reply is always validated here.
"""

from __future__ import annotations

from typing import Any, cast

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from aar.llm.adapter import AdapterSettings, Reply, text_reply, with_system_note
from aar.llm.base import Message, Provider
from aar.llm.modes import StructuredMode
from aar.llm.parsing import ParseResult, json_schema_of, schema_instruction, schema_name, tool_description
from aar.llm.transport import Mode, Request, Schema, SDKClient, SDKErrors

ERRORS = SDKErrors(status=openai.APIStatusError, connection=openai.APIConnectionError)


class OpenAIClient(SDKClient[ChatCompletion]):
    """An `LLMClient` for `openai/<model>` and `openai-compatible/<model>@<base_url>`."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        provider: Provider = "openai",
        settings: AdapterSettings | None = None,
    ) -> None:
        super().__init__(
            provider, model, settings, sdk=openai.OpenAI, errors=ERRORS, api_key=api_key, base_url=base_url
        )

    def _request(self, messages: list[Message], schema: Schema, mode: Mode, max_tokens: int) -> Request:
        """The chat.completions.create arguments for one mode (None: plain text)."""
        # OpenAI enforces json_schema and function parameters itself; JSON mode, and other servers (some
        # accept a format and ignore it), also get the schema in the prompt.
        if schema is not None and (mode == "json_object" or self.provider != "openai"):
            messages = with_system_note(messages, schema_instruction(schema))
        # OpenAI's newer models only take max_completion_tokens; other servers know max_tokens.
        tokens_key = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            tokens_key: max_tokens,
        }
        if schema is not None and mode is not None:
            request |= _structured_fields(schema, mode)
        return request

    def _create(self, request: dict[str, Any]) -> ChatCompletion:
        return cast(ChatCompletion, self._client.chat.completions.create(**request))

    def _reply(self, completion: ChatCompletion, schema: type[BaseModel] | None) -> Reply:
        """Text (or the function call's arguments), validation and usage from a completion."""
        message = completion.choices[0].message if completion.choices else None
        calls = (message.tool_calls or []) if message is not None else []
        arguments = [c.function.arguments for c in calls if c.type == "function"]
        text = (
            arguments[0] if schema is not None and arguments else (message.content if message else None) or ""
        )
        parsed = text_reply(text, schema)
        if schema is not None and message is not None and message.refusal:
            parsed = ParseResult(None, f"the model refused: {message.refusal}")
        usage = completion.usage
        return Reply(
            text=text,
            parsed=parsed,
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            response_json=completion.model_dump_json(),
        )


def _structured_fields(schema: type[BaseModel], mode: StructuredMode) -> dict[str, Any]:
    """The request fields that ask for `schema` in `mode`."""
    name = schema_name(schema)
    if mode == "json_schema":
        spec = {"name": name, "schema": json_schema_of(schema), "strict": False}
        return {"response_format": {"type": "json_schema", "json_schema": spec}}
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    function = {"name": name, "description": tool_description(schema), "parameters": json_schema_of(schema)}
    return {
        "tools": [{"type": "function", "function": function}],
        "tool_choice": {"type": "function", "function": {"name": name}},
    }
