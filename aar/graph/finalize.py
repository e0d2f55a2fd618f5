"""Finalize: the best methods get the sealed test split once each and the integrity checks
(weak-label shuffle ablation, majority-class comparison, seed spread)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from aar.graph.runtime import Runtime
from aar.graph.state import Outcome, StudyState
from aar.recording import record_result
from aar.researchers.base import score_of
from aar.w2s.experiment import ExperimentResult, ExperimentSpec
from aar.w2s.stats import paired_comparison

Update = dict[str, Any]


def finalize(state: StudyState, rt: Runtime) -> Update:
    """Finalists: sealed test once each, weak-label shuffle ablation, label-free and seed-spread checks."""
    feedback = state.config.feedback
    ranked = sorted(
        (o for o in state.outcomes if score_of(o, feedback) is not None),
        key=lambda o: -(score_of(o, feedback) or 0),
    )
    picked: list[Outcome] = []
    for o in ranked:
        if (o.method, json.dumps(o.hparams, sort_keys=True)) not in {
            (p.method, json.dumps(p.hparams, sort_keys=True)) for p in picked
        }:
            picked.append(o)
        if len(picked) >= state.config.finalists:
            break
    finalists = [_finalist(o, state, rt) for o in picked]
    rt.event("finalize", f"{len(finalists)} finalist(s) checked and scored on the sealed test split")
    return {"finalists": finalists}


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
    result = rt.run(spec)
    exp_id = record_result(
        rt.store,
        study_id=rt.study_id,
        result=result,
        method_path=method,
        hypothesis_id=o.hypothesis_id,
        extra_config={"role": role},
    )
    rt.budget.charge(
        "experiments",
        1,
        key=f"experiment:{exp_id}",
        what_for=f"finalist check ({role})",
        experiment_id=exp_id,
    )
    return result, exp_id


def _finalist(o: Outcome, state: StudyState, rt: Runtime) -> dict[str, Any]:
    seeds = list(range(state.config.seeds))
    with tempfile.TemporaryDirectory(prefix="aar-final-") as tmp:
        method = Path(tmp) / "method.py"
        method.write_text(o.code)
        real, real_id = _run_recorded(o, rt, method, seeds, "final")
        shuffled, shuf_id = _run_recorded(o, rt, method, seeds, "ablation:shuffled_weak_labels", "shuffle")
    return _integrity(o, real, shuffled, rt) | {"experiment_id": real_id, "ablation_experiment_id": shuf_id}


def _integrity(o: Outcome, real: ExperimentResult, shuffled: ExperimentResult, rt: Runtime) -> dict[str, Any]:
    flags = []
    if real.status != "ok":
        return {
            "method": o.method,
            "hparams": o.hparams,
            "status": real.status,
            "flags": [f"final run {real.status}"],
        }
    cmp = (
        paired_comparison(real.pgr_by_seed("test"), shuffled.pgr_by_seed("test"))
        if shuffled.status == "ok"
        else None
    )
    if cmp is None or cmp.verdict != "better":
        flags.append("PGR does not depend on the weak labels (shuffled weak labels do as well)")
    y = rt.setup.labels("test")
    majority = max(float(y.mean()), 1 - float(y.mean()))
    w2s = real.estimate("test", "w2s_acc").mean
    if w2s <= majority:
        flags.append(
            f"test accuracy {w2s:.3f} is no better than always predicting the majority class ({majority:.3f})"
        )
    spread = real.estimate("test", "pgr")
    if spread.n >= 2 and spread.std > 0.25:
        flags.append(f"seed spread is wide (PGR std {spread.std:.2f})")
    return {
        "method": o.method, "hparams": o.hparams, "status": "ok", "flags": flags,
        "test_pgr": spread.mean, "test_pgr_ci": [spread.lo, spread.hi], "test_w2s_acc": w2s, "majority_acc": majority,
        "shuffled_test_pgr": shuffled.estimate("test", "pgr").mean if shuffled.status == "ok" else None,
        "vs_shuffled": cmp.describe() if cmp else "shuffled run failed",
    }  # fmt: skip
