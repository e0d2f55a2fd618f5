"""Finalize: the best methods get the sealed test split once each and the integrity checks
(weak-label shuffle ablation, w2s above weak, majority-class comparison, seed spread).

Seed-based checks need at least `MIN_SEEDS` seeds; with fewer they say "inconclusive", never "ok"."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from aar.budget import MIN_WALL_S
from aar.graph.runtime import Runtime
from aar.graph.state import Outcome, StudyState
from aar.graph.tuned_naive import TunedNaive, tune_naive
from aar.recording import base_method_of, record_result
from aar.researchers.base import full_score
from aar.store import HypothesisStatus, update_hypothesis
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, naive_baseline
from aar.w2s.stats import MIN_SEEDS, Estimate, accuracy_delta, bootstrap_ci, t_interval, too_few_seeds

Update = dict[str, Any]


def finalize(state: StudyState, rt: Runtime) -> Update:
    """Finalists: sealed test once each, weak-label shuffle ablation, label-free and seed-spread checks.

    Hypotheses the stop left unrun are recorded as dropped, with the reason. Finalize's jobs run to the
    deadline (search stopped earlier to leave them the time); a finalist with no time left is skipped.
    Then naive is tuned on dev with the winner's trial count (aar/graph/tuned_naive.py, host-side and
    trusted in both feedback modes) and each finalist's sealed-test Δ against it is added."""
    record_dropped(state, rt)
    picked = pick_finalists(state.outcomes, state.config.feedback, state.config.finalists)
    checked: list[tuple[dict[str, Any], ExperimentResult | None]] = []
    for i, o in enumerate(picked, 1):
        if (left := rt.budget.seconds_left()) is not None and left < MIN_WALL_S:
            checked.append((_skipped(o), None))
            continue
        with rt.progress.phase(f"finalize: finalist {i} of {len(picked)} ({o.method})"):
            checked.append(_finalist(o, state, rt))
    rt.event("finalize", f"{len(checked)} finalist(s) checked and scored on the sealed test split")
    finalists = [details for details, _ in checked]
    if any(result is not None and result.status == "ok" for _, result in checked):
        tuned = tune_naive(rt, state.outcomes, picked[0], finalist_seeds(state.config.seeds))
        finalists = [details | vs_tuned(result, tuned) for details, result in checked]
    rt.event("finalize", f"budget: {rt.budget.describe()}")
    return {"finalists": finalists}


def record_dropped(state: StudyState, rt: Runtime) -> None:
    """Every candidate the stop left unrun (not yet implemented, audited or launched) is marked abandoned
    in the store with the reason, so `aar show` and the report say why it has no result."""
    reason = state.stop_reason or "the study stopped"
    for c in state.candidates:
        if c.status in ("done", "failed"):
            continue
        finding = f"dropped before it ran ({c.status}): {reason}"
        with rt.store.session() as session:
            update_hypothesis(
                session=session,
                hypothesis_id=c.hypothesis_id,
                status=HypothesisStatus.ABANDONED,
                finding=finding,
            )
        rt.event("finalize", f"hypothesis {c.hypothesis_id} {finding}", hypothesis_id=c.hypothesis_id)


def _skipped(o: Outcome) -> dict[str, Any]:
    """A finalist the deadline left no time for: named, unscored, flagged."""
    flag = "final checks not run: the study's deadline left no time for them"
    return {"method": o.method, "hparams": o.hparams, "status": "skipped", "flags": [flag]}


def pick_finalists(outcomes: list[Outcome], feedback: str, n: int) -> list[Outcome]:
    """The `n` best distinct configurations by the researcher's score (`score_of`: dev PGR, or a
    label-free signal in blind mode); failed and degenerate (one-class, constant) outcomes never rank,
    nor low-fidelity ones (a multi-fidelity search's low rung: `full_score`)."""
    ranked = sorted(
        (o for o in outcomes if full_score(o, feedback) is not None),
        key=lambda o: -(full_score(o, feedback) or 0),
    )
    picked: list[Outcome] = []
    seen: set[tuple[str, str]] = set()
    for o in ranked:
        if len(picked) >= n:
            break
        key = (o.method, json.dumps(o.hparams, sort_keys=True))
        if key not in seen:
            seen.add(key)
            picked.append(o)
    return picked


def _run_recorded(
    o: Outcome, rt: Runtime, method: Path, seeds: list[int], role: str, transform: str = ""
) -> tuple[ExperimentResult, int]:
    """Run a finalist's code on dev and the sealed test split, record it under `role`, charge it."""
    spec = ExperimentSpec(
        rt.setup,
        method,
        o.method,
        seeds,
        o.hparams,
        eval_splits=("dev", "test"),
        weak_label_transform=transform,
    )
    result = rt.run(spec, role="final")
    exp_id = record_result(
        rt.store,
        study_id=rt.study_id,
        result=result,
        method_path=method,
        hypothesis_id=o.hypothesis_id,
        extra_config={
            "role": role,
            "search_experiment_id": o.experiment_id,
            **base_method_of(rt.store, o.experiment_id),
        },
    )
    rt.budget.charge(
        "experiments",
        1,
        key=f"experiment:{exp_id}",
        what_for=f"finalist check ({role})",
        experiment_id=exp_id,
    )
    return result, exp_id


def finalist_seeds(search_seeds: int) -> list[int]:
    """The seeds a finalist reruns on: the search's (so the naive baseline it is compared with is the
    study's own, cached). Below MIN_SEEDS its checks say "inconclusive"; `--seeds` defaults to MIN_SEEDS."""
    return list(range(search_seeds))


def _finalist(o: Outcome, state: StudyState, rt: Runtime) -> tuple[dict[str, Any], ExperimentResult]:
    """The finalist's checks (its details, stored on its final run) and its sealed-test result."""
    seeds = finalist_seeds(state.config.seeds)
    with tempfile.TemporaryDirectory(prefix="aar-final-") as tmp:
        method = Path(tmp) / "method.py"
        method.write_text(o.code)
        real, real_id = _run_recorded(o, rt, method, seeds, "final")
        shuffled, shuf_id = _run_recorded(o, rt, method, seeds, "ablation:shuffled_weak_labels", "shuffle")
    y = rt.setup.labels("test")
    majority = max(float(y.mean()), 1 - float(y.mean()))
    checked = integrity(o, real, shuffled, majority, naive_baseline(rt.setup, seeds))
    return checked | {"experiment_id": real_id, "ablation_experiment_id": shuf_id}, real


def vs_tuned(real: ExperimentResult | None, tuned: TunedNaive) -> dict[str, Any]:
    """A finalist's sealed-test Δ against the tuned naive (paired over seeds and examples, as against
    naive) and the verdict it carries: "better" is judged against the tuned naive."""
    best = tuned.best
    if real is None or real.status != "ok" or best is None or best.result.status != "ok":
        return {}
    cmp = real.compare(best.result, "test")
    return {
        "test_vs_tuned_naive": cmp.describe(), "test_vs_tuned_naive_ci": [_num(cmp.diff.lo), _num(cmp.diff.hi)],
        "verdict": cmp.verdict, "tuned_naive_experiment_id": tuned.experiment_id,
        "tuned_naive_trials": [len(tuned.trials), tuned.wanted],
    }  # fmt: skip


def integrity(
    o: Outcome,
    real: ExperimentResult,
    shuffled: ExperimentResult,
    majority: float,
    naive: ExperimentResult | None = None,
) -> dict[str, Any]:
    """The finalist's sealed-test numbers and integrity verdicts; `flags` lists what needs a reader's eye.

    `majority` is the sealed test's majority-class rate (what a constant prediction scores); `naive` the
    naive baseline on the same seeds, compared paired on the same sealed-test examples.
    """
    if real.status != "ok":
        return {
            "method": o.method,
            "hparams": o.hparams,
            "status": real.status,
            "flags": [f"final run {real.status}"],
        }
    pgr, w2s = real.estimate("test", "pgr"), real.estimate("test", "w2s_acc")
    checks = {
        "weak_labels": _shuffle_check(real, shuffled),
        "above_weak": _above_weak_check(real),
        "seed_spread": _spread_check(pgr),
    }
    flags = [verdict for verdict in checks.values() if not verdict.startswith("ok")]
    if w2s.mean <= majority:
        flags.append(
            f"test accuracy {w2s.mean:.3f} is no better than always predicting the majority class ({majority:.3f})"
        )
    return {
        "method": o.method, "hparams": o.hparams, "status": "ok", "flags": flags, "checks": checks,
        "test_pgr": _num(pgr.mean), "test_pgr_ci": [_num(pgr.lo), _num(pgr.hi)], "test_w2s_acc": _num(w2s.mean),
        "majority_acc": majority, "test_weak_acc": _num(real.estimate("test", "weak_acc").mean),
        "shuffled_test_pgr": _num(shuffled.estimate("test", "pgr").mean) if shuffled.status == "ok" else None,
        "vs_shuffled": checks["weak_labels"], **_selection(o, real, naive),
    }  # fmt: skip


def _selection(o: Outcome, real: ExperimentResult, naive: ExperimentResult | None) -> dict[str, Any]:
    """Selection-aware numbers: the dev PGR the finalist was picked on beside its sealed-test one (their
    difference is the dev→test drop), and its sealed-test Δ against naive on the same seeds and examples."""
    test = real.estimate("test", "pgr").mean
    out: dict[str, Any] = {
        "dev_pgr": o.dev_pgr, "dev_pgr_ci": [o.dev_pgr_lo, o.dev_pgr_hi],
        "dev_test_drop": None if o.dev_pgr is None or math.isnan(test) else o.dev_pgr - test,
    }  # fmt: skip
    if naive is not None and naive.status == "ok":
        cmp = real.compare(naive, "test")
        out |= {"test_vs_naive": cmp.describe(), "test_vs_naive_ci": [_num(cmp.diff.lo), _num(cmp.diff.hi)]}
    return out


def _shuffle_check(real: ExperimentResult, shuffled: ExperimentResult) -> str:
    """Does test PGR depend on the weak labels? Paired over seeds against the shuffled-labels run."""
    if shuffled.status != "ok":
        return f"weak-label dependence unchecked: the shuffled-weak-labels run ended {shuffled.status}"
    cmp = real.compare(shuffled, "test")
    if cmp.diff.n < MIN_SEEDS:
        return (
            f"weak-label dependence {too_few_seeds(cmp.diff.n)}: real − shuffled PGR Δ {cmp.diff.describe()}"
        )
    if cmp.better:
        return f"ok: PGR depends on the weak labels (real − shuffled {cmp.describe()})"
    return f"PGR not shown to depend on the weak labels: shuffled weak labels do as well (real − shuffled {cmp.describe()})"


def _above_weak_check(real: ExperimentResult) -> str:
    """Is the strong model's sealed-test accuracy above the weak supervisor's? Paired over seeds and
    examples (over seeds only for a result kept without per-example scores)."""
    w2s, weak = real.values("test", "w2s_acc"), real.values("test", "weak_acc")
    c = real.correct("test")
    diff = (
        accuracy_delta(c.w2s, c.weak)
        if c is not None
        else t_interval([a - b for a, b in zip(w2s, weak, strict=True)])
    )
    numbers = (
        f"w2s {bootstrap_ci(w2s).describe()} vs weak {bootstrap_ci(weak).describe()}, Δ {diff.describe()}"
    )
    if diff.n >= MIN_SEEDS and diff.lo > 0:
        return f"ok: sealed-test w2s accuracy is above the weak model's ({numbers})"
    if diff.mean <= 0:
        return f"sealed-test w2s accuracy is not above the weak model's ({numbers})"
    if diff.n >= MIN_SEEDS:
        return f"sealed-test w2s accuracy is not clearly above the weak model's: the CI reaches 0 ({numbers})"
    return f"w2s above weak {too_few_seeds(diff.n)} ({numbers})"


def _spread_check(pgr: Estimate) -> str:
    """Are the seeds' test PGRs close enough to trust one mean?"""
    if pgr.n < MIN_SEEDS:
        return f"seed spread {too_few_seeds(pgr.n)}"
    if pgr.std > 0.25:
        return f"seed spread is wide (PGR std {pgr.std:.2f} over {pgr.n} seeds)"
    return f"ok: seed spread PGR std {pgr.std:.2f} over {pgr.n} seeds"


def _num(value: float) -> float | None:
    """NaN as None: the details are stored as JSON, and PostgreSQL's json type rejects NaN."""
    return None if math.isnan(value) else value
