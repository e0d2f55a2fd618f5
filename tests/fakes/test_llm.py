"""The fakes themselves: the scripted client's script forms and the servers' edge cases."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.llm import FakeAnthropicServer, FakeOpenAIServer, ScriptedCall, ScriptedLLM, Status, Text
from tests.llm.conftest import GOOD, MESSAGES, Hypothesis


def test_script_per_node() -> None:
    llm = ScriptedLLM({"plan": ["p1", "p2"], "propose": [GOOD]})
    assert llm.complete(MESSAGES, node="plan").text == "p1"
    assert llm.complete(MESSAGES, node="propose", schema=Hypothesis).parsed == Hypothesis.model_validate(GOOD)
    assert llm.complete(MESSAGES, node="plan").text == "p2"
    with pytest.raises(LookupError, match="node 'propose'"):
        llm.complete(MESSAGES, node="propose")


def test_script_as_function() -> None:
    llm = ScriptedLLM(lambda call: f"{call.node}:{len(call.messages)}")
    assert llm.complete(MESSAGES, node="decide").text == "decide:2"
    assert llm.calls == [ScriptedCall(MESSAGES, None, "decide")]


def test_scripted_invalid_reply_carries_the_error() -> None:
    response = ScriptedLLM([{"title": 1}]).complete(MESSAGES, schema=Hypothesis)
    assert response.parsed is None and response.parse_error and "rationale" in response.parse_error


def test_exhausted_server_script_is_a_500() -> None:
    with FakeOpenAIServer([]) as server:
        reply = httpx.post(f"{server.base_url}/chat/completions", json={"model": "m", "messages": []})
    assert reply.status_code == 500 and "script exhausted" in reply.json()["error"]["message"]


def test_unknown_path_is_a_404_and_recorded() -> None:
    with FakeAnthropicServer([Text("x")]) as server:
        reply = httpx.post(f"{server.base_url}/v1/complete", json={})
    assert reply.status_code == 404 and server.requests[0].path == "/v1/complete"
    assert server.remaining == 1


def test_status_step_sends_retry_after() -> None:
    with FakeAnthropicServer([Status(429, retry_after=2)]) as server:
        reply = httpx.post(f"{server.base_url}/v1/messages", json={})
    assert reply.headers["retry-after"] == "2" and reply.json()["error"]["type"] == "rate_limit_error"


def test_base_url_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="context manager"):
        _ = FakeOpenAIServer([]).base_url
