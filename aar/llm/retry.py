"""Our retry policy for transport failures (429, 5xx, timeouts, connection errors).

The SDKs' own retries are turned off (`max_retries=0`) so that this is the only policy, and tests can
drive it with a fast clock.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

from aar.llm.errors import LLMUnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")

# HTTP statuses worth retrying: timeout, conflict/lock, rate limit, and every server error.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    """Whether a response with this status may succeed if sent again."""
    return status in RETRYABLE_STATUSES or status >= 500


class TransientFailure(Exception):
    """A provider call that failed in a way a later attempt may not (raised by the adapters)."""

    def __init__(self, status: int | None, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's Retry-After wins over the computed delay."""

    # Attempts in all, the first included.
    max_attempts: int = 5
    # Delay before the second attempt; doubled for each later one.
    base_delay_s: float = 1.0
    # No single wait is longer than this, Retry-After included.
    max_delay_s: float = 60.0
    # Random extra delay, as a fraction of the computed delay (spreads out clients that failed together).
    jitter: float = 0.25
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}")

    def delay(self, retry_number: int, retry_after_s: float | None, rand: float) -> float:
        """Seconds to wait before retry `retry_number` (1 = the first retry)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_delay_s)
        backoff = self.base_delay_s * 2.0 ** (retry_number - 1)
        return min(backoff * (1 + self.jitter * rand), self.max_delay_s)


def with_retries(call: Callable[[], T], *, policy: RetryPolicy, provider: str) -> T:
    """Run `call`, retrying `TransientFailure`s by `policy`.

    Raises:
        LLMUnavailableError: every attempt failed; it names the provider, last status and attempts.
    """
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return call()
        except TransientFailure as failure:
            if attempt == policy.max_attempts:
                raise LLMUnavailableError(provider, failure.status, attempt, failure.detail) from failure
            wait = policy.delay(attempt, failure.retry_after_s, random.random())
            log.warning(
                "%s call failed (%s: %s); retry %d/%d in %.2fs",
                provider,
                failure.status or "connection",
                failure.detail,
                attempt,
                policy.max_attempts - 1,
                wait,
            )
            policy.sleep(wait)
    raise AssertionError("unreachable: max_attempts must be at least 1")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date), if present."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None
