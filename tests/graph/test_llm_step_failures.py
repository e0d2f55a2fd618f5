"""One failure policy for every LLM step: propose, implement, analyze and decide each retry an invalid reply
with its validation error shown to the model, show it on the terminal, store it, and end in a recorded
failure (an event flagged `failed`) — never a swallowed default or a crash. An LLM that cannot be reached
raises `aar.errors.LLMUnreachableError` (the study fails). The real LLM researcher, the real `openai` SDK,
a scripted HTTP server on 127.0.0.1 and the real nodes, on a real store."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import select

from aar.config import Settings
from aar.errors import LLMUnreachableError
from aar.graph.nodes import analyze, decide, implement, propose
from aar.graph.runtime import Runtime
from aar.graph.state import Candidate, Outcome, Proposal, StudyState
from aar.graph.study import build_runtime
from aar.store import AgentEvent, Experiment, Hypothesis, LLMCall, Store, StudyCreate, create_study
from tests.fakes.llm import FakeOpenAIServer, Text
from tests.graph.conftest import Events, study_config

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
# Three replies the model never gets right: not JSON, then JSON of the wrong shape twice.
INVALID = [Text("Sure, here is my answer: none"), Text({"wrong": 1}), Text({"still": "wrong"})]


@pytest.fixture(autouse=True)
def _llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("AAR_LLM_RETRY_BASE_S", "0.01")
    monkeypatch.setenv("AAR_LLM_RETRY_ATTEMPTS", "2")


def make_runtime(settings: Settings, store: Store, base_url: str, shown: Events) -> Runtime:
    """A runtime for an LLM study on tiny splits, with one hypothesis and one (failed) experiment row."""
    config = study_config(
        "llm-steps", policy="llm", model=f"openai/gpt-4o-mini@{base_url}", sizes=TINY, feedback="blind"
    )
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name="llm-steps", goal="g", task=config.task, pair=config.pair, policy="llm"))  # fmt: skip
        study_id = int(study.id or 0)
        session.add(Hypothesis(id=1, study_id=study_id, text="a softer loss"))
        session.flush()
        session.add(Experiment(id=7, study_id=study_id, number=1, hypothesis_id=1, template="probe"))
    return build_runtime(config, settings, store, study_id, shown, None)


def state_for(rt: Runtime, status: str) -> StudyState:
    """A round with one candidate in `status`; a finished one has its (failed) outcome."""
    candidate = Candidate(hypothesis_id=1, proposal=Proposal(text="a softer loss"), status=status)
    outcome = Outcome(hypothesis_id=1, experiment_id=7, method="m", status="failed", error="boom")
    outcomes = [outcome] if status == "done" else []
    return StudyState(
        config=rt.config, study_id=rt.study_id, round=1, candidates=[candidate], outcomes=outcomes
    )


# node -> (how to call it, what its update must say about the failure)
Step = Callable[[Runtime], dict[str, Any]]
STEPS: dict[str, tuple[Step, Callable[[dict[str, Any]], bool]]] = {
    "propose": (
        lambda rt: propose(state_for(rt, "pending"), rt),
        lambda u: u["stop_reason"].startswith("propose failed: no valid Proposals after 3 attempts"),
    ),
    "implement": (
        lambda rt: implement(state_for(rt, "pending"), rt),
        lambda u: (
            u["candidates"][0].status == "failed"
            and u["candidates"][0].observations[-1].startswith("implement failed: no valid MethodCode")
        ),
    ),
    "analyze": (
        lambda rt: analyze(state_for(rt, "done"), rt),
        lambda u: "stop_reason" not in u,
    ),
    "decide": (
        lambda rt: decide(state_for(rt, "done"), rt),
        lambda u: u == {},  # no valid decision: the study goes on (its limits still end it)
    ),
}


@pytest.fixture()
def scripted(settings: Settings, store: Store) -> Iterator[tuple[FakeOpenAIServer, Runtime, Events]]:
    shown = Events()
    with FakeOpenAIServer(INVALID) as server:
        yield server, make_runtime(settings, store, server.base_url, shown), shown


@pytest.mark.parametrize("node", list(STEPS))
def test_invalid_replies_are_retried_then_a_recorded_failure(
    node: str, scripted: tuple[FakeOpenAIServer, Runtime, Events], store: Store
) -> None:
    server, rt, shown = scripted
    call, says_failed = STEPS[node]
    update = call(rt)
    assert says_failed(update), update
    # Retried with the validation error shown to the model.
    assert len(server.requests) == 3 and server.remaining == 0
    assert "not valid JSON" in server.requests[1].body["messages"][-1]["content"]
    assert "does not match" in server.requests[2].body["messages"][-1]["content"]
    # Every invalid reply stored with its error, and shown on the terminal (truncated) with it.
    with store.session() as session:
        calls = session.exec(select(LLMCall).where(LLMCall.study_id == rt.study_id)).all()
        events = session.exec(select(AgentEvent).where(AgentEvent.study_id == rt.study_id)).all()
    assert [(c.node, c.error is not None) for c in calls] == [(node, True)] * 3
    invalid = [m for n, m in shown.lines if n == node and m.startswith("invalid reply")]
    assert len(invalid) == 3
    assert "not valid JSON" in invalid[0] and "Sure, here is my answer" in invalid[0]
    # Then one recorded failure, the same in every node.
    failed = [e for e in events if e.data.get("failed")]
    assert [(e.node, e.message.split(":")[0]) for e in failed] == [(node, f"{node} failed")]
    assert (node, failed[0].message) in shown.lines


def test_analyze_failure_is_the_hypothesis_finding(
    scripted: tuple[FakeOpenAIServer, Runtime, Events], store: Store
) -> None:
    _, rt, _ = scripted
    analyze(state_for(rt, "done"), rt)
    with store.session() as session:
        hypothesis = session.get(Hypothesis, 1)
    assert hypothesis is not None and hypothesis.finding is not None
    assert hypothesis.finding.startswith("(analyze failed: no valid Finding after 3 attempts")


def test_long_invalid_reply_is_truncated_on_the_terminal(settings: Settings, store: Store) -> None:
    shown = Events()
    with FakeOpenAIServer([Text("x" * 5000)] * 3) as server:
        rt = make_runtime(settings, store, server.base_url, shown)
        decide(state_for(rt, "done"), rt)
    line = next(m for n, m in shown.lines if m.startswith("invalid reply"))
    assert len(line) < 1000 and "(5000 chars in all)" in line


def test_unreachable_llm_fails_the_step_with_the_study_failing_error(
    settings: Settings, store: Store
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rt = make_runtime(settings, store, f"http://127.0.0.1:{port}/v1", Events())
    with pytest.raises(LLMUnreachableError, match="unavailable after 2 attempts"):
        propose(state_for(rt, "pending"), rt)
