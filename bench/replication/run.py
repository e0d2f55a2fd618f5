"""Replication benchmark: weak, ceiling, naive and auxiliary-confidence PGR on the offline tasks.

Usage: python bench/replication/run.py [--seeds 5] [--out bench/replication/README.md]

For each task and pair it runs the library methods with the same seeds, prints a Markdown table with
means and 95% CIs (paired bootstrap over seeds and sealed-test examples, aar/w2s/stats.py), compares
each method with naive on the same seeds and examples, checks whether each method's sealed-test PGR lies
inside its dev CI (and by how much it misses), and measures cold vs warm time (the second experiment on
a setup must reuse embeddings, weak labels and ceiling).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from aar.config import REPO_ROOT
from aar.errors import UserError
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, naive_baseline, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.templates import get_template, resolve_method

TEMPLATES = REPO_ROOT / "experiment_templates"
GRID = [
    ("rotten_tomatoes", "static64→minilm-l3"),
    ("rotten_tomatoes", "static64→minilm-l6"),
    ("boolq", "static64→minilm-l3"),
    ("boolq", "static64→minilm-l6"),
    ("privacy_qa", "static64→minilm-l6"),
]
METHODS = ("aux_conf", "product", "confident_filter", "weak_ensemble", "bootstrap", "early_stop", "low_rank")


def fmt(est) -> str:  # type: ignore[no-untyped-def]
    return est.describe()


def has_intermediate(pair: str) -> bool:
    try:
        parse_pair(pair).with_default_intermediate()
    except UserError:
        return False
    return True


def dev_covers_test(r: ExperimentResult) -> str:
    """Whether the sealed-test PGR lies inside the dev CI; else by how much it misses."""
    dev, test = r.estimate("dev", "pgr"), r.estimate("test", "pgr").mean
    if any(v != v for v in (dev.lo, dev.hi, test)):  # NaN: no CI or a degenerate gap
        return "n/a"
    if dev.lo <= test <= dev.hi:
        return "inside"
    return f"misses by {min(abs(test - dev.lo), abs(test - dev.hi)):.3f}"


def run_cell(
    task: str, pair: str, seeds: list[int], cache: Path, methods: tuple[str, ...] = METHODS
) -> tuple[list[str], dict]:
    setup = Setup(task, parse_pair(pair), get_template("probe", TEMPLATES), cache_dir=cache)
    t0 = time.monotonic()
    naive = naive_baseline(setup, seeds)
    cold = time.monotonic() - t0
    results: dict[str, ExperimentResult] = {"naive": naive}
    warm_times = []
    for method in methods:
        if method == "bootstrap" and not has_intermediate(pair):
            continue
        t0 = time.monotonic()
        try:
            results[method] = run_experiment(
                ExperimentSpec(setup, resolve_method(method, TEMPLATES), method, seeds)
            )
        except Exception as exc:  # a bench cell that cannot run is reported, not hidden
            print(f"{task} {pair} {method}: {exc}")
            continue
        warm_times.append(time.monotonic() - t0)
    rows = []
    split = "test"
    for method, r in results.items():
        cmp = "" if method == "naive" else r.compare(naive, split).describe()
        degenerate = sum(1 for s in r.seed_results if s.splits[split].pgr is None)
        pgr_text = fmt(r.estimate(split, "pgr"))
        if degenerate:
            pgr_text += f" ({degenerate}/{len(seeds)} seeds degenerate)"
        rows.append(
            f"| {task} | {pair} | {method} | {fmt(r.estimate(split, 'weak_acc'))} | {fmt(r.estimate(split, 'ceiling_acc'))} "
            f"| {fmt(r.estimate(split, 'w2s_acc'))} | {pgr_text} | {fmt(r.estimate('dev', 'pgr'))} | {dev_covers_test(r)} | {cmp} |"
        )
    timing = {
        "cold_s": cold,
        "warm_s": min(warm_times) if warm_times else float("nan"),
        "n_seeds": len(seeds),
    }
    return rows, timing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--tasks",
        default="rotten_tomatoes,boolq,privacy_qa",
        help="comma-separated subset of the grid's tasks",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated library methods")
    parser.add_argument("--pairs", default="", help="comma-separated subset of the grid's pairs")
    parser.add_argument(
        "--cache", type=Path, default=None, help="reuse this cache (default: a fresh one; cold timings)"
    )
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    methods = tuple(m for m in args.methods.split(",") if m)
    grid = [
        (t, p)
        for t, p in GRID
        if t in args.tasks.split(",") and (not args.pairs or p in args.pairs.split(","))
    ]
    lines = [
        "| task | pair | method | weak acc | ceiling acc | w2s acc | test PGR [95% CI] | dev PGR [95% CI] | test in dev CI | vs naive (paired: same seeds, same examples) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    timings = {}
    with tempfile.TemporaryDirectory(prefix="aar-bench-") as tmp:
        for task, pair in grid:
            rows, timing = run_cell(task, pair, seeds, args.cache or Path(tmp) / "cache", methods)
            lines += rows
            timings[f"{task} {pair}"] = timing
            print("\n".join(rows), flush=True)
    lines += [
        "",
        "| setup | cold (baselines + embeddings + naive) s | warm experiment s | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for name, t in timings.items():
        lines.append(f"| {name} | {t['cold_s']:.1f} | {t['warm_s']:.1f} | {t['cold_s'] / t['warm_s']:.1f}× |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
