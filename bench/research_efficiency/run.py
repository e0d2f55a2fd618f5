"""Research efficiency: the builtin researcher against random search and Optuna TPE over the same method
space (library methods × their hyperparameter spaces + lr/epochs), the same experiment budget, several
repetitions. Each experiment is scored on dev (what the strategy sees) and on the sealed test split
(what the score is): a strategy's curve is the test PGR of its incumbent, the configuration with the best
dev PGR so far. Reports how many experiments each needs to come within 0.05 test PGR of the best
incumbent any strategy reached.

Usage: python bench/research_efficiency/run.py [--budget 40] [--reps 5] [--seeds 5] [--task rotten_tomatoes]
    [--sizes weak_train=1000,w2s_train=3000,dev=1500,test=1500] [--strategies builtin,random,tpe]
    [--cache FILE] [--out FILE]

Experiments run in-process with the trusted library code and one torch thread (the cost per experiment is
the same for every strategy, so counting experiments is the fair currency). With `--cache FILE` every
measured experiment is appended to FILE (JSON lines, keyed by task, pair, sizes, seeds, method, its code
and hyperparameters), so a later or interrupted run reuses it: rerunning one strategy after its search
changed costs only the configurations it had not proposed before.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import torch

from aar.config import REPO_ROOT
from aar.graph.nodes import outcome_from
from aar.graph.state import Outcome
from aar.researchers.base import ResearchView
from aar.researchers.builtin import LIBRARY_ORDER, SEARCHED_TEMPLATE_KEYS, BuiltinResearcher, distribution
from aar.w2s.cache import file_hash
from aar.w2s.experiment import ExperimentSpec, naive_baseline, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template, method_meta, resolve_method

TEMPLATES = REPO_ROOT / "experiment_templates"
WITHIN = 0.05
DEFAULT_SIZES = "weak_train=1000,w2s_train=3000,dev=1500,test=1500"  # issue 12: dev >= 1,500
optuna.logging.set_verbosity(optuna.logging.WARNING)


def log(line: str) -> None:
    """A progress line on stderr (the report goes to stdout and --out)."""
    print(time.strftime("%H:%M:%S"), line, file=sys.stderr, flush=True)


class OutcomeCache:
    """Measured experiments on disk, one JSON object a line ({"key": ..., "outcome": ...}), appended as
    they finish: a run that stops half-way loses nothing, and a later run with the same setup reuses them."""

    def __init__(self, path: Path | None) -> None:
        self.path, self.rows = path, {}
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["key"]] = Outcome.model_validate(row["outcome"])

    def get(self, key: str) -> Outcome | None:
        return self.rows.get(key)

    def put(self, key: str, outcome: Outcome) -> None:
        self.rows[key] = outcome
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps({"key": key, "outcome": outcome.model_dump(mode="json")}) + "\n")


class Bench:
    def __init__(self, setup: Setup, seeds: list[int], cache: OutcomeCache | None = None) -> None:
        self.setup, self.seeds = setup, seeds
        self.library = {m: (TEMPLATES / "methods" / f"{m}.py").read_text() for m in ("naive", *LIBRARY_ORDER)}
        self.spaces = {
            m: method_meta(TEMPLATES / "methods" / f"{m}.py").get("SPACE", {}) for m in LIBRARY_ORDER
        }
        self.template_space = {k: v for k, v in setup.template.space.items() if k in SEARCHED_TEMPLATE_KEYS}
        self.cache = cache or OutcomeCache(None)
        self._memo: dict[str, Outcome] = {}
        self.ran = 0  # experiments measured by this process (the rest came from the cache)

    def key(self, method: str, hparams: dict[str, Any]) -> str:
        """What makes an experiment's result: the data side, the seeds, the method's code and settings."""
        s = self.setup
        code = file_hash(
            resolve_method(method, TEMPLATES), s.template.runner, s.template.dir.parent / "common.py"
        )
        return json.dumps(
            {"task": s.task, "pair": s.pair.name, "template": s.template.name, "sizes": s.sizes.as_dict(),
             "split_seed": s.split_seed, "calibration": s.calibration, "seeds": self.seeds,
             "method": method, "code": code, "hparams": hparams},
            sort_keys=True,
        )  # fmt: skip

    def run(self, method: str, hparams: dict[str, Any]) -> Outcome:
        key = json.dumps([method, hparams], sort_keys=True)
        if key not in self._memo:  # the same configuration is deterministic: run it once for all strategies
            disk_key = self.key(method, hparams)
            outcome = self.cache.get(disk_key)
            if outcome is None:
                started = time.monotonic()
                outcome = self._measure(method, hparams)
                self.cache.put(disk_key, outcome)
                self.ran += 1
                log(f"  ran {method} {hparams} in {time.monotonic() - started:.0f}s: dev {_fmt(outcome.dev_pgr)} "
                    f"test {_fmt(outcome.signals.get('test_pgr'))}")  # fmt: skip
            self._memo[key] = outcome.model_copy(update={"experiment_id": len(self._memo)})
        return self._memo[key]

    def _measure(self, method: str, hparams: dict[str, Any]) -> Outcome:
        spec = ExperimentSpec(
            self.setup, resolve_method(method, TEMPLATES), method, self.seeds, hparams,
            eval_splits=("dev", "test"), threads=1,
        )  # fmt: skip
        result = run_experiment(spec)
        outcome = outcome_from(result, len(self._memo), None, "")
        test = result.estimate("test", "pgr") if result.seed_results else None
        outcome.signals["test_pgr"] = test.mean if test is not None else None
        outcome.signals["test_pgr_lo"] = test.lo if test is not None else None
        outcome.signals["test_pgr_hi"] = test.hi if test is not None else None
        return outcome

    def space(self, method: str) -> dict[str, Any]:
        return {**self.template_space, **self.spaces.get(method, {})}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


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


STRATEGIES: dict[str, Callable[[Bench, int, int], list[Outcome]]] = {
    "builtin": builtin, "random": random_search, "tpe": tpe,
}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--task", default="rotten_tomatoes")
    parser.add_argument("--pair", default="static64→minilm-l6")
    parser.add_argument("--sizes", type=SplitSizes.parse, default=SplitSizes.parse(DEFAULT_SIZES))
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated subset")
    parser.add_argument(
        "--cache", type=Path, default=None, help="JSON-lines outcome cache (read and appended)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=REPO_ROOT / "results" / "cache", help="embeddings, baselines"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if unknown := [s for s in args.strategies if s not in STRATEGIES]:
        parser.error(f"unknown strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)}")
    return args


def run_strategies(
    bench: Bench,
    names: list[str],
    budget: int,
    reps: int,
    done: Callable[[dict[str, list[list[Outcome]]]], None],
) -> dict[str, list[list[Outcome]]]:
    """Every repetition of every strategy, repetition by repetition (so a run stopped early still has
    complete repetitions of each strategy); `done` gets the histories after each repetition."""
    histories: dict[str, list[list[Outcome]]] = {n: [] for n in names}
    for rep in range(reps):
        for name in names:
            log(
                f"{name} rep {rep + 1}/{reps} (measured so far: {bench.ran}, cached: {len(bench.cache.rows)})"
            )
            histories[name].append(STRATEGIES[name](bench, budget, rep))
        done(histories)
    return histories


def padded(curve: list[float], budget: int) -> list[float]:
    return curve + [curve[-1] if curve else -1.0] * (budget - len(curve))


def report(
    args: argparse.Namespace, bench: Bench, histories: dict[str, list[list[Outcome]]], naive: Outcome
) -> str:
    """The markdown result: experiments to the target per strategy and repetition, their ratios, and the
    final incumbents' sealed-test PGR against naive's."""
    curves = {n: [padded(incumbent_test(h), args.budget) for h in hs] for n, hs in histories.items()}
    best = max(v for runs in curves.values() for curve in runs for v in curve)
    sizes = ", ".join(f"{k}={v}" for k, v in args.sizes.as_dict().items())
    reps = len(next(iter(curves.values())))
    lines = [f"Task {args.task}, pair {args.pair}, sizes {sizes}, {args.seeds} seeds per experiment, budget {args.budget} experiments, {reps} repetitions; "
             f"best incumbent's sealed-test PGR reached by any strategy: {best:.3f}; target: within {WITHIN} of it.", "",
             "| strategy | experiments needed (per repetition) | mean | final incumbent's test PGR (per repetition) | mean [min, max] |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    means = {}
    for name, runs in curves.items():
        needed = [experiments_needed(c, best - WITHIN) for c in runs]
        means[name] = statistics.mean(needed)
        finals = [c[-1] for c in runs]
        lines.append(f"| {name} | {needed} | {means[name]:.1f} | {[round(v, 3) for v in finals]} | "
                     f"{statistics.mean(finals):.3f} [{min(finals):.3f}, {max(finals):.3f}] |")  # fmt: skip
    lines.append("")
    if "builtin" in means:
        ratios = [
            f"builtin / {o} = {means['builtin'] / means[o]:.2f} (target ≤ {t})"
            for o, t in (("random", 0.5), ("tpe", 0.75))
            if o in means
        ]
        lines += ["; ".join(ratios) + "." if ratios else ""]  # fmt: skip
        lines += incumbents(histories["builtin"], naive)
    lines += [f"Distinct configurations: {len(bench._memo)} ({bench.ran} measured by this run, the rest from the cache). "
              "A value of budget+1 means the target was not reached (censored)."]  # fmt: skip
    return "\n".join(lines)


def incumbents(histories: list[list[Outcome]], naive: Outcome) -> list[str]:
    """Each repetition's final builtin incumbent (best dev PGR) with its sealed-test PGR and CI, against
    naive's test PGR and CI (same seeds, same splits)."""
    s = naive.signals
    lines = [f"Naive: test PGR {_fmt(s.get('test_pgr'))} [{_fmt(s.get('test_pgr_lo'))}, {_fmt(s.get('test_pgr_hi'))}], "
             f"dev PGR {_fmt(naive.dev_pgr)}.", "", "| rep | builtin incumbent | dev PGR | test PGR [CI] | CI clear of naive's |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for rep, history in enumerate(histories):
        done = [o for o in history if o.dev_pgr is not None and not math.isnan(o.dev_pgr)]
        if not done:
            lines.append(f"| {rep} | none | | | |")
            continue
        o = max(done, key=lambda x: x.dev_pgr or -9.0)
        t = o.signals
        clear = (t.get("test_pgr_lo") or -9.0) > (s.get("test_pgr_hi") or 9.0)
        lines.append(f"| {rep} | {o.method} {json.dumps(o.hparams, sort_keys=True)} | {_fmt(o.dev_pgr)} | "
                     f"{_fmt(t.get('test_pgr'))} [{_fmt(t.get('test_pgr_lo'))}, {_fmt(t.get('test_pgr_hi'))}] | {'yes' if clear else 'no'} |")  # fmt: skip
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)  # one of the machine's cores; trusted in-process jobs share this process
    setup = Setup(args.task, parse_pair(args.pair), get_template("probe", TEMPLATES), sizes=args.sizes,
                  cache_dir=args.cache_dir)  # fmt: skip
    seeds = list(range(args.seeds))
    naive_baseline(setup, seeds)
    bench = Bench(setup, seeds, OutcomeCache(args.cache))
    naive = bench.run("naive", {})

    def write(histories: dict[str, list[list[Outcome]]]) -> None:
        if args.out:  # after each repetition: a run stopped early leaves its complete repetitions
            args.out.write_text(report(args, bench, histories, naive) + "\n")

    print(report(args, bench, run_strategies(bench, args.strategies, args.budget, args.reps, write), naive))


if __name__ == "__main__":
    main()
