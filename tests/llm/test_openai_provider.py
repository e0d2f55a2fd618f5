"""The OpenAI adapter through the real `openai` SDK against a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest

from aar.llm.adapter import AdapterSettings
from aar.llm.errors import LLMAuthError, LLMRequestError, LLMUnavailableError, StructuredOutputError
from aar.llm.openai_provider import OpenAIClient
from aar.llm.retry import RetryPolicy
from aar.llm.structured import LLMCallRecord, complete_structured
from tests.fakes.llm import FakeOpenAIServer, Status, Text
from tests.llm.conftest import GOOD, MESSAGES, OUT_OF_RANGE, Hypothesis

Build = Callable[[str], OpenAIClient]


def test_structured_reply_uses_json_schema_and_is_costed(openai_client: Build) -> None:
    records: list[LLMCallRecord] = []
    with FakeOpenAIServer([Text(GOOD, tokens_in=1000, tokens_out=200)]) as server:
        result = complete_structured(
            openai_client(server.base_url), MESSAGES, Hypothesis, node="propose", on_call=records.append
        )
    assert result == Hypothesis.model_validate(GOOD)
    body = server.requests[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Hypothesis.model_json_schema()
    assert body["max_completion_tokens"] == 4096
    assert body["messages"][0] == {"role": "system", "content": "You are a researcher."}
    assert server.requests[0].headers["authorization"] == "Bearer test-key"
    (record,) = records
    assert (record.node, record.provider, record.model, record.error) == (
        "propose",
        "openai",
        "gpt-4o-mini",
        None,
    )
    assert (record.tokens_in, record.tokens_out) == (1000, 200)
    assert record.cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    assert json.loads(record.prompt)["messages"][1] == {"role": "user", "content": "Propose."}
    assert json.loads(record.response)["choices"][0]["message"]["content"] == json.dumps(GOOD)


def test_unparsable_json_is_fed_back_then_succeeds(openai_client: Build) -> None:
    records: list[LLMCallRecord] = []
    with FakeOpenAIServer([Text("Sure! {title: oops"), Text(f"```json\n{json.dumps(GOOD)}\n```")]) as server:
        result = complete_structured(
            openai_client(server.base_url), MESSAGES, Hypothesis, node="propose", on_call=records.append
        )
    assert result.title == GOOD["title"]
    assert [r.attempt for r in records] == [1, 2]
    assert records[0].error is not None and "not valid JSON" in records[0].error
    retry_messages = server.requests[1].body["messages"]
    assert retry_messages[-2] == {"role": "assistant", "content": "Sure! {title: oops"}
    assert "not valid JSON" in retry_messages[-1]["content"]
    assert sum(r.cost_usd for r in records) == pytest.approx(2 * (100 * 0.15 + 50 * 0.60) / 1e6)


def test_schema_invalid_output_exhausts_attempts(openai_client: Build) -> None:
    records: list[LLMCallRecord] = []
    with FakeOpenAIServer([Text(OUT_OF_RANGE)] * 3) as server, pytest.raises(StructuredOutputError) as caught:
        complete_structured(
            openai_client(server.base_url), MESSAGES, Hypothesis, node="propose", on_call=records.append
        )
    assert len(caught.value.attempts) == 3 and caught.value.attempts == records
    assert "no valid Hypothesis after 3 attempts" in str(caught.value)
    assert all(r.error and "expected_pgr_gain" in r.error for r in records)
    assert (
        "expected_pgr_gain: Input should be less than or equal to 1"
        in server.requests[2].body["messages"][-1]["content"]
    )
    assert len(server.requests[2].body["messages"]) == len(MESSAGES) + 4


def test_rejected_json_schema_falls_back_to_json_mode_and_remembers(openai_client: Build) -> None:
    with FakeOpenAIServer([Text(GOOD), Text(GOOD)], json_schema=False) as server:
        client = openai_client(server.base_url)
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        assert client.structured_mode == "json_object"
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
    kinds = [r.body["response_format"]["type"] for r in server.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]
    system = server.requests[1].body["messages"][0]
    assert system["role"] == "system" and '"expected_pgr_gain"' in system["content"]


def test_server_without_response_format_gets_a_forced_function_call(openai_client: Build) -> None:
    with FakeOpenAIServer([Text(GOOD)], json_schema=False, json_object=False) as server:
        client = openai_client(server.base_url)
        result = complete_structured(client, MESSAGES, Hypothesis, node="propose")
    assert result.expected_pgr_gain == pytest.approx(0.2)
    assert client.structured_mode == "tools"
    last = server.requests[-1].body
    assert "response_format" not in last
    assert last["tools"][0]["function"]["parameters"] == Hypothesis.model_json_schema()
    assert last["tool_choice"] == {"type": "function", "function": {"name": "Hypothesis"}}


def test_429_honours_retry_after(openai_client: Build, sleeps: list[float]) -> None:
    with FakeOpenAIServer([Status(429, retry_after=0.25), Text(GOOD)]) as server:
        complete_structured(openai_client(server.base_url), MESSAGES, Hypothesis, node="propose")
    assert sleeps == [0.25]
    assert len(server.requests) == 2


def test_429_waits_for_real(settings: AdapterSettings) -> None:
    real = AdapterSettings(prices=settings.prices, retry=RetryPolicy(base_delay_s=0.001), timeout_s=10)
    with FakeOpenAIServer([Status(429, retry_after=0.3), Text("hello")]) as server:
        client = OpenAIClient("gpt-4o-mini", api_key="k", base_url=server.base_url, settings=real)
        start = time.monotonic()
        response = client.complete(MESSAGES)
    assert time.monotonic() - start >= 0.3
    assert response.text == "hello" and response.latency_s >= 0.3


def test_500s_until_exhaustion(openai_client: Build, sleeps: list[float]) -> None:
    records: list[LLMCallRecord] = []
    with FakeOpenAIServer([Status(500)] * 5) as server, pytest.raises(LLMUnavailableError) as caught:
        complete_structured(
            openai_client(server.base_url), MESSAGES, Hypothesis, node="propose", on_call=records.append
        )
    assert (caught.value.provider, caught.value.status, caught.value.attempts) == ("openai", 500, 3)
    assert "openai unavailable after 3 attempts" in str(caught.value)
    assert len(server.requests) == 3
    assert sleeps == [pytest.approx(0.01, rel=0.3), pytest.approx(0.02, rel=0.3)]
    (record,) = records
    assert record.error is not None and record.error.startswith("LLMUnavailableError")


def test_connection_refused_is_unavailable(openai_client: Build) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMUnavailableError, match="connection error"):
        openai_client(f"http://127.0.0.1:{port}/v1").complete(MESSAGES)


def test_bad_key_names_the_env_var(openai_client: Build) -> None:
    with (
        FakeOpenAIServer([Status(401, message="Incorrect API key")]) as server,
        pytest.raises(LLMAuthError, match="OPENAI_API_KEY"),
    ):
        openai_client(server.base_url).complete(MESSAGES)


def test_other_client_errors_are_not_retried(openai_client: Build, sleeps: list[float]) -> None:
    with (
        FakeOpenAIServer([Status(404, message="model not found")]) as server,
        pytest.raises(LLMRequestError, match="model not found"),
    ):
        openai_client(server.base_url).complete(MESSAGES)
    assert sleeps == [] and len(server.requests) == 1


def test_openai_compatible_server_is_free_and_uses_max_tokens(settings: AdapterSettings) -> None:
    with FakeOpenAIServer([Text("plain answer", tokens_in=5000, tokens_out=5000)]) as server:
        client = OpenAIClient(
            "qwen2.5-0.5b",
            api_key="x",
            base_url=server.base_url,
            provider="openai-compatible",
            settings=settings,
        )
        response = client.complete(MESSAGES, max_tokens=64, node="plan")
        client.close()
    assert (response.text, response.parsed, response.parse_error) == ("plain answer", None, None)
    assert (response.provider, response.cost_usd, response.tokens_in) == ("openai-compatible", 0.0, 5000)
    assert server.requests[0].body["max_tokens"] == 64
    assert "response_format" not in server.requests[0].body


def test_openai_compatible_gets_the_schema_in_the_prompt_too(settings: AdapterSettings) -> None:
    with FakeOpenAIServer([Text(GOOD)]) as server:
        client = OpenAIClient(
            "llama", api_key="x", base_url=server.base_url, provider="openai-compatible", settings=settings
        )
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        client.close()
    body = server.requests[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert '"expected_pgr_gain"' in body["messages"][0]["content"]
