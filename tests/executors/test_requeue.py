"""The runtime's side of a lost node, without a cluster: a job that ends `interrupted` runs once more; lost
twice it ends `killed` (a final state the store records), never a third time. The runner is the real
local one, preceded by the losses an executor reports (the real loss, on a real Ray node, is in
test_ray_cluster.py)."""

from __future__ import annotations

from pathlib import Path

from aar.config import Settings
from aar.graph.runtime import Runtime
from aar.graph.study import build_runtime
from aar.recording import finish_record, start_record
from aar.scheduler import RunnerFactory
from aar.store import Experiment, StudyCreate, create_study
from aar.w2s.experiment import ExperimentSpec, JobRunner
from aar.w2s.jobs import JobOutcome
from tests.graph.conftest import Events, study_config

LOST = "interrupted: its Ray node was lost (NodeDiedError: the test's node)"
NAIVE = Path(__file__).parents[2] / "experiment_templates" / "methods" / "naive.py"


def _runtime(settings: Settings, store, events: Events) -> Runtime:  # type: ignore[no-untyped-def]
    config = study_config("requeue", sizes="weak_train=48,w2s_train=96,dev=32,test=32", seeds=1)
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name=config.name, goal="g", task=config.task, pair=config.pair, policy="builtin"))  # fmt: skip
    return build_runtime(config, settings, store, int(study.id or 0), events, None)


def _losing(real: RunnerFactory, losses: int, calls: list[int]) -> RunnerFactory:
    """`real`'s runners, but the first `losses` jobs end as a lost node ends them."""

    def factory(devices: tuple[str, ...], timeout_s: float = 3600.0) -> JobRunner:
        inner = real(devices, timeout_s)

        def run(code: Path, data: Path, out: Path) -> JobOutcome:
            calls.append(1)
            if len(calls) <= losses:
                return JobOutcome("interrupted", None, 1.0, LOST, "ray")
            return inner(code, data, out)

        return run

    return factory


def _spec(rt: Runtime) -> ExperimentSpec:
    return ExperimentSpec(rt.smoke_setup, NAIVE, "naive", [0], {"epochs": 1}, eval_splits=("dev",), threads=1)


def test_an_interrupted_job_runs_once_more(settings: Settings, store):  # type: ignore[no-untyped-def]
    events, calls = Events(), []
    rt = _runtime(settings, store, events)
    rt.runner_for = _losing(rt.runner_for, 1, calls)
    result = rt.run(_spec(rt))
    assert result.status == "ok" and len(calls) == 2 and result.seed_results
    assert [m for _, m in events.lines if "requeued once" in m] == [f"naive: {LOST}; requeued once"]


def test_lost_twice_it_ends_killed_and_is_recorded(settings: Settings, store):  # type: ignore[no-untyped-def]
    events, calls = Events(), []
    rt = _runtime(settings, store, events)
    rt.runner_for = _losing(rt.runner_for, 5, calls)
    spec = _spec(rt)
    exp_id = start_record(rt.store, study_id=rt.study_id, spec=spec, sandbox_kind="ray")
    result = rt.run(spec)
    finish_record(rt.store, experiment_id=exp_id, result=result)  # a final state: the store takes it
    assert len(calls) == 2 and result.status == "killed" and "node was lost twice" in result.error
    with store.session() as session:
        row = session.get(Experiment, exp_id)
        assert row is not None and row.status == "killed" and "lost twice" in (row.error or "")
