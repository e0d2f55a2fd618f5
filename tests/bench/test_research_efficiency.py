"""bench/research_efficiency (issue 12.4): no repeated proposals, log-uniform sampling, the score is the
sealed-test PGR of the dev-selected incumbent, and measured experiments persist in an outcome cache."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import random
import statistics
import zlib
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from aar.config import REPO_ROOT
from aar.researchers.builtin import LIBRARY_ORDER
from aar.researchers.types import Fidelity, Outcome
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template

SIGNALS = {"minority_rate": 0.4, "spread": 0.2, "confidence": 0.5}
TINY = SplitSizes(weak_train=48, w2s_train=96, dev=32, test=32)


def bench_module() -> ModuleType:
    path = REPO_ROOT / "bench" / "research_efficiency" / "run.py"
    spec = importlib.util.spec_from_file_location("research_efficiency_run", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Scripted:
    """A stand-in for the bench's experiment runner: a deterministic score per configuration."""

    def __init__(self, fidelity: bool = True) -> None:
        template = SimpleNamespace(name="probe", defaults={"lr": 0.003, "epochs": 10},
                                  space={"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "epochs": {"choices": [2, 5, 10, 20]}})  # fmt: skip
        self.setup = SimpleNamespace(template=template, sizes=SimpleNamespace(w2s_train=3000))
        self.library = {m: "" for m in LIBRARY_ORDER}
        self.spaces = {m: {"alpha": {"low": 0.0, "high": 1.0}} for m in LIBRARY_ORDER}
        self.seeds, self.fidelity = [0, 1, 2], fidelity
        self.calls: list[str] = []

    def run(self, method: str, hparams: dict[str, Any], fidelity: Fidelity | None = None) -> Outcome:
        """The same point scores the same at every fidelity (a low rung 0.05 lower)."""
        point = json.dumps([method, {**self.setup.template.defaults, **hparams}], sort_keys=True)
        self.calls.append(json.dumps([point, fidelity.model_dump() if fidelity else None]))
        score = (zlib.crc32(point.encode()) % 1000) / 1000 - (0.05 if fidelity else 0.0)
        return Outcome(hypothesis_id=None, experiment_id=len(self.calls), method=method,
                       hparams={**self.setup.template.defaults, **hparams}, status="ok", dev_pgr=score,
                       dev_pgr_lo=score - 0.05, dev_pgr_hi=score + 0.05, fidelity=fidelity,
                       signals={**SIGNALS, "test_pgr": score - 0.1})  # fmt: skip


def test_the_builtin_strategy_never_repeats_a_proposal() -> None:
    run = bench_module()
    fake = Scripted()
    history = run.builtin(fake, 30, rep=0)
    assert 30 <= run.spent(history, 3)[-1] < 31
    assert len(set(fake.calls)) == len(fake.calls), "a configuration was proposed twice at one fidelity"


def test_log_scale_entries_are_sampled_log_uniformly() -> None:
    run = bench_module()
    rng = random.Random(0)
    draws = [run.sample(rng, {"low": 1e-4, "high": 1e-2, "log": True}) for _ in range(2000)]
    assert all(1e-4 <= d <= 1e-2 for d in draws)
    assert 0.7e-3 < statistics.median(draws) < 1.4e-3  # the geometric middle; uniform would give 5e-3
    linear = [run.sample(rng, {"low": 0.0, "high": 1.0}) for _ in range(2000)]
    assert 0.45 < statistics.median(linear) < 0.55


def test_the_curve_is_the_dev_incumbents_test_pgr() -> None:
    run = bench_module()

    def o(dev: float, test: float) -> Outcome:
        return Outcome(hypothesis_id=None, experiment_id=0, method="m", status="ok", dev_pgr=dev,
                       signals={"test_pgr": test})  # fmt: skip

    # the second run is best on dev but not on test: the curve follows dev's choice, as a study would
    assert run.incumbent_test([o(0.3, 0.25), o(0.5, 0.1), o(0.4, 0.6)]) == [0.25, 0.1, 0.1]


def test_each_round_is_numbered_anew_even_when_a_round_proposes_one_point(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # issue 12: the bench numbered rounds len(history) // 3 + 1, so rounds that proposed fewer than three
    # points reused a TPE seed and repeated its random start-up draw (a proposal run 3 times)
    run = bench_module()
    real = run.BuiltinResearcher
    rounds: list[int] = []

    class OnePerRound(real):  # type: ignore[misc, valid-type]
        def propose(self, view):  # type: ignore[no-untyped-def]
            rounds.append(view.round)
            return super().propose(view)[:1]

    monkeypatch.setattr(run, "BuiltinResearcher", OnePerRound)
    fake = Scripted()
    run.builtin(fake, 16, rep=0)
    assert rounds == sorted(set(rounds)), "a round number was reused"
    assert len(set(fake.calls)) == len(fake.calls), "a configuration was proposed twice"


def tiny_setup(cache_dir: Path, dev: int = 32) -> Setup:
    return Setup(
        "rotten_tomatoes", parse_pair("static64→minilm-l6"), get_template("probe", REPO_ROOT / "experiment_templates"),
        sizes=dataclasses.replace(TINY, dev=dev), cache_dir=cache_dir, calibration="none", members=0,
    )  # fmt: skip


def test_a_later_run_reuses_every_experiment_in_the_outcome_cache(shared_cache: Path, tmp_path: Path) -> None:
    # issue 12 targets: a budget-40 × 5-repetition run is hours on this machine; a second run (one strategy
    # after its search changed, or a run that was stopped) must not measure what the first one measured
    run = bench_module()
    path = tmp_path / "outcomes.jsonl"
    first = run.Bench(tiny_setup(shared_cache), [0], run.OutcomeCache(path))
    measured = first.run("naive", {"epochs": 2})
    assert first.ran == 1 and len(path.read_text().splitlines()) == 1

    again = run.Bench(tiny_setup(shared_cache), [0], run.OutcomeCache(path))
    reused = again.run("naive", {"epochs": 2})
    assert again.ran == 0, "a cached experiment was measured again"
    assert json.dumps(reused.model_dump(mode="json")) == json.dumps(measured.model_dump(mode="json"))
    assert "test_pgr_lo" in reused.signals and reused.status == "ok"

    other_seeds = run.Bench(tiny_setup(shared_cache), [1], run.OutcomeCache(path))
    other_seeds.run("naive", {"epochs": 2})
    assert other_seeds.ran == 1, "another seed list reused a result it did not measure"
    assert len(path.read_text().splitlines()) == 2


def test_the_cache_key_holds_everything_that_makes_a_result(shared_cache: Path) -> None:
    run = bench_module()
    bench = run.Bench(tiny_setup(shared_cache), [0, 1])
    key = bench.key("aux_conf", {"lr": 0.001})
    assert key == bench.key("aux_conf", {"lr": 0.001})
    others = {
        bench.key("aux_conf", {"lr": 0.002}),
        bench.key("product", {"lr": 0.001}),
        run.Bench(tiny_setup(shared_cache), [0, 1, 2]).key("aux_conf", {"lr": 0.001}),
        run.Bench(tiny_setup(shared_cache, dev=40), [0, 1]).key("aux_conf", {"lr": 0.001}),
    }
    other_task = tiny_setup(shared_cache)
    other_task.task = "privacy_qa"
    others.add(run.Bench(other_task, [0, 1]).key("aux_conf", {"lr": 0.001}))
    assert key not in others and len(others) == 5


def test_sizes_default_to_the_issues_dev_size_and_strategies_are_checked() -> None:
    run = bench_module()
    args = run.parse_args(["--strategies", "builtin"])
    sizes = args.sizes
    assert (sizes.weak_train, sizes.w2s_train, sizes.dev, sizes.test) == (1000, 3000, 1500, 1500)
    assert args.strategies == ["builtin"]
    with pytest.raises(SystemExit):
        run.parse_args(["--strategies", "builtin,grid"])


# ---- multi-fidelity (issue 12.4: the builtin's ASHA low rung, measured in cost units) ----------------


def low(dev: float, test: float) -> Outcome:
    return Outcome(hypothesis_id=None, experiment_id=0, method="m", status="ok", dev_pgr=dev,
                   signals={"test_pgr": test}, fidelity=Fidelity(seeds=2, w2s_fraction=1 / 3))  # fmt: skip


def full(dev: float, test: float) -> Outcome:
    return Outcome(hypothesis_id=None, experiment_id=0, method="m", status="ok", dev_pgr=dev,
                   signals={"test_pgr": test})  # fmt: skip


def test_a_low_rung_outcome_never_becomes_the_incumbent() -> None:
    run = bench_module()
    # the low rung's dev 0.9 beats every full run on dev, but fewer seeds and rows are no method result
    history = [full(0.3, 0.25), low(0.9, 0.8), full(0.4, 0.35)]
    assert run.incumbent_test(history) == [0.25, 0.25, 0.35]
    assert run.incumbent_test([low(0.9, 0.8)]) == [-1.0]
    naive = full(0.1, 0.1)
    table = "\n".join(run.incumbents([history], naive))
    assert "| 0.400 | 0.350 [" in table and "0.900" not in table


def test_the_builtin_spends_its_budget_in_cost_units_with_a_low_rung() -> None:
    run = bench_module()
    fake = Scripted()
    history = run.builtin(fake, 30, rep=0)
    rungs = [o for o in history if o.fidelity is not None]
    assert rungs and all(o.fidelity == Fidelity(seeds=2, w2s_fraction=1 / 3) for o in rungs)
    costs = run.spent(history, 3)
    assert costs[-2] < 30 <= costs[-1] < 31, "stopped before (or long after) its cost reached the budget"
    assert costs[0] == 1.0 and abs(run.cost(rungs[0], 3) - 2 / 9) < 1e-9
    assert len(history) > 30, "a low-rung run was charged as a full experiment"
    promoted = {json.dumps([o.method, o.hparams], sort_keys=True) for o in history if o.fidelity is None}
    assert any(json.dumps([o.method, o.hparams], sort_keys=True) in promoted for o in rungs), (
        "nothing promoted"
    )
    assert len(set(fake.calls)) == len(fake.calls), "a configuration was run twice at one fidelity"


def test_no_fidelity_runs_every_builtin_point_in_full() -> None:
    run = bench_module()
    history = run.builtin(Scripted(fidelity=False), 20, rep=0)
    assert len(history) == 20 and all(o.fidelity is None for o in history)
    assert run.parse_args(["--no-fidelity"]).fidelity is False
    assert run.parse_args([]).fidelity is True


def test_experiments_to_target_are_counted_in_cost() -> None:
    run = bench_module()
    history = [full(0.3, 0.2), low(0.5, 0.5), low(0.5, 0.5), low(0.5, 0.5), full(0.6, 0.45)]
    costs = run.spent(history, 3)
    assert costs == [1.0, round(1 + 2 / 9, 6), round(1 + 4 / 9, 6), round(1 + 6 / 9, 6), round(2 + 6 / 9, 6)]
    curve = run.incumbent_test(history)
    assert run.experiments_needed(curve, 0.4, costs, budget=40) == costs[-1]
    assert run.experiments_needed(curve, 0.9, costs, budget=40) == 41  # censored: budget + 1
    assert run.experiments_needed([0.1, 0.5], 0.4) == 2  # random/TPE: one per experiment, as before


def test_a_low_rung_experiment_runs_its_seeds_and_rows_under_its_own_key(
    shared_cache: Path, tmp_path: Path
) -> None:
    run = bench_module()
    path = tmp_path / "outcomes.jsonl"
    bench = run.Bench(tiny_setup(shared_cache), [0, 1], run.OutcomeCache(path))
    rung = Fidelity(seeds=1, w2s_fraction=0.5)
    assert "fidelity" not in json.loads(bench.key("naive", {"epochs": 2}))  # full keys as cached before
    assert bench.key("naive", {"epochs": 2}, rung) != bench.key("naive", {"epochs": 2})
    cheap = bench.run("naive", {"epochs": 2}, rung)
    assert cheap.fidelity == rung and len(cheap.dev_pgr_by_seed) == 1
    assert bench.run("naive", {"epochs": 2}).fidelity is None and bench.ran == 2
    again = run.Bench(tiny_setup(shared_cache), [0, 1], run.OutcomeCache(path))
    assert again.run("naive", {"epochs": 2}, rung).fidelity == rung and again.ran == 0


def test_the_anytime_incumbent_is_read_at_a_cost_not_a_count() -> None:
    run = bench_module()
    history = [full(0.3, 0.2), low(0.9, 0.9), low(0.5, 0.5), full(0.6, 0.45), full(0.7, 0.5)]
    curve, costs = run.incumbent_test(history), run.spent(history, 3)
    assert run.incumbent_at(curve, costs, 2) == 0.2  # 1 + 2 × 2/9 spent: the low rungs are not incumbents
    assert run.incumbent_at(curve, costs, 2.5) == 0.45 and run.incumbent_at(curve, costs, 40) == 0.5
    assert run.incumbent_at(curve, costs, 0.5) == -1.0
