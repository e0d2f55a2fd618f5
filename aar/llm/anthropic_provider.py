"""Anthropic models over the official `anthropic` SDK.

Structured output is a forced tool call whose input schema is the pydantic model's JSON schema; a server
that rejects tools (400/422) drops to JSON in the text with the schema in the system prompt, and the
client remembers that. The reply is always validated here.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Literal, cast

import anthropic
from anthropic.types import Message as AnthropicMessage
from pydantic import BaseModel

from aar.llm.adapter import AdapterSettings, Reply, error_detail, text_reply, to_response, with_system_note
from aar.llm.base import KEY_ENV, LLMResponse, Message
from aar.llm.errors import LLMAuthError, LLMRequestError
from aar.llm.parsing import ParseResult, json_schema_of, schema_instruction, schema_name, validate_data
from aar.llm.retry import TransientFailure, is_retryable_status, parse_retry_after, with_retries

log = logging.getLogger(__name__)

Mode = Literal["tool", "text"]
REJECTS_MODE = frozenset({400, 422})


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
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=self.settings.timeout_s
        )
        self.structured_mode: Mode = "tool"

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
            request = self._request(messages, None, "text", max_tokens)
            reply = self._send(request)
        else:
            request, reply = self._send_structured(messages, schema, max_tokens)
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

    def _send_structured(
        self, messages: list[Message], schema: type[BaseModel], max_tokens: int
    ) -> tuple[dict[str, Any], AnthropicMessage]:
        """A forced tool call, or JSON text once the server has turned tools down."""
        if self.structured_mode == "tool":
            request = self._request(messages, schema, "tool", max_tokens)
            try:
                return request, self._send(request)
            except LLMRequestError as exc:
                if exc.status not in REJECTS_MODE:
                    raise
                log.warning("anthropic rejected the forced tool call (%s); asking for JSON text", exc.detail)
        request = self._request(messages, schema, "text", max_tokens)
        reply = self._send(request)
        self.structured_mode = "text"
        return request, reply

    def _request(
        self, messages: list[Message], schema: type[BaseModel] | None, mode: Mode, max_tokens: int
    ) -> dict[str, Any]:
        """The messages.create arguments: system text apart, the tool when structured."""
        if schema is not None and mode == "text":
            messages = with_system_note(messages, schema_instruction(schema))
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
        }
        if system:
            request["system"] = system
        if schema is not None and mode == "tool":
            name = schema_name(schema)
            description = (schema.__doc__ or "").strip() or f"Give the answer as a {name} object."
            request["tools"] = [
                {"name": name, "description": description, "input_schema": json_schema_of(schema)}
            ]
            request["tool_choice"] = {"type": "tool", "name": name}
        return request

    def _send(self, request: dict[str, Any]) -> AnthropicMessage:
        """Send with our transport retries; map what cannot be retried to aar errors."""
        try:
            return with_retries(
                lambda: self._create(request), policy=self.settings.retry, provider=self.provider
            )
        except anthropic.APIStatusError as exc:
            detail = error_detail(exc.body, exc.message)
            if exc.status_code in (401, 403):
                raise LLMAuthError(
                    f"anthropic refused the credentials (HTTP {exc.status_code}: {detail}); "
                    f"check {KEY_ENV['anthropic']}"
                ) from exc
            raise LLMRequestError(self.provider, exc.status_code, detail) from exc

    def _create(self, request: dict[str, Any]) -> AnthropicMessage:
        """One HTTP request; transport failures become `TransientFailure`."""
        try:
            return cast(AnthropicMessage, self._client.messages.create(**request))
        except anthropic.APIConnectionError as exc:
            raise TransientFailure(None, str(exc)) from exc
        except anthropic.APIStatusError as exc:
            if not is_retryable_status(exc.status_code):
                raise
            detail = error_detail(exc.body, exc.message)
            raise TransientFailure(exc.status_code, detail, parse_retry_after(exc.response.headers)) from exc

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
