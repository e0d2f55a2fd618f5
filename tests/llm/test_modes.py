"""Structured-output modes through the real SDKs against fake servers: detected, remembered, forced."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable

import pytest

from aar.errors import LLMUnreachableError
from aar.llm import LLMConfigError, complete_structured
from aar.llm.adapter import AdapterSettings
from aar.llm.anthropic_provider import AnthropicClient
from aar.llm.errors import LLMAuthError, LLMRequestError, LLMUnavailableError, StructuredModeRejected
from aar.llm.modes import names_mode, parse_mode
from aar.llm.openai_provider import OpenAIClient
from tests.fakes.llm import FakeAnthropicServer, FakeOpenAIServer, Status, Text
from tests.llm.conftest import GOOD, MESSAGES, Hypothesis


def local(base_url: str, settings: AdapterSettings) -> OpenAIClient:
    """An `openai-compatible` client, as for a llama.cpp or vLLM server."""
    return OpenAIClient(
        "qwen2.5-0.5b", api_key="x", base_url=base_url, provider="openai-compatible", settings=settings
    )


def formats(server: FakeOpenAIServer) -> list[str]:
    """What each request asked for: a response_format type, or tools."""
    return [
        "tools" if "tools" in r.body else (r.body.get("response_format") or {}).get("type", "text")
        for r in server.requests
    ]


def test_llama_cpp_500_on_json_schema_switches_to_json_object_and_remembers(
    settings: AdapterSettings, sleeps: list[float]
) -> None:
    with FakeOpenAIServer([Text(GOOD), Text(GOOD)], json_schema=False, reject_status=500) as server:
        client = local(server.base_url, settings)
        first = complete_structured(client, MESSAGES, Hypothesis, node="propose")
        assert client.structured_mode == "json_object"
        second = complete_structured(client, MESSAGES, Hypothesis, node="decide")
        client.close()
    assert first == second == Hypothesis.model_validate(GOOD)
    # One rejected json_schema request, not five: a mode rejection is no transient failure.
    assert formats(server) == ["json_schema", "json_object", "json_object"]
    assert sleeps == []


def test_each_rejected_mode_is_tried_once_then_tools(settings: AdapterSettings, sleeps: list[float]) -> None:
    with FakeOpenAIServer([Text(GOOD)], json_schema=False, json_object=False, reject_status=500) as server:
        client = local(server.base_url, settings)
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        client.close()
    assert formats(server) == ["json_schema", "json_object", "tools"]
    assert client.structured_mode == "tools" and sleeps == []


def test_a_500_that_names_no_format_is_still_transient(
    settings: AdapterSettings, sleeps: list[float]
) -> None:
    with FakeOpenAIServer([Status(500, message="CUDA out of memory"), Text(GOOD)]) as server:
        client = local(server.base_url, settings)
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        client.close()
    assert formats(server) == ["json_schema", "json_schema"]
    assert client.structured_mode == "json_schema" and len(sleeps) == 1


@pytest.mark.parametrize("mode", ["json_object", "tools"])
def test_forced_mode_is_the_first_and_only_one_asked(settings: AdapterSettings, mode: str) -> None:
    forced = dataclasses.replace(settings, structured=parse_mode(mode))
    with FakeOpenAIServer([Text(GOOD), Text(GOOD)]) as server:
        client = local(server.base_url, forced)
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        client.close()
    assert formats(server) == [mode, mode]


def test_forced_mode_rejected_is_reported_not_stepped_down(
    settings: AdapterSettings, sleeps: list[float]
) -> None:
    forced = dataclasses.replace(settings, structured="json_schema")
    with FakeOpenAIServer([Text(GOOD)], json_schema=False, reject_status=500) as server:
        client = local(server.base_url, forced)
        with pytest.raises(StructuredModeRejected) as caught:
            complete_structured(client, MESSAGES, Hypothesis, node="propose")
        client.close()
    assert formats(server) == ["json_schema"] and sleeps == []
    message = str(caught.value)
    assert "HTTP 500" in message and "was forced" in message and "--llm-structured" in message
    assert isinstance(caught.value, LLMUnreachableError)  # the study cannot use its LLM: it fails


def test_anthropic_rejecting_tools_with_500_moves_to_json_object(
    anthropic_client: Callable[[str], AnthropicClient], sleeps: list[float]
) -> None:
    with FakeAnthropicServer([Text(GOOD), Text(GOOD)], tools=False, reject_status=500) as server:
        client = anthropic_client(server.base_url)
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
    assert ["tools" in r.body for r in server.requests] == [True, False, False]
    assert client.structured_mode == "json_object" and sleeps == []


def test_anthropic_cannot_be_forced_to_json_schema(settings: AdapterSettings) -> None:
    with pytest.raises(
        LLMConfigError, match="anthropic does not support structured-output mode 'json_schema'"
    ):
        AnthropicClient(
            "claude-haiku-4-5",
            api_key="k",
            settings=dataclasses.replace(settings, structured="json_schema"),
        )


def test_unknown_mode_is_a_user_error() -> None:
    with pytest.raises(LLMConfigError, match="use auto, json_schema, json_object, tools"):
        parse_mode("grammar")
    assert parse_mode("auto") is None and parse_mode("tools") == "tools"


def test_names_mode() -> None:
    llama = 'response_format type must be one of "text" or "json_object", but got: json_schema'
    assert names_mode(llama, "json_schema")
    assert names_mode("tools are not supported by this server", "tools")
    assert not names_mode("CUDA out of memory", "json_schema")
    assert not names_mode("context length exceeded", "tools")


def test_unreachable_llm_raises_the_study_failing_error(settings: AdapterSettings) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = local(f"http://127.0.0.1:{port}/v1", settings)
    with pytest.raises(LLMUnreachableError) as caught:
        complete_structured(client, MESSAGES, Hypothesis, node="propose")
    client.close()
    assert isinstance(caught.value, LLMUnavailableError) and caught.value.attempts == 3


def test_every_way_an_llm_cannot_be_used_is_the_same_error() -> None:
    assert issubclass(LLMUnavailableError, LLMUnreachableError)
    assert issubclass(LLMRequestError, LLMUnreachableError)
    assert issubclass(LLMAuthError, LLMUnreachableError) and LLMAuthError.exit_code == 2
