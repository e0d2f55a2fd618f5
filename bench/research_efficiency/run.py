"""Research efficiency: the builtin researcher against random search and Optuna TPE over the same method
space (library methods × their hyperparameter spaces + lr/epochs), the same experiment budget, several
repetitions. Each experiment is scored on dev (what the strategy sees) and on the sealed test split
(what the score is): a strategy's curve is the test PGR of its incumbent, the configuration with the best
full-fidelity dev PGR so far. Reports how many experiments each needs to come within 0.05 test PGR of
the best incumbent any strategy reached.

The builtin researcher searches multi-fidelity (ASHA, aar/researchers/builtin.py): a new point first runs
on a low rung (fewer seeds, a third of w2s_train) and costs its share of an experiment (seeds used / study
seeds × w2s fraction, aar/w2s/fidelity.py); the best are rerun at full fidelity. Budgets and
experiments-to-target are in these cost units (random search and TPE run every point in full: 1 each),
and a low-rung score never becomes the incumbent. `--no-fidelity` runs the builtin at full fidelity only.

Usage: python bench/research_efficiency/run.py [--budget 40] [--reps 5] [--seeds 5] [--task rotten_tomatoes]
    [--sizes weak_train=1000,w2s_train=3000,dev=1500,test=1500] [--strategies builtin,random,tpe]
    [--no-fidelity] [--cache FILE] [--out FILE]

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
from aar.researchers.types import Fidelity
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
    def __init__(
        self, setup: Setup, seeds: list[int], cache: OutcomeCache | None = None, fidelity: bool = True
    ) -> None:
        self.setup, self.seeds = setup, seeds
        self.fidelity = fidelity  # the builtin may run points on its low rung (False: --no-fidelity)
        self.library = {m: (TEMPLATES / "methods" / f"{m}.py").read_text() for m in ("naive", *LIBRARY_ORDER)}
        self.spaces = {
            m: method_meta(TEMPLATES / "methods" / f"{m}.py").get("SPACE", {}) for m in LIBRARY_ORDER
        }
        self.template_space = {k: v for k, v in setup.template.space.items() if k in SEARCHED_TEMPLATE_KEYS}
        self.cache = cache or OutcomeCache(None)
        self._memo: dict[str, Outcome] = {}
        self.ran = 0  # experiments measured by this process (the rest came from the cache)

    def key(self, method: str, hparams: dict[str, Any], fidelity: Fidelity | None = None) -> str:
        """What makes an experiment's result: the data side, the seeds, the method's code and settings,
        and a low rung's fidelity (absent at full fidelity, so full-fidelity keys stay as they were)."""
        s = self.setup
        code = file_hash(
            resolve_method(method, TEMPLATES), s.template.runner, s.template.dir.parent / "common.py"
        )
        return json.dumps(
            {"task": s.task, "pair": s.pair.name, "template": s.template.name, "sizes": s.sizes.as_dict(),
             "split_seed": s.split_seed, "calibration": s.calibration, "seeds": self.seeds,
             "method": method, "code": code, "hparams": hparams}
            | ({"fidelity": fidelity.model_dump()} if fidelity is not None else {}),
            sort_keys=True,
        )  # fmt: skip

    def run(self, method: str, hparams: dict[str, Any], fidelity: Fidelity | None = None) -> Outcome:
        """The configuration's outcome at `fidelity` (None: full), measured once and shared."""
        fid = fidelity.model_dump() if fidelity is not None else None
        key = json.dumps([method, hparams, fid], sort_keys=True)
        if key not in self._memo:  # the same configuration is deterministic: run it once for all strategies
            disk_key = self.key(method, hparams, fidelity)
            outcome = self.cache.get(disk_key)
            if outcome is None:
                started = time.monotonic()
                outcome = self._measure(method, hparams, fidelity)
                self.cache.put(disk_key, outcome)
                self.ran += 1
                rung = f" ({fidelity.describe()})" if fidelity is not None else ""
                log(f"  ran {method}{rung} {hparams} in {time.monotonic() - started:.0f}s: dev {_fmt(outcome.dev_pgr)} "
                    f"test {_fmt(outcome.signals.get('test_pgr'))}")  # fmt: skip
            self._memo[key] = outcome.model_copy(update={"experiment_id": len(self._memo)})
        return self._memo[key]

    def _measure(self, method: str, hparams: dict[str, Any], fidelity: Fidelity | None) -> Outcome:
        """One experiment, in-process; a low rung takes the first `fidelity.seeds` seeds and the host's
        w2s_train subset, as a study's low-rung job does (aar/graph/nodes.py)."""
        seeds = self.seeds[: fidelity.seeds] if fidelity is not None else self.seeds
        spec = ExperimentSpec(
            self.setup, resolve_method(method, TEMPLATES), method, seeds, hparams, eval_splits=("dev", "test"),
            threads=1, w2s_fraction=fidelity.w2s_fraction if fidelity is not None else 1.0,
        )  # fmt: skip
        result = run_experiment(spec)
        outcome = outcome_from(result, len(self._memo), None, "")
        outcome.fidelity = fidelity
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
EPS = 1e-9  # nine 2/9 low-rung runs add up to 1.9999999999999998: still one experiment


def cost(outcome: Outcome, study_seeds: int) -> float:
    """What an experiment is charged in full-experiment units: a low rung its share, a full run 1."""
    return outcome.fidelity.cost(study_seeds) if outcome.fidelity is not None else 1.0


def builtin(bench: Bench, budget: int, rep: int) -> list[Outcome]:
    """The builtin researcher until its cumulative cost reaches `budget`, rounds numbered one by one (a
    round that proposes fewer than PER_ROUND points must not repeat the last one's TPE seed, and so its
    proposals). The view has the study's seeds and w2s_train rows, so new TPE points start on the low
    rung and are promoted as a study's are (unless `bench.fidelity` is off: every point in full)."""
    researcher, history = BuiltinResearcher(seed=rep), []  # type: ignore[var-annotated]
    t, seeds, spent = bench.setup.template, len(bench.seeds), 0.0
    for round_ in range(1, 20 * budget):
        if spent >= budget - EPS:
            break
        view = ResearchView(
            "bench", "", "", t.name, "dev", round_, PER_ROUND, t.defaults, t.space,
            bench.library, bench.spaces, list(history), None, None,
            seeds=seeds if bench.fidelity else 0, w2s_train_size=bench.setup.sizes.w2s_train,
        )  # fmt: skip
        for p in researcher.propose(view):
            if spent >= budget - EPS:
                break
            history.append(bench.run(p.base_method, p.hparams, p.fidelity))
            spent += cost(history[-1], seeds)
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
    """After each experiment, the sealed-test PGR of the full-fidelity configuration with the best dev
    PGR so far (a low-rung score is never the incumbent: fewer seeds and rows are no method result)."""
    best: Outcome | None = None
    curve = []
    for o in history:
        full = o.fidelity is None and o.dev_pgr is not None
        if full and (best is None or (o.dev_pgr or -9.0) > (best.dev_pgr or -9.0)):
            best = o
        test = best.signals.get("test_pgr") if best is not None else None
        curve.append(-1.0 if test is None or math.isnan(test) else float(test))
    return curve


def spent(history: list[Outcome], study_seeds: int) -> list[float]:
    """The cumulative cost after each experiment (1, 2, 3, ... when every run is full fidelity)."""
    total, out = 0.0, []
    for o in history:
        total += cost(o, study_seeds)
        out.append(round(total, 6))
    return out


def incumbent_at(curve: list[float], costs: list[float], budget: float) -> float:
    """The incumbent's sealed-test PGR once `budget` cost units are spent (-1.0: no incumbent yet)."""
    within = [v for v, c in zip(curve, costs, strict=True) if c <= budget + EPS]
    return within[-1] if within else -1.0


ANYTIME = (10, 20, 30, 40)  # cost points of the anytime comparison (not censored, unlike the target)


def experiments_needed(
    curve: list[float], target: float, costs: list[float] | None = None, budget: float | None = None
) -> float:
    """The cumulative cost (default: the count of experiments) at which the curve first reaches `target`;
    budget + 1 (default: len(curve) + 1) when it never does (censored)."""
    costs = costs if costs is not None else [float(i) for i in range(1, len(curve) + 1)]
    best = -9.0
    for v, c in zip(curve, costs, strict=True):
        best = max(best, v)
        if best >= target:
            return c
    return (budget if budget is not None else len(curve)) + 1


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
        "--no-fidelity", dest="fidelity", action="store_false",
        help="the builtin runs every point at full fidelity (no low rung)",
    )  # fmt: skip
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


def report(
    args: argparse.Namespace, bench: Bench, histories: dict[str, list[list[Outcome]]], naive: Outcome
) -> str:
    """The markdown result: experiments (cost units) to the target per strategy and repetition, their
    ratios, and the final incumbents' sealed-test PGR against naive's."""
    curves = {n: [incumbent_test(h) or [-1.0] for h in hs] for n, hs in histories.items()}
    costs = {n: [spent(h, args.seeds) or [0.0] for h in hs] for n, hs in histories.items()}
    best = max(v for runs in curves.values() for curve in runs for v in curve)
    sizes = ", ".join(f"{k}={v}" for k, v in args.sizes.as_dict().items())
    reps = len(next(iter(curves.values())))
    mode = "multi-fidelity (ASHA low rung)" if args.fidelity else "full fidelity only (--no-fidelity)"
    lines = [f"Task {args.task}, pair {args.pair}, sizes {sizes}, {args.seeds} seeds per experiment, budget {args.budget} experiments, {reps} repetitions; "
             f"builtin: {mode}; best incumbent's sealed-test PGR reached by any strategy: {best:.3f}; target: within {WITHIN} of it. "
             "Experiments are counted in cost units (a low-rung run: seeds used / study seeds × w2s fraction; a full run: 1).", "",
             "| strategy | experiments needed (per repetition) | mean | final incumbent's test PGR (per repetition) | mean [min, max] | runs: full + low rung (per repetition) |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    means = {}
    for name, runs in curves.items():
        needed = [
            round(experiments_needed(c, best - WITHIN, k, args.budget), 1)
            for c, k in zip(runs, costs[name], strict=True)
        ]
        means[name] = statistics.mean(needed)
        finals = [c[-1] for c in runs]
        counts = [
            f"{sum(o.fidelity is None for o in h)} + {sum(o.fidelity is not None for o in h)}"
            for h in histories[name]
        ]
        lines.append(f"| {name} | {needed} | {means[name]:.1f} | {[round(v, 3) for v in finals]} | "
                     f"{statistics.mean(finals):.3f} [{min(finals):.3f}, {max(finals):.3f}] | {', '.join(counts)} |")  # fmt: skip
    points = [b for b in ANYTIME if b <= args.budget]
    lines += ["", f"Mean incumbent test PGR after {' / '.join(map(str, points))} cost units: " + "; ".join(
        f"{n} " + " / ".join(f"{statistics.mean(incumbent_at(c, k, b) for c, k in zip(runs, costs[n], strict=True)):.3f}" for b in points)
        for n, runs in curves.items()) + ".", ""]  # fmt: skip
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
    """Each repetition's final builtin incumbent (best full-fidelity dev PGR) with its sealed-test PGR and
    CI, against naive's test PGR and CI (same seeds, same splits)."""
    s = naive.signals
    lines = [f"Naive: test PGR {_fmt(s.get('test_pgr'))} [{_fmt(s.get('test_pgr_lo'))}, {_fmt(s.get('test_pgr_hi'))}], "
             f"dev PGR {_fmt(naive.dev_pgr)}.", "", "| rep | builtin incumbent | dev PGR | test PGR [CI] | CI clear of naive's |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for rep, history in enumerate(histories):
        done = [
            o for o in history if o.fidelity is None and o.dev_pgr is not None and not math.isnan(o.dev_pgr)
        ]
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
    bench = Bench(setup, seeds, OutcomeCache(args.cache), fidelity=args.fidelity)
    naive = bench.run("naive", {})

    def write(histories: dict[str, list[list[Outcome]]]) -> None:
        if args.out:  # after each repetition: a run stopped early leaves its complete repetitions
            args.out.write_text(report(args, bench, histories, naive) + "\n")

    print(report(args, bench, run_strategies(bench, args.strategies, args.budget, args.reps, write), naive))


if __name__ == "__main__":
    main()
