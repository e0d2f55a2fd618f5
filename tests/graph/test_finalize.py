"""Finalists' integrity verdicts on constructed results (issue 9: wrong verdicts), and their ranking."""

from __future__ import annotations

import json
import math

from aar.graph.finalize import integrity, pick_finalists
from aar.graph.state import Outcome
from aar.w2s.experiment import ExperimentResult, SeedResult, SplitScores

WEAK, CEILING = 0.63, 0.76


def result(pgrs: list[float], w2s: list[float] | None = None, status: str = "ok") -> ExperimentResult:
    """A finished result with these test PGRs per seed (w2s accuracy follows from PGR unless given)."""
    accs = w2s or [WEAK + p * (CEILING - WEAK) for p in pgrs]
    seeds = [
        SeedResult(i, {"test": SplitScores(WEAK, CEILING, acc, 0.5, p, [])})
        for i, (p, acc) in enumerate(zip(pgrs, accs, strict=True))
    ]
    return ExperimentResult("t", "a→b", "probe", "m", list(range(len(pgrs))), {}, status, 0.0, seeds)


GOOD, SHUFFLED = [0.30, 0.32, 0.29, 0.31, 0.30], [-0.72, -0.70, -0.75, -0.71, -0.73]
NOISY, NOISY_SHUFFLED = [0.30, -0.10, 0.50, 0.05, 0.45], [0.25, 0.20, 0.35, 0.15, 0.30]

OUTCOME = Outcome(hypothesis_id=1, experiment_id=1, method="aux_conf", status="ok")


def check(real: ExperimentResult, shuffled: ExperimentResult) -> dict[str, object]:
    return integrity(OUTCOME, real, shuffled, majority=0.55)


def test_one_seed_is_inconclusive_not_does_not_depend_on_weak_labels() -> None:
    # issue 9: one seed, test PGR 0.30 vs -0.72 shuffled was reported "does not depend on the weak labels"
    out = check(result([0.30]), result([-0.72]))
    checks, flags = out["checks"], out["flags"]
    assert isinstance(checks, dict) and isinstance(flags, list)
    assert checks["weak_labels"].startswith("weak-label dependence inconclusive (1 seed; ≥ 5 needed)")
    assert checks["seed_spread"] == "seed spread inconclusive (1 seed; ≥ 5 needed)"
    assert not any("depend on the weak labels" in f for f in flags)
    json.dumps(out, allow_nan=False)  # stored in a JSON column: PostgreSQL's json rejects NaN


def test_four_seeds_are_inconclusive_too() -> None:
    out = check(result([0.30, 0.35, 0.31, 0.33]), result([-0.72, -0.70, -0.71, -0.74]))
    checks = out["checks"]
    assert isinstance(checks, dict)
    assert all(v.startswith(("weak-label dependence inconclusive (4 seeds", "seed spread inconclusive (4 seeds",
                             "w2s above weak inconclusive (4 seeds")) for v in checks.values())  # fmt: skip


def test_five_seeds_far_above_shuffled_depend_on_weak_labels() -> None:
    out = check(result(GOOD), result(SHUFFLED))
    checks, flags = out["checks"], out["flags"]
    assert isinstance(checks, dict)
    assert checks["weak_labels"].startswith("ok: PGR depends on the weak labels")
    assert checks["seed_spread"].startswith("ok")
    assert flags == []


def test_five_seeds_no_better_than_shuffled_are_flagged() -> None:
    out = check(result(NOISY), result(NOISY_SHUFFLED))
    flags = out["flags"]
    assert isinstance(flags, list)
    assert any(
        f.startswith("PGR not shown to depend on the weak labels") and "inside noise" in f for f in flags
    )


def test_a_failed_shuffle_run_leaves_the_check_open() -> None:
    out = check(result([0.3] * 5), result([], status="failed"))
    checks = out["checks"]
    assert (
        isinstance(checks, dict)
        and "unchecked" in checks["weak_labels"]
        and "failed" in checks["weak_labels"]
    )


def test_w2s_below_weak_is_flagged_with_both_numbers_and_the_ci() -> None:
    w2s = [0.60, 0.61, 0.62, 0.60, 0.62]  # below the weak model's 0.63 on every seed (negative PGR)
    out = check(result([-0.23, -0.15, -0.08, -0.23, -0.15], w2s), result(SHUFFLED))
    flags = out["flags"]
    assert isinstance(flags, list)
    (flag,) = [f for f in flags if "is not above the weak model" in f]
    assert "w2s 0.610 [" in flag and "weak 0.630" in flag and "Δ -0.020 [" in flag


def test_w2s_above_weak_needs_a_ci_clear_of_zero() -> None:
    noisy = check(result(NOISY), result(NOISY_SHUFFLED))
    flags = noisy["flags"]
    assert isinstance(flags, list) and any("not clearly above the weak model" in f for f in flags)


def test_w2s_clearly_above_weak_is_not_flagged_and_one_seed_below_weak_is() -> None:
    ok = check(result(GOOD), result(SHUFFLED))
    assert isinstance(ok["checks"], dict) and ok["checks"]["above_weak"].startswith("ok")
    one = check(result([-0.2]), result([-0.9]))
    flags = one["flags"]
    assert isinstance(flags, list) and any("not above the weak model" in f and "1 seed" in f for f in flags)


def test_wide_seed_spread_over_five_seeds_is_flagged() -> None:
    out = check(result([0.9, -0.1, 0.4, 0.8, 0.0]), result(SHUFFLED))
    flags = out["flags"]
    assert isinstance(flags, list) and any(f.startswith("seed spread is wide") for f in flags)
    assert not math.isnan(float(out["test_pgr"]))  # type: ignore[arg-type]


def outcome(method: str, confidence: float, minority: float, spread: float, dev_pgr: float = 0.2) -> Outcome:
    signals = {
        "confidence": confidence,
        "minority_rate": minority,
        "spread": spread,
        "positive_rate": minority,
    }
    return Outcome(
        hypothesis_id=1, experiment_id=1, method=method, status="ok", dev_pgr=dev_pgr, signals=signals
    )


def test_blind_finalists_skip_constant_and_one_class_predictions() -> None:
    constant = outcome("constant", confidence=1.0, minority=0.0, spread=0.0)
    one_class = outcome("mostly_yes", confidence=0.95, minority=0.01, spread=0.2)
    real = outcome("aux_conf", confidence=0.6, minority=0.45, spread=0.3)
    assert pick_finalists([constant, one_class, real], "blind", 2) == [real]
    assert pick_finalists([constant, one_class, real], "dev", 2) == [real]


def test_finalists_zero_picks_none_and_duplicates_count_once() -> None:
    a = outcome("a", 0.5, 0.4, 0.2, dev_pgr=0.3)
    a_again = outcome("a", 0.5, 0.4, 0.2, dev_pgr=0.2)
    b = outcome("b", 0.5, 0.4, 0.2, dev_pgr=0.1)
    assert pick_finalists([a, a_again, b], "dev", 0) == []
    assert pick_finalists([a, a_again, b], "dev", 2) == [a, b]


def test_selection_numbers_dev_beside_test_and_the_sealed_delta_against_naive() -> None:
    import numpy as np

    from aar.graph.finalize import finalist_seeds
    from tests.w2s.simulate import as_result, simulate

    a, b = simulate(np.random.default_rng(4), 400, 5)
    real, naive = as_result(a, "test"), as_result(b, "test", method="naive")
    picked = OUTCOME.model_copy(update={"dev_pgr": 0.9, "dev_pgr_lo": 0.8, "dev_pgr_hi": 1.0})
    out = integrity(picked, real, result(SHUFFLED), 0.55, naive)
    test = real.estimate("test", "pgr")
    assert out["test_pgr"] == test.mean and out["test_pgr_ci"] == [test.lo, test.hi]
    assert out["dev_pgr"] == 0.9 and out["dev_pgr_ci"] == [0.8, 1.0]
    assert abs(float(out["dev_test_drop"]) - (0.9 - test.mean)) < 1e-12  # type: ignore[arg-type]
    paired = real.compare(naive, "test")  # same seeds, same sealed-test examples
    assert out["test_vs_naive"] == paired.describe() and paired.diff.n == 5
    assert out["test_vs_naive_ci"] == [paired.diff.lo, paired.diff.hi]
    json.dumps(out, allow_nan=False)
    assert finalist_seeds(5) == [0, 1, 2, 3, 4] and finalist_seeds(2) == [0, 1]
