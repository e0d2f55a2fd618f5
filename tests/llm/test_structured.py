"""complete_structured: feedback, bounded attempts, and a record of every call (scripted, no HTTP)."""

from __future__ import annotations

import json

import pytest

from aar.errors import AgentError
from aar.llm.base import Message
from aar.llm.errors import LLMUnavailableError, StructuredOutputError
from aar.llm.structured import LLMCallRecord, complete_structured
from tests.fakes.llm import ScriptedLLM
from tests.llm.conftest import GOOD, MESSAGES, OUT_OF_RANGE, Hypothesis


def test_first_valid_reply_is_returned_and_recorded() -> None:
    records: list[LLMCallRecord] = []
    llm = ScriptedLLM([GOOD], tokens_in=11, tokens_out=7, cost_usd=0.5)
    result = complete_structured(llm, MESSAGES, Hypothesis, node="propose", on_call=records.append)
    assert isinstance(result, Hypothesis) and result.title == GOOD["title"]
    (record,) = records
    assert (record.node, record.provider, record.attempt, record.error) == ("propose", "scripted", 1, None)
    assert (record.tokens_in, record.tokens_out, record.cost_usd) == (11, 7, 0.5)
    assert json.loads(record.text) == GOOD


def test_errors_are_fed_back_and_messages_left_alone() -> None:
    original = list(MESSAGES)
    llm = ScriptedLLM(["not json", OUT_OF_RANGE, Hypothesis.model_validate(GOOD)])
    complete_structured(llm, MESSAGES, Hypothesis, node="propose")
    assert original == MESSAGES
    assert [len(call.messages) for call in llm.calls] == [2, 4, 6]
    second, third = llm.calls[1].messages, llm.calls[2].messages
    assert second[2] == Message(role="assistant", content="not json")
    assert "not valid JSON" in second[3].content
    assert "expected_pgr_gain" in third[5].content and third[4].content == json.dumps(OUT_OF_RANGE)


def test_gives_up_after_max_attempts() -> None:
    records: list[LLMCallRecord] = []
    llm = ScriptedLLM(["", "nope"])
    with pytest.raises(StructuredOutputError) as caught:
        complete_structured(llm, MESSAGES, Hypothesis, node="analyze", max_attempts=2, on_call=records.append)
    assert isinstance(caught.value, AgentError)
    assert caught.value.attempts == records and [r.attempt for r in records] == [1, 2]
    assert caught.value.schema_name == "Hypothesis"
    assert llm.calls[1].messages[-2].content == "(empty reply)"


def test_transport_failure_is_recorded_then_raised() -> None:
    records: list[LLMCallRecord] = []
    llm = ScriptedLLM(["nope", LLMUnavailableError("scripted", 503, 5, "down")])
    with pytest.raises(LLMUnavailableError):
        complete_structured(llm, MESSAGES, Hypothesis, node="plan", on_call=records.append)
    assert [r.attempt for r in records] == [1, 2]
    assert records[1].error is not None and records[1].error.startswith(
        "LLMUnavailableError: scripted unavailable"
    )
    assert records[1].tokens_in == 0 and json.loads(records[1].prompt)["messages"][-1]["role"] == "user"


def test_before_call_runs_before_every_attempt_and_can_stop() -> None:
    class BudgetSpent(Exception):
        pass

    checks: list[int] = []

    def check() -> None:
        checks.append(1)
        if len(checks) > 1:
            raise BudgetSpent

    llm = ScriptedLLM(["bad", GOOD])
    with pytest.raises(BudgetSpent):
        complete_structured(llm, MESSAGES, Hypothesis, node="plan", before_call=check)
    assert len(llm.calls) == 1
