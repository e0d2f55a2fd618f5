"""The Anthropic adapter through the real `anthropic` SDK against a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from aar.llm.anthropic_provider import AnthropicClient
from aar.llm.errors import LLMAuthError, LLMUnavailableError, StructuredOutputError
from aar.llm.structured import LLMCallRecord, complete_structured
from tests.fakes.llm import FakeAnthropicServer, Status, Text, ToolCall
from tests.llm.conftest import GOOD, MESSAGES, OUT_OF_RANGE, Hypothesis

Build = Callable[[str], AnthropicClient]


def test_structured_reply_is_a_forced_tool_call(anthropic_client: Build) -> None:
    records: list[LLMCallRecord] = []
    with FakeAnthropicServer([ToolCall(GOOD, tokens_in=2000, tokens_out=300)]) as server:
        result = complete_structured(
            anthropic_client(server.base_url), MESSAGES, Hypothesis, node="propose", on_call=records.append
        )
    assert result == Hypothesis.model_validate(GOOD)
    request = server.requests[0]
    assert request.path == "/v1/messages"
    assert "test-key" in (request.headers.get("x-api-key", "") + request.headers.get("authorization", ""))
    body = request.body
    assert body["system"] == "You are a researcher."
    assert body["messages"] == [{"role": "user", "content": "Propose."}]
    assert body["tools"][0]["input_schema"] == Hypothesis.model_json_schema()
    assert body["tools"][0]["description"] == "A hypothesis to test."
    assert body["tool_choice"] == {"type": "tool", "name": "Hypothesis"}
    (record,) = records
    assert (record.provider, record.model, record.tokens_in, record.tokens_out) == (
        "anthropic",
        "claude-haiku-4-5",
        2000,
        300,
    )
    assert record.cost_usd == pytest.approx((2000 * 1 + 300 * 5) / 1e6)
    assert json.loads(record.response)["content"][0]["type"] == "tool_use"


def test_invalid_tool_input_is_fed_back_then_succeeds(anthropic_client: Build) -> None:
    records: list[LLMCallRecord] = []
    with FakeAnthropicServer([ToolCall(OUT_OF_RANGE), ToolCall(GOOD)]) as server:
        result = complete_structured(
            anthropic_client(server.base_url), MESSAGES, Hypothesis, node="propose", on_call=records.append
        )
    assert result.title == GOOD["title"]
    assert [r.error is None for r in records] == [False, True]
    retry = server.requests[1].body["messages"]
    assert retry[1] == {"role": "assistant", "content": json.dumps(OUT_OF_RANGE)}
    assert retry[2]["role"] == "user" and "less than or equal to 1" in retry[2]["content"]


def test_unparsable_text_reply_exhausts_attempts(anthropic_client: Build) -> None:
    with (
        FakeAnthropicServer([Text("I'd rather chat.")] * 2) as server,
        pytest.raises(StructuredOutputError) as caught,
    ):
        complete_structured(
            anthropic_client(server.base_url), MESSAGES, Hypothesis, node="plan", max_attempts=2
        )
    assert [r.attempt for r in caught.value.attempts] == [1, 2]
    assert all("not valid JSON" in (r.error or "") for r in caught.value.attempts)


def test_rejected_tools_fall_back_to_json_text(anthropic_client: Build) -> None:
    with FakeAnthropicServer([Text(f"```json\n{json.dumps(GOOD)}\n```"), Text(GOOD)], tools=False) as server:
        client = anthropic_client(server.base_url)
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        assert client.structured_mode == "json_object"
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
    assert ["tools" in r.body for r in server.requests] == [True, False, False]
    assert '"expected_pgr_gain"' in server.requests[1].body["system"]


def test_overloaded_then_success(anthropic_client: Build, sleeps: list[float]) -> None:
    with FakeAnthropicServer([Status(529), Status(429, retry_after=1), ToolCall(GOOD)]) as server:
        complete_structured(anthropic_client(server.base_url), MESSAGES, Hypothesis, node="propose")
    assert len(server.requests) == 3
    assert sleeps[0] == pytest.approx(0.01, rel=0.3) and sleeps[1] == 1.0


def test_500s_until_exhaustion(anthropic_client: Build) -> None:
    with FakeAnthropicServer([Status(503)] * 3) as server, pytest.raises(LLMUnavailableError) as caught:
        anthropic_client(server.base_url).complete(MESSAGES)
    assert (caught.value.provider, caught.value.status, caught.value.attempts) == ("anthropic", 503, 3)


def test_bad_key_names_the_env_var(anthropic_client: Build) -> None:
    with (
        FakeAnthropicServer([Status(401, message="invalid x-api-key")]) as server,
        pytest.raises(LLMAuthError, match="ANTHROPIC_API_KEY"),
    ):
        anthropic_client(server.base_url).complete(MESSAGES)


def test_plain_completion(anthropic_client: Build) -> None:
    with FakeAnthropicServer([Text("hi there")]) as server:
        response = anthropic_client(server.base_url).complete(MESSAGES, max_tokens=10)
    assert (response.text, response.parsed, response.parse_error) == ("hi there", None, None)
    assert "tools" not in server.requests[0].body and server.requests[0].body["max_tokens"] == 10
