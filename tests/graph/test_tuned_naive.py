"""Tuned naive (issue 12 item 3): naive's lr/epochs tuned on dev with as many trials as the study's winner
had, picked by dev PGR, scored on the sealed test; the winner's verdict is judged against it. Real
trusted baseline jobs on a tiny split; constructed results where a pick or a verdict is checked alone."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from sqlmodel import select

from aar.config import Settings
from aar.graph.control import StopRequested
from aar.graph.finalize import vs_tuned
from aar.graph.runtime import Runtime
from aar.graph.study import build_runtime, create_study_row
from aar.graph.tuned_naive import MAX_TRIALS, ROLE, Trial, TunedNaive, trial_count, tune_naive
from aar.researchers.types import Fidelity, Outcome
from aar.store import BudgetCharge, Experiment, Store
from aar.w2s.experiment import ExperimentResult, SeedResult, SplitScores
from tests.graph.conftest import Events, study_config

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
WEAK, CEILING = 0.6, 0.8


def outcome(method: str, n: int, fidelity: Fidelity | None = None) -> Outcome:
    return Outcome(
        hypothesis_id=1,
        experiment_id=n,
        method=method,
        status="ok",
        hparams={"lr": n / 1000},
        fidelity=fidelity,
    )


def test_naive_gets_the_winners_trial_count_every_fidelity_capped() -> None:
    low = Fidelity(rung=0, seeds=2, w2s_fraction=1 / 3)
    runs = [outcome("aux_conf", i) for i in range(3)] + [outcome("aux_conf", 3, fidelity=low)]
    runs += [outcome("aux_conf", 0), outcome("product", 9)]  # a repeat of a configuration; another method
    assert trial_count(runs, runs[0]) == 4
    many = [outcome("aux_conf", i) for i in range(10)]
    assert trial_count(many, many[0]) == MAX_TRIALS == 6
    assert trial_count([], outcome("aux_conf", 1)) == 1  # never below one trial: the defaults


def result(dev: list[float], test: list[float]) -> ExperimentResult:
    """A finished result with these dev and test PGRs per seed (accuracy follows from PGR)."""

    def scores(p: float) -> SplitScores:
        return SplitScores(WEAK, CEILING, WEAK + p * (CEILING - WEAK), 0.5, p, [])

    seeds = [
        SeedResult(i, {"dev": scores(d), "test": scores(t)})
        for i, (d, t) in enumerate(zip(dev, test, strict=True))
    ]
    return ExperimentResult("t", "a→b", "probe", "naive", list(range(len(dev))), {}, "ok", 0.0, seeds)


def test_the_pick_is_made_on_dev_never_on_test() -> None:
    tuned = TunedNaive(wanted=3, trials=[
        Trial({"lr": 0.003, "epochs": 10}, result([0.10] * 5, [0.10] * 5)),
        Trial({"lr": 0.001, "epochs": 20}, result([0.30] * 5, [0.05] * 5)),  # best on dev
        Trial({"lr": 0.009, "epochs": 2}, result([0.20] * 5, [0.60] * 5)),  # best on the sealed test
    ])  # fmt: skip
    assert tuned.best is not None and tuned.best.hparams == {"lr": 0.001, "epochs": 20}
    assert tuned.summary()["picked"] == {"lr": 0.001, "epochs": 20}


def test_the_verdict_is_judged_against_the_tuned_naive() -> None:
    winner = result([0.5] * 5, [0.40, 0.42, 0.38, 0.41, 0.39])
    defaults = Trial({"lr": 0.003}, result([0.1] * 5, [0.0, 0.02, -0.01, 0.01, 0.0]))  # winner beats it
    tuned = TunedNaive(
        wanted=3, trials=[defaults, Trial({"lr": 0.001}, result([0.3] * 5, [0.39, 0.43, 0.37, 0.42, 0.38]))]
    )
    out = vs_tuned(winner, tuned)
    assert out["verdict"] == "inside noise" and out["test_vs_tuned_naive"].endswith(": inside noise")
    assert out["tuned_naive_trials"] == [2, 3]
    assert vs_tuned(None, tuned) == {}  # a skipped finalist has no Δ


@pytest.fixture()
def runtime(results_env: Path, shared_cache: Path, store: Store) -> Runtime:
    """A study's runtime on the shared cache (weak, ceiling and the default naive are cached after the
    first run), less any tuned naive trial a run before left there: those jobs really run."""
    for old in (shared_cache / "baselines").glob("naive-tuned-*.npz"):
        old.unlink(missing_ok=True)
    config = study_config("tuned", sizes=TINY, seeds=2, per_round=1, finalists=1, max_experiments=6)
    settings = Settings()
    study_id = create_study_row(config, settings, store)
    return build_runtime(config, settings, store, study_id, Events(), None)


def winners_trials(n: int) -> list[Outcome]:
    return [outcome("aux_conf", i) for i in range(n)]


@pytest.mark.slow  # two tuned naive jobs in subprocesses (+ the cached baselines' first run): ~30 s loaded
def test_tuned_naive_runs_the_winners_trial_count_and_picks_by_dev(runtime: Runtime) -> None:
    rt = runtime
    runs = winners_trials(3)
    tuned = tune_naive(rt, runs, runs[0], [0, 1])
    assert tuned.wanted == len(tuned.trials) == 3 and tuned.stopped == ""
    defaults = {k: rt.setup.template.defaults[k] for k in ("lr", "epochs")}
    assert tuned.trials[0].hparams == defaults  # the study's own naive first
    assert len({tuple(sorted(t.hparams.items())) for t in tuned.trials}) == 3  # distinct points
    best = tuned.best
    assert best is not None and best.dev_pgr == max(t.dev_pgr for t in tuned.trials)
    with rt.store.session() as session:
        rows = list(session.exec(select(Experiment).where(Experiment.study_id == rt.study_id)).all())
        charges = list(session.exec(select(BudgetCharge).where(BudgetCharge.study_id == rt.study_id)).all())
    recorded = [r for r in rows if r.config.get("role") == ROLE]
    assert [r.id for r in recorded] == [tuned.experiment_id] and recorded[0].config["tuning"]["ran"] == 3
    assert {k: recorded[0].config["hparams"][k] for k in best.hparams} == best.hparams
    tuned_jobs = [c for c in charges if (c.key or "").startswith("baseline:") and "'lr'" in c.what_for]
    assert len(tuned_jobs) == 2 and all(c.kind == "device_seconds" for c in tuned_jobs)  # not experiments
    assert not [c for c in charges if c.kind == "experiments"]


def test_no_trial_starts_past_the_deadline_or_after_a_stop(runtime: Runtime) -> None:
    rt = runtime
    rt.budget.limits = dataclasses.replace(rt.budget.limits, deadline=time.time() + 3)  # < one trial
    runs = winners_trials(4)
    tuned = tune_naive(rt, runs, runs[0], [0, 1])
    assert tuned.trials == [] and tuned.stopped.startswith("deadline:") and tuned.experiment_id is None
    assert any("tuned naive: no usable trial (0 of 4 ran) (deadline:" in m for _, m in rt.display.lines)  # type: ignore[attr-defined]
    rt.budget.limits = dataclasses.replace(rt.budget.limits, deadline=None)

    def stop() -> None:
        raise StopRequested("stopped by aar stop")

    rt.check_stop = stop
    assert tune_naive(rt, runs, runs[0], [0, 1]).stopped == "stopped: stopped by aar stop"
