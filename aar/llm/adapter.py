"""What the provider adapters share: their settings and how a reply becomes an `LLMResponse`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from aar.llm.base import LLMResponse, Message
from aar.llm.modes import StructuredMode, SwitchSink
from aar.llm.parsing import ParseResult, parse_reply
from aar.llm.pricing import PriceTable
from aar.llm.retry import RetryPolicy


@dataclass(frozen=True)
class AdapterSettings:
    """Injected into every adapter: prices, the transport retry policy, the per-request timeout, and the
    structured-output mode to force (None: auto-detected per endpoint, see aar/llm/modes.py) or to start in."""

    prices: PriceTable = field(default_factory=PriceTable)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 300.0
    structured: StructuredMode | None = None
    # The mode this endpoint was already found to answer in (a resumed study): where auto starts.
    structured_known: StructuredMode | None = None
    # Told of every move to the next mode (a study: an agent-log step and a terminal line).
    on_mode_switch: SwitchSink | None = None


@dataclass(frozen=True)
class Reply:
    """What an adapter extracted from one provider response."""

    text: str
    parsed: ParseResult
    tokens_in: int
    tokens_out: int
    response_json: str


def text_reply(text: str, schema: type[BaseModel] | None) -> ParseResult:
    """Validate a text reply when a schema was asked for."""
    return parse_reply(text, schema) if schema is not None else ParseResult(None, None)


def to_response(
    reply: Reply,
    *,
    request: dict[str, Any],
    provider: str,
    model: str,
    settings: AdapterSettings,
    latency_s: float,
) -> LLMResponse:
    """Price the reply and package it with the request for the store."""
    return LLMResponse(
        text=reply.text,
        parsed=reply.parsed.value,
        parse_error=reply.parsed.error,
        tokens_in=reply.tokens_in,
        tokens_out=reply.tokens_out,
        cost_usd=settings.prices.cost(provider, model, reply.tokens_in, reply.tokens_out),
        latency_s=latency_s,
        model=model,
        provider=provider,
        request_json=json.dumps(request, default=str),
        response_json=reply.response_json,
    )


def with_system_note(messages: list[Message], note: str) -> list[Message]:
    """Append `note` to the first system message, or put it in a new one at the front."""
    for i, message in enumerate(messages):
        if message.role == "system":
            merged = Message(role="system", content=f"{message.content}\n\n{note}")
            return [*messages[:i], merged, *messages[i + 1 :]]
    return [Message(role="system", content=note), *messages]


def error_detail(body: object, fallback: str) -> str:
    """The human message in a provider's error body (`{"error": {"message": ...}}`), else `fallback`."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return fallback
