"""Structured completions: ask for a schema, feed validation errors back, retry a bounded number of times.

Every attempt, good or bad, is reported through `on_call` as an `LLMCallRecord`, so the caller can
write it to the store and charge the budget. A model that never produces a valid reply raises
`StructuredOutputError` (an `AgentError`: the step failed, the study goes on); a provider that cannot be
reached raises `LLMUnavailableError` after its transport retries (an `InfraError`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from aar.errors import AarError
from aar.llm.base import LLMClient, LLMResponse, Message
from aar.llm.errors import StructuredOutputError

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class LLMCallRecord:
    """One model call as the store keeps it (`prompt` and `response` become artifacts)."""

    node: str
    provider: str
    model: str
    # 1-based attempt number within one `complete_structured` call.
    attempt: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_s: float
    # The request payload sent (JSON), and the provider's response (JSON; empty if none came back).
    prompt: str
    response: str
    # Why this attempt failed (parse/validation/transport), None if it produced a valid object.
    error: str | None
    # The model's reply text (the tool input as JSON for a tool call).
    text: str = ""


CallSink = Callable[[LLMCallRecord], None]


def complete_structured(
    client: LLMClient,
    messages: list[Message],
    schema: type[T],
    *,
    node: str,
    max_attempts: int = 3,
    max_tokens: int = 4096,
    on_call: CallSink | None = None,
    before_call: Callable[[], None] | None = None,
) -> T:
    """Ask `client` for a `schema` object, retrying with the validation error shown to the model.

    Args:
        client: the model to ask.
        messages: the conversation so far; not modified.
        schema: the pydantic model the reply must validate against.
        node: the graph node asking (recorded with every call).
        max_attempts: model replies allowed in all (transport retries are separate and not counted).
        max_tokens: the reply length limit per call.
        on_call: receives a record of every attempt, including failed ones.
        before_call: run before every attempt, e.g. a budget check that raises when the budget is spent.

    Raises:
        StructuredOutputError: no valid reply within `max_attempts`; carries every attempt's record.
        LLMUnavailableError, LLMRequestError, LLMAuthError: from the provider (recorded first).
    """
    conversation = list(messages)
    records: list[LLMCallRecord] = []
    for attempt in range(1, max_attempts + 1):
        if before_call is not None:
            before_call()
        response = _call(
            client, conversation, schema, node=node, attempt=attempt, max_tokens=max_tokens, on_call=on_call
        )
        record = _record(response, node=node, attempt=attempt)
        records.append(record)
        _emit(on_call, record)
        parsed = response.parsed
        if parsed is not None and response.parse_error is None:
            return parsed if isinstance(parsed, schema) else schema.model_validate(parsed.model_dump())
        log.info(
            "%s: attempt %d/%d gave no valid %s: %s",
            node,
            attempt,
            max_attempts,
            schema.__name__,
            response.parse_error,
        )
        conversation += feedback(response.text, response.parse_error or "no reply")
    raise StructuredOutputError(schema.__name__, records)


def feedback(reply: str, error: str) -> list[Message]:
    """The model's bad reply and a user message telling it what was wrong."""
    return [
        Message(role="assistant", content=reply or "(empty reply)"),
        Message(
            role="user",
            content=f"Your reply could not be used: {error}\n\n"
            "Reply again with only a JSON object that matches the schema, fixing these problems.",
        ),
    ]


def _call(
    client: LLMClient,
    conversation: list[Message],
    schema: type[BaseModel],
    *,
    node: str,
    attempt: int,
    max_tokens: int,
    on_call: CallSink | None,
) -> LLMResponse:
    """One call; a provider error is recorded before it propagates."""
    start = time.monotonic()
    try:
        return client.complete(conversation, schema=schema, node=node, max_tokens=max_tokens)
    except AarError as exc:
        _emit(on_call, _error_record(client, conversation, exc, node=node, attempt=attempt, start=start))
        raise


def _error_record(
    client: LLMClient, conversation: list[Message], exc: Exception, *, node: str, attempt: int, start: float
) -> LLMCallRecord:
    """The record of a call that raised: no tokens, no response, the error."""
    return LLMCallRecord(
        node=node,
        provider=client.provider,
        model=client.model,
        attempt=attempt,
        tokens_in=0,
        tokens_out=0,
        cost_usd=0.0,
        latency_s=time.monotonic() - start,
        prompt=json.dumps({"model": client.model, "messages": [m.model_dump() for m in conversation]}),
        response="",
        error=f"{type(exc).__name__}: {exc}",
    )


def _record(response: LLMResponse, *, node: str, attempt: int) -> LLMCallRecord:
    """The store's view of one response."""
    return LLMCallRecord(
        node=node,
        provider=response.provider,
        model=response.model,
        attempt=attempt,
        tokens_in=response.tokens_in,
        tokens_out=response.tokens_out,
        cost_usd=response.cost_usd,
        latency_s=response.latency_s,
        prompt=response.request_json,
        response=response.response_json,
        error=response.parse_error,
        text=response.text,
    )


def _emit(on_call: CallSink | None, record: LLMCallRecord) -> None:
    if on_call is not None:
        on_call(record)
