"""Parallel researchers on one study (`--researchers N`): a shared hypothesis tree, a findings board,
identical experiments run once, resume, and priors for the next study on the same task and pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from aar.errors import InfraError
from aar.graph.nodes import experiment_key
from aar.graph.runtime import SMOKE_SIZES
from aar.graph.study import resume_study, start_study
from aar.researchers.builtin import LIBRARY_ORDER
from aar.researchers.priors import ordered_by_priors, prior_of
from aar.researchers.untrusted import FENCE_TAG
from aar.store import AgentEvent, Experiment, Hypothesis, Study
from aar.store.findings import list_findings
from tests.graph.conftest import Events, study_config

# Small splits (a weak-to-ceiling gap remains on dev), two seeds, no finalists: seconds per job.
QUICK = {"sizes": "weak_train=200,w2s_train=400,dev=200,test=100", "finalists": 0}


def search_runs(store, study_id: int) -> list[Experiment]:
    with store.session() as session:
        rows = session.exec(select(Experiment).where(Experiment.study_id == study_id)).all()
    return [e for e in rows if e.config.get("role") == "search"]


def run_keys(rows: list[Experiment]) -> list[tuple[str, str]]:
    """Each search experiment's identity: method code hash and hyperparameters."""
    return [(e.method_sha256 or "", experiment_key("", e.config.get("hparams") or {})[1]) for e in rows]


def board(store, study_id: int):
    with store.session() as session:
        return list_findings(session=session, study_id=study_id)


def test_three_builtin_researchers_share_one_study_then_prime_the_next(settings, store, researcher_spy):
    seen, _ = researcher_spy
    config = study_config("team3", researchers=3, per_round=1, max_experiments=3, **QUICK)
    outcome = start_study(config, settings, store, display=Events())
    assert outcome.report_path
    rows = search_runs(store, outcome.study_id)
    keys = run_keys(rows)
    assert len(keys) == len(set(keys)) == 3  # no identical experiment ran twice
    posted = board(store, outcome.study_id)
    assert {f.researcher for f in posted} == {"r1", "r2", "r3"}  # experiments from every researcher
    by_hypothesis = {f.hypothesis_id: f for f in posted}
    assert {e.hypothesis_id for e in rows} <= set(by_hypothesis)  # every run is on the board
    measured = [f for f in posted if f.delta is not None]
    assert measured and all(f.weak_acc and f.ceiling_acc and f.task_fingerprint for f in measured)
    # round 1: each member starts its library walk at its own place, none repeats another's claim
    first_round = [v for v in seen if v.round == 1]
    assert [v.researcher for v in first_round] == [0, 1, 2]
    assert [p.base_method for p in first_round[2].claimed] == ["aux_conf", "weak_ensemble"]
    with store.session() as session:
        events = session.exec(select(AgentEvent).where(AgentEvent.study_id == outcome.study_id)).all()
    assert any(e.message.startswith("[r3] ") and e.data.get("researcher") == "r3" for e in events)
    report = Path(outcome.report_path).read_text()
    assert "Researchers" in report and "r2" in report

    # A second study on the same task and pair (one researcher) reads the board as priors: its walk
    # starts with what helped most there (untried methods before those that hurt), not the library's first.
    shown = [f for f in measured if f.shown_delta is not None]  # priors carry what the researcher saw
    expected = ordered_by_priors(LIBRARY_ORDER, [prior_of(f) for f in shown])[0]
    assert expected != LIBRARY_ORDER[0]  # else this check could not see a change
    seen.clear()
    second = start_study(study_config("after", max_experiments=1, **QUICK), settings, store, display=Events())
    first_view = seen[0]
    assert first_view.priors and {p.study_id for p in first_view.priors} == {outcome.study_id}
    assert sorted(p.delta for p in first_view.priors) == sorted(round(f.shown_delta, 2) for f in shown)
    with store.session() as session:
        hyp = session.exec(
            select(Hypothesis).where(Hypothesis.study_id == second.study_id).order_by(Hypothesis.id)
        ).first()
    assert f"`{expected}`" in hyp.text


def test_a_blind_study_gets_no_priors(settings, store, researcher_spy):
    seen, _ = researcher_spy
    start_study(study_config("dev-first", max_experiments=1, **QUICK), settings, store, display=Events())
    seen.clear()
    blind = study_config("blind", feedback="blind", max_experiments=1, **QUICK)
    start_study(blind, settings, store, display=Events())
    assert seen and all(not v.priors for v in seen)


def test_a_team_study_resumes_after_an_infrastructure_fault(settings, store, monkeypatch):
    from aar.graph import runtime

    real, calls = runtime.run_experiment, []

    def flaky(spec, runner):  # round 2's second search job loses its sandbox: the study fails
        if spec.setup.sizes.w2s_train != SMOKE_SIZES.w2s_train:  # not an audit smoke run
            calls.append(spec.method_name)
            if len(calls) == 4:
                raise InfraError("sandbox lost")
        return real(spec, runner)

    monkeypatch.setattr(runtime, "run_experiment", flaky)
    config = study_config("team-resume", researchers=2, per_round=1, max_experiments=4, **QUICK)
    with pytest.raises(InfraError):
        start_study(config, settings, store, display=Events())
    with store.session() as session:
        study = session.exec(select(Study).where(Study.name == "team-resume")).one()
    before = {e.id: e.status for e in search_runs(store, study.id) if e.status == "ok"}
    monkeypatch.setattr(runtime, "run_experiment", real)
    outcome = resume_study("team-resume", settings, store, display=Events())
    assert outcome.status == "finished"
    rows = search_runs(store, study.id)
    assert all(next(e for e in rows if e.id == i).status == s for i, s in before.items())
    keys = run_keys(rows)
    assert len(keys) == len(set(keys))
    assert len({e.hypothesis_id for e in rows}) == len(rows)  # no hypothesis ran twice
    posted = board(store, study.id)
    assert len({f.hypothesis_id for f in posted}) == len(posted)  # one board row per hypothesis
    assert {f.researcher for f in posted} == {"r1", "r2"}
    assert not any(f.duplicate for f in posted)  # a job finished before the fault is its own, not shared
    with store.session() as session:
        events = session.exec(select(AgentEvent).where(AgentEvent.study_id == study.id)).all()
    assert not any(e.data.get("duplicate") for e in events)  # nor is it called a repeat of itself


def test_identical_proposals_run_once(settings, store, monkeypatch):
    """Two researchers propose the same code with the same hyperparameters in one round: one job."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    from tests.fakes.llm import FakeOpenAIServer, Text
    from tests.graph.test_study_llm import AUX, FINDING, PROPOSAL, STOP

    script = [Text(PROPOSAL), Text(PROPOSAL), Text({"method_code": AUX}), Text({"method_code": AUX}),
              Text(FINDING), Text(STOP), Text(STOP)]  # fmt: skip
    with FakeOpenAIServer(script) as server:
        config = study_config("llm-team", policy="llm", model=f"openai/gpt-4o-mini@{server.base_url}",
                              per_round=1, researchers=2, **QUICK)  # fmt: skip
        outcome = start_study(config, settings, store, display=Events())
        prompts = [json.dumps(r.body["messages"]) for r in server.requests]
    assert outcome.stop_reason.startswith("researcher: r1: enough")
    assert len(search_runs(store, outcome.study_id)) == 1  # the duplicate did not run
    posted = board(store, outcome.study_id)
    assert [(f.researcher, f.duplicate) for f in posted] == [("r1", False), ("r2", True)]
    assert posted[0].experiment_id == posted[1].experiment_id
    # each has its style; the second saw the first's claim, fenced as data
    assert "exploit:" in prompts[0] and "explore:" in prompts[1]
    assert "already proposed" not in prompts[0] and "already proposed" in prompts[1]
    assert "aux_conf" in prompts[1].split("already proposed")[1]

    # the next study on the same task and pair (one LLM researcher) gets the board as priors, fenced
    script = [Text(PROPOSAL), Text({"method_code": AUX}), Text(FINDING), Text(STOP)]
    with FakeOpenAIServer(script) as server:
        config = study_config("llm-next", policy="llm", model=f"openai/gpt-4o-mini@{server.base_url}",
                              per_round=1, **QUICK)  # fmt: skip
        start_study(config, settings, store, display=Events())
        prompt = server.requests[0].body["messages"][-1]["content"]
    assert "exploit:" not in prompt and "already proposed" not in prompt  # alone: no team context
    priors = prompt.split("Findings of earlier studies")[1]
    fenced = priors.split(f"<{FENCE_TAG}>")[1].split(f"</{FENCE_TAG}>")[0]
    assert 'aux_conf {"aux_alpha": 0.5}: Δ PGR' in fenced and "weak 0." in fenced
