"""OpenAI and OpenAI-compatible servers (vLLM, llama.cpp, Ollama) over the official `openai` SDK.

Structured output tries, in order: JSON-schema `response_format`, JSON mode with the schema in the
prompt, then plain text with the schema in the prompt. A server that rejects a mode with 400/422 drops
to the next one, and the client remembers the mode that worked. The reply is always validated here.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal, cast

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from aar.llm.adapter import AdapterSettings, Reply, error_detail, text_reply, to_response, with_system_note
from aar.llm.base import KEY_ENV, LLMResponse, Message, Provider
from aar.llm.errors import LLMAuthError, LLMRequestError
from aar.llm.parsing import ParseResult, json_schema_of, schema_instruction, schema_name
from aar.llm.retry import TransientFailure, is_retryable_status, parse_retry_after, with_retries

log = logging.getLogger(__name__)

Mode = Literal["json_schema", "json_object", "text"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "text")
# Statuses with which servers turn down a response_format they do not support.
REJECTS_MODE = frozenset({400, 422})


class OpenAIClient:
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
        self.provider: str = provider
        self.model = model
        self.settings = settings or AdapterSettings()
        self._key_env = KEY_ENV[provider]
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=self.settings.timeout_s
        )
        # Index into MODES of the first structured mode worth trying with this server.
        self._mode_index = 0

    @property
    def structured_mode(self) -> Mode:
        """The structured-output mode this client currently uses."""
        return MODES[self._mode_index]

    def complete(
        self,
        messages: list[Message],
        *,
        schema: type[BaseModel] | None = None,
        node: str = "",
        max_tokens: int = 4096,
    ) -> LLMResponse:
        """One chat completion; with `schema`, a JSON reply validated into `parsed`."""
        start = time.monotonic()
        if schema is None:
            request = self._request(messages, None, "text", max_tokens)
            completion = self._send(request)
        else:
            request, completion = self._send_structured(messages, schema, max_tokens)
        log.debug("%s/%s answered node %r", self.provider, self.model, node)
        return to_response(
            self._reply(completion, schema),
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
    ) -> tuple[dict[str, Any], ChatCompletion]:
        """Send in the best mode the server accepts, stepping down on a rejection."""
        for index in range(self._mode_index, len(MODES)):
            request = self._request(messages, schema, MODES[index], max_tokens)
            try:
                completion = self._send(request)
            except LLMRequestError as exc:
                if MODES[index] == "text" or exc.status not in REJECTS_MODE:
                    raise
                log.warning(
                    "%s rejected %s output (%s); trying %s",
                    self.provider,
                    MODES[index],
                    exc.detail,
                    MODES[index + 1],
                )
                continue
            if index != self._mode_index:
                log.info(
                    "%s/%s: using %s structured output from now on", self.provider, self.model, MODES[index]
                )
                self._mode_index = index
            return request, completion
        raise AssertionError("unreachable: the text mode either returns or raises")

    def _request(
        self, messages: list[Message], schema: type[BaseModel] | None, mode: Mode, max_tokens: int
    ) -> dict[str, Any]:
        """The chat.completions.create arguments for one mode."""
        # Some OpenAI-compatible servers accept json_schema and ignore it, so they get the schema in the
        # prompt too; OpenAI itself needs it only in the modes that do not carry the schema.
        if schema is not None and (mode != "json_schema" or self.provider != "openai"):
            messages = with_system_note(messages, schema_instruction(schema))
        # OpenAI's newer models only take max_completion_tokens; other servers know max_tokens.
        tokens_key = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            tokens_key: max_tokens,
        }
        if schema is not None and mode == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(schema),
                    "schema": json_schema_of(schema),
                    "strict": False,
                },
            }
        elif schema is not None and mode == "json_object":
            request["response_format"] = {"type": "json_object"}
        return request

    def _send(self, request: dict[str, Any]) -> ChatCompletion:
        """Send with our transport retries; map what cannot be retried to aar errors."""
        try:
            return with_retries(
                lambda: self._create(request), policy=self.settings.retry, provider=self.provider
            )
        except openai.APIStatusError as exc:
            detail = error_detail(exc.body, exc.message)
            if exc.status_code in (401, 403):
                raise LLMAuthError(
                    f"{self.provider} refused the credentials (HTTP {exc.status_code}: {detail}); "
                    f"check {self._key_env}"
                ) from exc
            raise LLMRequestError(self.provider, exc.status_code, detail) from exc

    def _create(self, request: dict[str, Any]) -> ChatCompletion:
        """One HTTP request; transport failures become `TransientFailure`."""
        try:
            return cast(ChatCompletion, self._client.chat.completions.create(**request))
        except openai.APIConnectionError as exc:
            raise TransientFailure(None, str(exc)) from exc
        except openai.APIStatusError as exc:
            if not is_retryable_status(exc.status_code):
                raise
            detail = error_detail(exc.body, exc.message)
            raise TransientFailure(exc.status_code, detail, parse_retry_after(exc.response.headers)) from exc

    def _reply(self, completion: ChatCompletion, schema: type[BaseModel] | None) -> Reply:
        """Text, validation and usage from a completion."""
        message = completion.choices[0].message if completion.choices else None
        text = (message.content if message else None) or ""
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
