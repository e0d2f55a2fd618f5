"""The LLM researcher driving real studies: the official SDKs talk HTTP to scripted fake servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from aar.errors import LLMUnreachableError
from aar.graph.study import start_study
from aar.llm import LLMUnavailableError
from aar.store import AgentEvent, Experiment, LLMCall, Study
from tests.conftest import TEMPLATES
from tests.fakes.llm import FakeAnthropicServer, FakeOpenAIServer, Status, Text, ToolCall
from tests.graph.conftest import Events, study_config

AUX = (TEMPLATES / "methods" / "aux_conf.py").read_text()
PROPOSAL = {"hypotheses": [{"text": "A softer auxiliary confidence loss helps", "rationale": "alpha 0.75 overfits",
                            "expected_effect": "+0.05 PGR", "base_method": "aux_conf", "hparams": {"aux_alpha": 0.5}}]}  # fmt: skip
FINDING = {"finding": "aux_conf at alpha 0.5 is above naive, inside the noise."}
STOP = {"action": "stop", "reason": "enough for this budget"}


@pytest.fixture(autouse=True)
def _llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("AAR_LLM_RETRY_BASE_S", "0.01")
    monkeypatch.setenv("AAR_LLM_RETRY_ATTEMPTS", "3")


def run_llm_study(settings, store, server, name: str, **overrides):
    overrides = {"finalists": 0, **overrides}  # finalist checks are covered by the builtin study tests
    config = study_config(
        name, policy="llm", model=f"openai/gpt-4o-mini@{server.base_url}", per_round=1, **overrides
    )
    return start_study(config, settings, store, display=Events())


def llm_calls(store, study_id: int) -> list[LLMCall]:
    with store.session() as session:
        return list(
            session.exec(select(LLMCall).where(LLMCall.study_id == study_id).order_by(LLMCall.id)).all()
        )


def events(store, study_id: int) -> list[AgentEvent]:
    with store.session() as session:
        return list(session.exec(select(AgentEvent).where(AgentEvent.study_id == study_id)).all())


def test_happy_study_over_the_openai_sdk(settings, store):
    script = [Text(PROPOSAL), Text({"method_code": AUX}), Text(FINDING), Text(STOP)]
    with FakeOpenAIServer(script) as server:
        outcome = run_llm_study(settings, store, server, "llm-happy", finalists=1)
        assert server.requests[0].body["response_format"]["type"] == "json_schema"
    assert outcome.stop_reason == "researcher: enough for this budget"
    calls = llm_calls(store, outcome.study_id)
    assert [c.node for c in calls] == ["propose", "implement", "analyze", "decide"]
    assert all(
        c.tokens_in == 100 and c.tokens_out == 50 and c.prompt_sha256 and c.response_sha256 for c in calls
    )
    assert sum(c.cost_usd for c in calls) > 0  # priced from the table
    assert store.get_artifact(calls[1].response_sha256)  # replies are kept for audit
    with store.session() as session:
        search = session.exec(select(Experiment).where(Experiment.study_id == outcome.study_id)).all()
    assert any(
        e.config.get("role") == "search" and e.status == "ok" and e.config["hparams"]["aux_alpha"] == 0.5
        for e in search
    )


def test_unparsable_then_schema_invalid_replies_are_retried_with_the_error(settings, store):
    script = [Text("this is not json"), Text({"hypotheses": [{"text": 3}]}), Text(PROPOSAL),
              Text({"method_code": AUX}), Text(FINDING), Text(STOP)]  # fmt: skip
    with FakeOpenAIServer(script) as server:
        outcome = run_llm_study(settings, store, server, "llm-retry")
        retry_prompt = str(server.requests[1].body["messages"][-1])
        third = str(server.requests[2].body["messages"][-1])
    assert "JSON" in retry_prompt or "json" in retry_prompt
    assert "hypotheses" in third or "field" in third.lower()
    calls = llm_calls(store, outcome.study_id)
    assert [c.error is not None for c in calls[:3]] == [True, True, False]


def test_code_that_fails_the_audit_or_crashes_goes_back_to_implement(settings, store):
    bad_static = (
        "import os\ndef loss(logits, weak_p, progress, ctx):\n    os.system('id')\n    return logits.sum()\n"
    )
    crashing = "def loss(logits, weak_p, progress, ctx):\n    raise RuntimeError('boom inside the sandbox')\n"
    script = [Text(PROPOSAL), Text({"method_code": bad_static}), Text({"method_code": crashing}),
              Text({"method_code": AUX}), Text(FINDING), Text(STOP)]  # fmt: skip
    with FakeOpenAIServer(script) as server:
        outcome = run_llm_study(settings, store, server, "llm-audit", audit_retries=3)
        implement_prompts = [str(r.body["messages"]) for r in server.requests[1:4]]
    audits = [e.message for e in events(store, outcome.study_id) if e.node == "audit"]
    assert any("static audit" in m and "import of 'os'" in m for m in audits)
    assert any("smoke run failed" in m and "boom inside the sandbox" in m for m in audits)
    assert "is not allowed" in implement_prompts[1] and "boom inside the sandbox" in implement_prompts[2]
    assert any(m.endswith("passed") for m in audits)


def test_study_runs_out_of_dollars_mid_round(settings, store):
    big = [
        Text(PROPOSAL, tokens_in=200_000, tokens_out=100_000),
        Text({"method_code": AUX}),
        Text(FINDING),
        Text(STOP),
    ]
    with FakeOpenAIServer(big) as server:
        outcome = run_llm_study(settings, store, server, "llm-broke", max_usd=0.05)
    assert outcome.stop_reason == "budget: usd"
    calls = llm_calls(store, outcome.study_id)
    assert len(calls) == 1  # the second call was refused before it was made
    with store.session() as session:
        study = session.exec(select(Study).where(Study.id == outcome.study_id)).one()
    assert study.status == "finished" and study.stop_reason == "budget: usd"
    assert study.report_sha256 and Path(outcome.report_path).is_file()


def test_provider_errors_are_retried_then_fail_clearly(settings, store):
    with FakeOpenAIServer([Status(429, retry_after=0.01), Status(500), Status(500), Status(500)]) as server:
        with pytest.raises(LLMUnavailableError, match="after 3 attempts") as caught:
            run_llm_study(settings, store, server, "llm-down")
        assert len(server.requests) == 3
    assert isinstance(caught.value, LLMUnreachableError)  # the error the study loop records as failed
    with store.session() as session:
        study = session.exec(select(Study).where(Study.name == "llm-down")).one()
    assert study.status == "failed"
    assert (
        study.stop_reason and "LLMUnavailableError: openai unavailable after 3 attempts" in study.stop_reason
    )


def test_happy_study_over_the_anthropic_sdk(settings, store):
    script = [ToolCall(PROPOSAL), ToolCall({"method_code": AUX}), ToolCall(FINDING), ToolCall(STOP)]
    with FakeAnthropicServer(script) as server:
        config = study_config(
            "llm-anthropic",
            policy="llm",
            model=f"anthropic/claude-haiku-4-5@{server.base_url}",
            per_round=1,
            finalists=0,
        )
        outcome = start_study(config, settings, store, display=Events())
        assert server.requests[0].body["tool_choice"]["type"] == "tool"
    assert outcome.stop_reason == "researcher: enough for this budget"
    assert [c.provider for c in llm_calls(store, outcome.study_id)] == ["anthropic"] * 4
