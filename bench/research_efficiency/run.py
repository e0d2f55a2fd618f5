"""Research efficiency: the builtin researcher against random search and Optuna TPE over the same method
space (library methods × their hyperparameter spaces + lr/epochs), the same experiment budget, several
repetitions. Each experiment is scored on dev (what the strategy sees) and on the sealed test split
(what the score is): a strategy's curve is the test PGR of its incumbent, the configuration with the best
dev PGR so far. Reports how many experiments each needs to come within 0.05 test PGR of the best
incumbent any strategy reached.

Usage: python bench/research_efficiency/run.py [--budget 40] [--reps 5] [--seeds 5] [--task rotten_tomatoes]

Experiments run in-process with the trusted library code (the cost per experiment is the same for every
strategy, so counting experiments is the fair currency).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

import optuna

from aar.config import REPO_ROOT
from aar.graph.nodes import outcome_from
from aar.graph.state import Outcome
from aar.researchers.base import ResearchView
from aar.researchers.builtin import LIBRARY_ORDER, SEARCHED_TEMPLATE_KEYS, BuiltinResearcher, distribution
from aar.w2s.experiment import ExperimentSpec, naive_baseline, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.templates import get_template, method_meta, resolve_method

TEMPLATES = REPO_ROOT / "experiment_templates"
WITHIN = 0.05
optuna.logging.set_verbosity(optuna.logging.WARNING)


class Bench:
    def __init__(self, setup: Setup, seeds: list[int]) -> None:
        self.setup, self.seeds = setup, seeds
        self.library = {m: (TEMPLATES / "methods" / f"{m}.py").read_text() for m in ("naive", *LIBRARY_ORDER)}
        self.spaces = {
            m: method_meta(TEMPLATES / "methods" / f"{m}.py").get("SPACE", {}) for m in LIBRARY_ORDER
        }
        self.template_space = {k: v for k, v in setup.template.space.items() if k in SEARCHED_TEMPLATE_KEYS}
        self._memo: dict[str, Outcome] = {}

    def run(self, method: str, hparams: dict[str, Any]) -> Outcome:
        key = json.dumps([method, hparams], sort_keys=True)
        if key not in self._memo:  # the same configuration is deterministic: run it once for all strategies
            spec = ExperimentSpec(
                self.setup,
                resolve_method(method, TEMPLATES),
                method,
                self.seeds,
                hparams,
                eval_splits=("dev", "test"),
            )
            result = run_experiment(spec)
            outcome = outcome_from(result, len(self._memo), None, "")
            outcome.signals["test_pgr"] = result.estimate("test", "pgr").mean if result.seed_results else None
            self._memo[key] = outcome
        return self._memo[key]

    def space(self, method: str) -> dict[str, Any]:
        return {**self.template_space, **self.spaces.get(method, {})}


PER_ROUND = 3


def builtin(bench: Bench, budget: int, rep: int) -> list[Outcome]:
    """The builtin researcher, rounds numbered one by one (a round that proposes fewer than PER_ROUND
    points must not repeat the last one's TPE seed, and so its proposals)."""
    researcher, history = BuiltinResearcher(seed=rep), []  # type: ignore[var-annotated]
    t = bench.setup.template
    for round_ in range(1, 10 * budget):
        if len(history) >= budget:
            break
        view = ResearchView(
            "bench", "", "", t.name, "dev", round_, PER_ROUND, t.defaults, t.space,
            bench.library, bench.spaces, list(history), None, None,
        )  # fmt: skip
        for p in researcher.propose(view)[: budget - len(history)]:
            history.append(bench.run(p.base_method, p.hparams))
    return history


def sample(rng: random.Random, spec: dict[str, Any]) -> Any:
    """One draw from a space entry: a choice, or uniform on [low, high] (on the log scale when `log`)."""
    if "choices" in spec:
        return rng.choice(spec["choices"])
    low, high = float(spec["low"]), float(spec["high"])
    if spec.get("log") and low > 0:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def random_search(bench: Bench, budget: int, rep: int) -> list[Outcome]:
    rng = random.Random(rep)
    out = []
    for _ in range(budget):
        method = rng.choice(LIBRARY_ORDER)
        out.append(bench.run(method, {k: sample(rng, spec) for k, spec in bench.space(method).items()}))
    return out


def tpe(bench: Bench, budget: int, rep: int) -> list[Outcome]:
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=rep, n_startup_trials=4)
    )
    out = []
    for _ in range(budget):
        trial = study.ask()
        method = trial.suggest_categorical("method", list(LIBRARY_ORDER))
        params = {k: trial._suggest(f"{method}.{k}", distribution(v)) for k, v in bench.space(method).items()}
        o = bench.run(method, params)
        study.tell(trial, o.dev_pgr if o.dev_pgr is not None else -1.0)
        out.append(o)
    return out


def incumbent_test(history: list[Outcome]) -> list[float]:
    """After each experiment, the sealed-test PGR of the configuration with the best dev PGR so far."""
    best: Outcome | None = None
    curve = []
    for o in history:
        if o.dev_pgr is not None and (best is None or o.dev_pgr > (best.dev_pgr or -9.0)):
            best = o
        test = best.signals.get("test_pgr") if best is not None else None
        curve.append(-1.0 if test is None or math.isnan(test) else float(test))
    return curve


def experiments_needed(curve: list[float], target: float) -> int:
    best = -9.0
    for i, v in enumerate(curve, start=1):
        best = max(best, v)
        if best >= target:
            return i
    return len(curve) + 1  # never got there within the budget (censored)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--task", default="rotten_tomatoes")
    parser.add_argument("--pair", default="static64→minilm-l6")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup = Setup(
            args.task, parse_pair(args.pair), get_template("probe", TEMPLATES), cache_dir=Path(tmp) / "cache"
        )
        naive_baseline(setup, list(range(args.seeds)))
        bench = Bench(setup, list(range(args.seeds)))
        curves = {
            name: [incumbent_test(fn(bench, args.budget, rep)) for rep in range(args.reps)]
            for name, fn in (("builtin", builtin), ("random", random_search), ("tpe", tpe))
        }
    best = max(v for runs in curves.values() for curve in runs for v in curve)
    lines = [f"Task {args.task}, pair {args.pair}, {args.seeds} seeds per experiment, budget {args.budget} experiments, {args.reps} repetitions; "
             f"best incumbent's sealed-test PGR reached by any strategy: {best:.3f}; target: within {WITHIN} of it.", "",
             "| strategy | experiments needed (per repetition) | mean | final incumbent's test PGR (mean) |", "| --- | --- | --- | --- |"]  # fmt: skip
    means = {}
    for name, runs in curves.items():
        needed = [experiments_needed(c, best - WITHIN) for c in runs]
        means[name] = statistics.mean(needed)
        lines.append(
            f"| {name} | {needed} | {means[name]:.1f} | {statistics.mean(c[-1] for c in runs):.3f} |"
        )
    lines += ["", f"builtin / random = {means['builtin'] / means['random']:.2f} (target ≤ 0.5); builtin / TPE = {means['builtin'] / means['tpe']:.2f} (target ≤ 0.75).",
              f"Distinct configurations run: {len(bench._memo)}. A value of budget+1 means the target was not reached (censored)."]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
