"""Fixtures for the LLM layer: no real keys or endpoints, fast retries, small schemas."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pydantic import BaseModel, Field

from aar.llm.adapter import AdapterSettings
from aar.llm.anthropic_provider import AnthropicClient
from aar.llm.base import Message
from aar.llm.openai_provider import OpenAIClient
from aar.llm.pricing import PriceTable
from aar.llm.retry import RetryPolicy

VENDOR_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_PROFILE",
    "AAR_LLM_BASE_URL",
    "AAR_LLM_API_KEY",
    "AAR_PRICES",
)


class Hypothesis(BaseModel):
    """A hypothesis to test."""

    title: str
    rationale: str
    expected_pgr_gain: float = Field(ge=-1, le=1)


GOOD = {"title": "confidence loss", "rationale": "trust the strong model", "expected_pgr_gain": 0.2}
OUT_OF_RANGE = {"title": "x", "rationale": "y", "expected_pgr_gain": 7}
MESSAGES = [Message(role="system", content="You are a researcher."), Message(role="user", content="Propose.")]


@pytest.fixture(autouse=True)
def no_vendor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never pick up a real key or endpoint from the environment."""
    for name in VENDOR_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def sleeps() -> list[float]:
    """Delays the retry policy asked for (instead of sleeping them)."""
    return []


@pytest.fixture()
def settings(sleeps: list[float]) -> AdapterSettings:
    """Default prices, 3 transport attempts, no real sleeping, short timeouts."""
    return AdapterSettings(
        prices=PriceTable(),
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, sleep=sleeps.append),
        timeout_s=10,
    )


@pytest.fixture()
def openai_client(settings: AdapterSettings) -> Iterator[Callable[[str], OpenAIClient]]:
    """Build `openai/gpt-4o-mini` clients for a fake server's base URL (closed after the test)."""
    made: list[OpenAIClient] = []

    def build(base_url: str) -> OpenAIClient:
        made.append(OpenAIClient("gpt-4o-mini", api_key="test-key", base_url=base_url, settings=settings))
        return made[-1]

    yield build
    for client in made:
        client.close()


@pytest.fixture()
def anthropic_client(settings: AdapterSettings) -> Iterator[Callable[[str], AnthropicClient]]:
    """Build `anthropic/claude-haiku-4-5` clients for a fake server's base URL (closed after the test)."""
    made: list[AnthropicClient] = []

    def build(base_url: str) -> AnthropicClient:
        made.append(
            AnthropicClient("claude-haiku-4-5", api_key="test-key", base_url=base_url, settings=settings)
        )
        return made[-1]

    yield build
    for client in made:
        client.close()
