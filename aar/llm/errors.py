"""Errors raised by the LLM layer, placed in aar's error tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aar.errors import AgentError, LLMUnreachableError, UserError

if TYPE_CHECKING:
    from aar.llm.structured import LLMCallRecord


class LLMConfigError(UserError):
    """A bad model spec, a missing API key or base URL, or a malformed price file."""


class LLMAuthError(UserError, LLMUnreachableError):
    """The provider refused the credentials; the message names the environment variable to fix (exit 2)."""


class LLMRequestError(LLMUnreachableError):
    """The provider rejected a request for a reason retrying cannot fix (a 4xx other than 408/409/429)."""

    def __init__(self, provider: str, status: int | None, detail: str) -> None:
        super().__init__(f"{provider} rejected the request (HTTP {status}): {detail}")
        self.provider = provider
        self.status = status
        self.detail = detail


class LLMUnavailableError(LLMUnreachableError):
    """The provider kept failing (429, 5xx, connection errors) through every transport retry."""

    def __init__(self, provider: str, status: int | None, attempts: int, detail: str) -> None:
        what = f"HTTP {status}" if status is not None else "connection error"
        super().__init__(f"{provider} unavailable after {attempts} attempts (last: {what}: {detail})")
        self.provider = provider
        self.status = status
        self.attempts = attempts
        self.detail = detail


class StructuredModeRejected(LLMRequestError):
    """The server turned down a structured-output mode by name (e.g. llama-cpp-python's HTTP 500 on
    `response_format: json_schema`): the client steps to the next mode unless the mode was forced."""

    def __init__(self, provider: str, status: int | None, detail: str, mode: str) -> None:
        super().__init__(provider, status, detail)
        self.mode = mode


class StructuredOutputError(AgentError):
    """The model gave no reply that validates against the schema within the allowed attempts."""

    def __init__(self, schema_name: str, attempts: list[LLMCallRecord]) -> None:
        last = attempts[-1].error if attempts else None
        super().__init__(f"no valid {schema_name} after {len(attempts)} attempts; last error: {last}")
        self.schema_name = schema_name
        self.attempts = attempts
