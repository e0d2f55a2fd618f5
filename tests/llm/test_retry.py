"""The transport retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from aar.llm.errors import LLMUnavailableError
from aar.llm.retry import RetryPolicy, TransientFailure, parse_retry_after, with_retries


def test_backoff_doubles_with_jitter_and_cap() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=5.0, jitter=0.5)
    assert [policy.delay(n, None, 0.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.delay(1, None, 1.0) == 1.5
    assert policy.delay(1, 3.0, 1.0) == 3.0
    assert policy.delay(1, 100.0, 0.0) == 5.0


def test_with_retries_recovers() -> None:
    sleeps: list[float] = []
    outcomes: list[object] = [TransientFailure(429, "slow down", 0.5), TransientFailure(None, "reset"), "ok"]

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    assert (
        with_retries(call, policy=RetryPolicy(base_delay_s=0.1, jitter=0, sleep=sleeps.append), provider="p")
        == "ok"
    )
    assert sleeps == [0.5, 0.2]


def test_with_retries_gives_up() -> None:
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        raise TransientFailure(502, "bad gateway")

    with pytest.raises(LLMUnavailableError, match=r"p unavailable after 4 attempts.*HTTP 502: bad gateway"):
        with_retries(call, policy=RetryPolicy(max_attempts=4, sleep=lambda _: None), provider="p")
    assert calls == 4


def test_other_errors_are_not_retried() -> None:
    def call() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        with_retries(call, policy=RetryPolicy(sleep=lambda _: pytest.fail("slept")), provider="p")


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after({"retry-after": later}) or 0) <= 30


def test_policy_needs_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
