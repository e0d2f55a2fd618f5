"""Errors raised by the LLM layer, placed in aar's error tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aar.errors import AgentError, InfraError, UserError

if TYPE_CHECKING:
    from aar.llm.structured import LLMCallRecord


class LLMConfigError(UserError):
    """A bad model spec, a missing API key or base URL, or a malformed price file."""


class LLMAuthError(UserError):
    """The provider refused the credentials; the message names the environment variable to fix."""


class LLMRequestError(InfraError):
    """The provider rejected a request for a reason retrying cannot fix (a 4xx other than 408/409/429)."""

    def __init__(self, provider: str, status: int | None, detail: str) -> None:
        super().__init__(f"{provider} rejected the request (HTTP {status}): {detail}")
        self.provider = provider
        self.status = status
        self.detail = detail


class LLMUnavailableError(InfraError):
    """The provider kept failing (429, 5xx, connection errors) through every transport retry."""

    def __init__(self, provider: str, status: int | None, attempts: int, detail: str) -> None:
        what = f"HTTP {status}" if status is not None else "connection error"
        super().__init__(f"{provider} unavailable after {attempts} attempts (last: {what}: {detail})")
        self.provider = provider
        self.status = status
        self.attempts = attempts
        self.detail = detail


class StructuredOutputError(AgentError):
    """The model gave no reply that validates against the schema within the allowed attempts."""

    def __init__(self, schema_name: str, attempts: list[LLMCallRecord]) -> None:
        last = attempts[-1].error if attempts else None
        super().__init__(f"no valid {schema_name} after {len(attempts)} attempts; last error: {last}")
        self.schema_name = schema_name
        self.attempts = attempts
