"""Test PGR of each library method on an offline task (issue 12): the numbers in README's method table.

Runs every method in-process (library code is trusted) on the default splits of the probe template,
static64 -> MiniLM-L6 (`--pair` for another), with the weak supervisor calibrated (`auto`) unless a row
says otherwise. One JSON line per (method, calibration) to stdout, appended as each finishes:

    python bench/methods/measure.py --task rotten_tomatoes --seeds 3 [--methods naive,aux_conf]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from aar.w2s.baselines import weak_labels
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.stats import Estimate
from aar.w2s.templates import get_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "experiment_templates"
METHODS = TEMPLATES / "methods"
OLD_AUX = Path(__file__).with_name("aux_conf_old.py")
# (label, method file, calibration): aux_conf_old is the library's aux_conf before issue 12 (prior = the
# batch's mean weak soft label), run on the uncalibrated weak labels it was written for.
ROWS: list[tuple[str, Path, str, dict[str, Any]]] = [
    ("naive", METHODS / "naive.py", "auto", {}),
    ("naive", METHODS / "naive.py", "none", {}),
    ("aux_conf_old", OLD_AUX, "none", {}),
    ("aux_conf_old", OLD_AUX, "auto", {}),
    ("aux_conf", METHODS / "aux_conf.py", "auto", {}),
    ("aux_conf", METHODS / "aux_conf.py", "auto", {"prior": "calibrated_mean"}),
    ("knn_denoise", METHODS / "knn_denoise.py", "auto", {}),
    ("denoised_aux_conf", METHODS / "denoised_aux_conf.py", "auto", {}),
    ("strong_ensemble", METHODS / "strong_ensemble.py", "auto", {}),
    ("self_train", METHODS / "self_train.py", "auto", {}),
    ("low_rank", METHODS / "low_rank.py", "auto", {}),
    ("low_rank", METHODS / "low_rank.py", "auto", {"rank_rounds": 0}),
    ("low_rank", METHODS / "low_rank.py", "auto", {"rank": 16}),
]


def covers(dev: Estimate, test: float) -> float | None:
    """0.0 when the sealed-test PGR lies inside the dev CI, else how far outside it lies; None: no CI."""
    if any(math.isnan(v) for v in (dev.lo, dev.hi, test)):
        return None
    return 0.0 if dev.lo <= test <= dev.hi else round(min(abs(test - dev.lo), abs(test - dev.hi)), 4)


def measure(
    task: str, seeds: int, cache: Path, only: set[str], sizes: SplitSizes, pair: str = "static64→minilm-l6"
) -> None:
    naive: dict[str, ExperimentResult] = {}  # calibration -> the naive row's result, for paired deltas
    for label, method, calibration, overrides in ROWS:
        if only and label not in only:
            continue
        setup = Setup(task, parse_pair(pair), get_template("probe", TEMPLATES),
                      sizes, cache_dir=cache, calibration=calibration)  # fmt: skip
        started = time.monotonic()
        result = run_experiment(ExperimentSpec(setup, method, label, list(range(seeds)), overrides))
        est, dev = result.estimate("test", "pgr"), result.estimate("dev", "pgr")
        if label == "naive":
            naive[calibration] = result
        base = naive.get(calibration)
        delta = result.compare(base, "test").diff if base is not None and label != "naive" else None
        row = {
            "task": task, "pair": pair, "method": label, "overrides": overrides, "calibration": calibration, "seeds": seeds,
            "chosen": [weak_labels(setup, s).calibration for s in range(seeds)],
            "status": result.status, "test_pgr": est.mean, "ci": [est.lo, est.hi],
            "dev_pgr": dev.mean, "dev_ci": [dev.lo, dev.hi], "test_outside_dev_ci_by": covers(dev, est.mean),
            "vs_naive_test": None if delta is None else [delta.mean, delta.lo, delta.hi],
            "seconds": round(time.monotonic() - started),
            "method_sha256": hashlib.sha256(method.read_bytes()).hexdigest()[:12],
            **{m: result.estimate("test", m).mean for m in ("weak_acc", "ceiling_acc", "w2s_acc")},
        }  # fmt: skip
        print(json.dumps(row), flush=True)


def main() -> None:
    torch.set_num_threads(1)  # one thread a process: on a busy machine more threads only spin
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="rotten_tomatoes")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--pair", default="static64→minilm-l6", help="weak→strong (default static64→minilm-l6)"
    )
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "cache")
    parser.add_argument("--methods", default="", help="comma-separated labels (default: every row)")
    parser.add_argument(
        "--sizes", default="", help="split sizes, e.g. weak_train=500,test=700 (default: default)"
    )
    args = parser.parse_args()
    only = set(filter(None, args.methods.split(",")))
    measure(args.task, args.seeds, args.cache, only, SplitSizes.parse(args.sizes), args.pair)


if __name__ == "__main__":
    main()
