"""Building clients from model specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.errors import UserError
from aar.llm import make_client
from aar.llm.anthropic_provider import AnthropicClient
from aar.llm.openai_provider import OpenAIClient
from tests.fakes.llm import FakeOpenAIServer, Text
from tests.llm.conftest import MESSAGES


def test_builds_each_provider() -> None:
    env = {"OPENAI_API_KEY": "a", "ANTHROPIC_API_KEY": "b"}
    assert isinstance(make_client("openai/gpt-4o-mini", env=env), OpenAIClient)
    assert isinstance(make_client("anthropic/claude-haiku-4-5", env=env), AnthropicClient)
    local = make_client("openai-compatible/llama@http://127.0.0.1:8080/v1", env={})
    assert (local.provider, local.model) == ("openai-compatible", "llama")


def test_missing_key_is_reported_before_any_request() -> None:
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        make_client("anthropic/claude-haiku-4-5", env={})


def test_prices_come_from_the_env_file(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["openai-compatible"."rented-70b"]\ninput = 1.0\noutput = 2.0\n')
    with FakeOpenAIServer([Text("ok", tokens_in=1_000_000, tokens_out=500_000)]) as server:
        client = make_client(
            f"openai-compatible/rented-70b@{server.base_url}", env={"AAR_PRICES": str(prices)}
        )
        assert client.complete(MESSAGES).cost_usd == pytest.approx(2.0)
