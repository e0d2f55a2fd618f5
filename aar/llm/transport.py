"""One provider request through an official SDK, with our transport retries: shared by every adapter.

Both SDKs (`openai`, `anthropic`) raise the same shapes: `APIConnectionError` when nothing came back and
`APIStatusError` (status_code, body, message, response) for an HTTP error. Here they become aar errors:
a rejected structured-output mode → `StructuredModeRejected` (never retried), 401/403 → `LLMAuthError`,
other 4xx → `LLMRequestError`, connection errors, 408/409/429 and 5xx → retried, then
`LLMUnavailableError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from aar.llm.adapter import AdapterSettings, Reply, error_detail, to_response
from aar.llm.base import KEY_ENV, LLMResponse, Message, Provider
from aar.llm.errors import LLMAuthError, LLMRequestError, StructuredModeRejected
from aar.llm.modes import ModeChoice, StructuredMode, names_mode
from aar.llm.retry import RetryPolicy, TransientFailure, is_retryable_status, parse_retry_after, with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")
Answer = TypeVar("Answer")
Schema = type[BaseModel] | None  # the reply's schema; None: plain text
Mode = StructuredMode | None  # None: no structured output asked
Request = dict[
    str, Any
]  # an SDK call's keyword arguments  # what one SDK returns for a request (ChatCompletion, anthropic Message)


@dataclass(frozen=True)
class SDKErrors:
    """An SDK's two transport exception classes."""

    status: type[Exception]  # APIStatusError: the server answered with an HTTP error
    connection: type[Exception]  # APIConnectionError (and its timeout subclass): no answer at all


@dataclass(frozen=True)
class Endpoint:
    """Who is called: for messages and retries."""

    provider: str
    key_env: str
    errors: SDKErrors
    policy: RetryPolicy


def send(call: Callable[[], T], endpoint: Endpoint, mode: StructuredMode | None = None) -> T:
    """Run one SDK call with our retries; `mode` is the structured-output mode the request asks for.

    Raises:
        StructuredModeRejected: an HTTP error whose message names `mode` (not retried).
        LLMAuthError: 401/403 (the message names the key's environment variable).
        LLMRequestError: another error retrying cannot fix.
        LLMUnavailableError: every transport retry failed.
    """
    try:
        return with_retries(
            lambda: _attempt(call, endpoint, mode), policy=endpoint.policy, provider=endpoint.provider
        )
    except endpoint.errors.status as exc:
        status, detail = _status_of(exc)
        if status in (401, 403):
            raise LLMAuthError(
                f"{endpoint.provider} refused the credentials (HTTP {status}: {detail}); "
                f"check {endpoint.key_env}"
            ) from exc
        raise LLMRequestError(endpoint.provider, status, detail) from exc


def send_structured(
    build: Callable[[StructuredMode], dict[str, Any]],
    create: Callable[[dict[str, Any]], T],
    endpoint: Endpoint,
    modes: ModeChoice,
) -> tuple[dict[str, Any], T]:
    """Send the request `build` makes for the current mode; a rejection of the mode moves `modes` on
    (unless forced: then it is raised) and the request is rebuilt for the next one.

    Returns:
        The request that was answered, and the answer.
    """
    while True:
        mode = modes.current
        request = build(mode)
        try:
            return request, send(partial(create, request), endpoint, mode)
        except StructuredModeRejected as rejection:
            modes.step_down(rejection)


def _attempt(call: Callable[[], T], endpoint: Endpoint, mode: StructuredMode | None) -> T:
    """One HTTP request; what a later attempt may fix becomes `TransientFailure`."""
    try:
        return call()
    except endpoint.errors.connection as exc:
        raise TransientFailure(None, str(exc)) from exc
    except endpoint.errors.status as exc:
        status, detail = _status_of(exc)
        if mode is not None and names_mode(detail, mode):
            raise StructuredModeRejected(endpoint.provider, status, detail, mode) from exc
        if not is_retryable_status(status):
            raise
        headers = getattr(getattr(exc, "response", None), "headers", {})
        raise TransientFailure(status, detail, parse_retry_after(headers)) from exc


def _status_of(exc: Any) -> tuple[int, str]:
    """An SDK status error's HTTP status and the human message in its body."""
    return int(exc.status_code), error_detail(exc.body, str(exc.message))


class SDKClient(Generic[Answer]):
    """An `LLMClient` over one official SDK: the call, its retries and its structured-output mode are here;
    a provider adapter says how to build a request (`_request`), send it (`_create`) and read the answer
    (`_reply`)."""

    def __init__(
        self,
        provider: Provider,
        model: str,
        settings: AdapterSettings | None,
        *,
        sdk: Callable[..., Any],
        errors: SDKErrors,
        api_key: str,
        base_url: str | None,
    ) -> None:
        self.provider: str = provider
        self.model = model
        self.settings = settings or AdapterSettings()
        self.modes = ModeChoice(
            provider, self.settings.structured, self.settings.structured_known, self.settings.on_mode_switch
        )
        self._endpoint = Endpoint(provider, KEY_ENV[provider], errors, self.settings.retry)
        # The SDK's own retries are off: ours (aar/llm/retry.py) are the only policy.
        self._client: Any = sdk(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=self.settings.timeout_s
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

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
        """One call; with `schema`, a JSON reply (in the endpoint's structured mode) validated into `parsed`."""
        start = time.monotonic()
        if schema is None:
            request = self._request(messages, None, None, max_tokens)
            answer = send(partial(self._create, request), self._endpoint)
        else:
            request, answer = send_structured(
                lambda mode: self._request(messages, schema, mode, max_tokens),
                self._create,
                self._endpoint,
                self.modes,
            )
        log.debug("%s/%s answered node %r", self.provider, self.model, node)
        return to_response(
            self._reply(answer, schema),
            request=request,
            provider=self.provider,
            model=self.model,
            settings=self.settings,
            latency_s=time.monotonic() - start,
        )

    def _request(self, messages: list[Message], schema: Schema, mode: Mode, max_tokens: int) -> Request:
        """The SDK call's arguments for one mode (None: plain text)."""
        raise NotImplementedError

    def _create(self, request: dict[str, Any]) -> Answer:
        """One SDK call."""
        raise NotImplementedError

    def _reply(self, answer: Answer, schema: type[BaseModel] | None) -> Reply:
        """Text, validation and usage from the SDK's answer."""
        raise NotImplementedError
