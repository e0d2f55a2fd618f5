"""The deadline covers everything: a job that outlives it is killed and recorded, and a study with a short
deadline ends within it (finalize's time reserved up front) with its report."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlmodel import select

from aar.budget import Limits
from aar.config import Settings
from aar.graph.runtime import Runtime
from aar.graph.study import build_runtime, start_study
from aar.store import Experiment, Hypothesis, StudyCreate, create_study
from aar.w2s.experiment import ExperimentSpec
from tests.fakes.llm import FakeOpenAIServer, Text
from tests.graph.conftest import Events, study_config

ENDLESS = Path(__file__).parent / "deadline_methods" / "endless.py"
# Bigger than the smoke run's 96 w2s_train texts, so the endless method spins only in real jobs.
SIZES = "weak_train=48,w2s_train=160,dev=32,test=32"


@pytest.fixture(autouse=True)
def _llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("AAR_LLM_RETRY_BASE_S", "0.01")


def runtime_with_deadline(settings: Settings, store, seconds: float) -> Runtime:
    config = study_config("deadline", sizes=SIZES, seeds=1, deadline=time.time() + seconds)
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name="deadline", goal="g", task=config.task, pair=config.pair, policy="builtin"))  # fmt: skip
        study_id = int(study.id or 0)
    return build_runtime(config, settings, store, study_id, Events(), None)


def endless_spec(rt: Runtime) -> ExperimentSpec:
    return ExperimentSpec(rt.setup, ENDLESS, "endless", [0], {"epochs": 1}, eval_splits=("dev",), threads=1)


def test_a_job_that_outlives_the_deadline_is_killed_there(settings, store):
    rt = runtime_with_deadline(settings, store, 3600)
    rt.prepare_baselines([0])  # embeddings and baselines first: the clock starts with the job
    deadline = time.time() + 12
    rt.budget.limits = Limits(deadline=deadline)
    result = rt.run(endless_spec(rt), role="final")  # finalize's jobs run to the deadline itself
    ended = time.time()
    assert result.status == "timeout", result.error
    assert "killed at the study's deadline" in result.error
    assert deadline - 1 <= ended <= deadline + 10  # killed at the deadline (plus the kill's grace)


def test_no_time_left_means_not_started(settings, store):
    rt = runtime_with_deadline(settings, store, 2)
    time.sleep(2)
    started = time.monotonic()
    result = rt.run(endless_spec(rt), role="final")
    assert result.status == "killed" and "not started" in result.error
    assert time.monotonic() - started < 2


PROPOSAL = {"hypotheses": [{"text": "An endless loss", "rationale": "it never returns", "expected_effect": "none",
                            "base_method": "naive", "hparams": {}}]}  # fmt: skip


@pytest.mark.slow
def test_a_short_deadline_ends_the_study_in_time_with_its_report(settings, store):
    """A search job that would run forever is killed where search time ends (finalize's share kept back),
    recorded as timeout, and the study still finalizes and writes its report before the deadline."""
    seconds = 75
    script = [Text(PROPOSAL), Text({"method_code": ENDLESS.read_text()})]
    with FakeOpenAIServer(script) as server:
        config = study_config(
            "short-deadline", policy="llm", model=f"openai/gpt-4o-mini@{server.base_url}", per_round=1,
            finalists=0, sizes=SIZES, seeds=1, deadline=time.time() + seconds,
        )  # fmt: skip
        outcome = start_study(config, settings, store, display=Events())
        ended = time.time()
    # search ended REPORT_S before the deadline (finalize's and the report's share): all done by then
    late = ended - (config.deadline or 0)
    assert late < 0, f"ended {late:.0f}s past the deadline"
    assert outcome.report_path and Path(outcome.report_path).is_file()
    assert outcome.stop_reason == "budget: deadline"
    with store.session() as session:
        rows = session.exec(select(Experiment).where(Experiment.study_id == outcome.study_id)).all()
        hypotheses = session.exec(select(Hypothesis).where(Hypothesis.study_id == outcome.study_id)).all()
    search = [e for e in rows if e.config.get("role") == "search"]
    assert len(search) == 1 and search[0].status == "timeout"
    assert "killed at the study's deadline" in (search[0].error or "")
    assert all(h.finding for h in hypotheses)
