"""The paired seeds × examples bootstrap (issue 12): coverage, pairing, example noise, verdicts."""

from __future__ import annotations

import numpy as np

from aar.w2s.stats import MIN_SEEDS, Correct, bootstrap_ci, draws, paired_delta, pgr_estimate, seed_pgrs
from aar.w2s.stats import _over_seeds as over_seeds  # the replicate mean, to build an unpaired reference
from tests.w2s.simulate import as_result, simulate, true_delta

GAP = 0.035


def unpaired_width(a: Correct, b: Correct, n_boot: int = 1000) -> float:
    """The 95% width of a − b when each arm is resampled on its own (different examples and seeds)."""
    da, db = draws(len(a.seeds), a.n, n_boot, seed=1), draws(len(b.seeds), b.n, n_boot, seed=2)
    reps = over_seeds(seed_pgrs(a, da, GAP), da) - over_seeds(seed_pgrs(b, db, GAP), db)
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return float(hi - lo)


def test_the_paired_interval_is_narrower_than_the_unpaired_one_for_correlated_arms() -> None:
    a, b = simulate(np.random.default_rng(0), 400, 5, own=0.1)
    paired = paired_delta(a, b, GAP, n_boot=1000).diff
    assert paired.hi - paired.lo < 0.75 * unpaired_width(a, b)


def test_the_paired_interval_covers_the_true_delta_in_at_least_90_percent_of_repeats() -> None:
    truth, rng = true_delta(), np.random.default_rng(7)
    repeats = [paired_delta(*simulate(rng, 300, 5), GAP, n_boot=500).diff for _ in range(60)]
    covered = np.mean([d.lo <= truth <= d.hi for d in repeats])
    assert covered >= 0.9, f"coverage {covered:.2f} of the true Δ {truth:.3f}"
    assert abs(np.mean([d.mean for d in repeats]) - truth) < 0.02  # and the point estimate is unbiased


def test_example_noise_widens_the_ci_beyond_the_seeds_only_one() -> None:
    # Weak seed noise (the seeds agree closely) on a small split: the old seed-only bootstrap shows a
    # CI far narrower than the example sampling noise; the split's examples must widen it.
    a, _ = simulate(np.random.default_rng(3), 120, 5, own=0.1, shared=0.1)
    result = as_result(a)
    seeds_only = bootstrap_ci(result.values("dev", "pgr"))
    both = result.estimate("dev", "pgr")
    assert abs(both.mean - seeds_only.mean) < 1e-9
    assert both.hi - both.lo > 2 * (seeds_only.hi - seeds_only.lo)
    assert both.lo < both.mean < both.hi


def test_better_needs_five_seeds_and_an_interval_clear_of_zero() -> None:
    rng = np.random.default_rng(5)
    a, b = simulate(rng, 2000, 6)
    assert paired_delta(a, b, GAP).verdict == "better"  # a clear gain (true Δ 0.15) on 6 seeds
    four = paired_delta(a.take([0, 1, 2, 3]), b.take([0, 1, 2, 3]), GAP)
    assert MIN_SEEDS == 5 and four.verdict == "inconclusive (4 seeds; ≥ 5 needed)" and not four.better
    assert four.diff.lo > 0  # refused for the seed count alone, not for the interval
    same = paired_delta(
        a, Correct(a.seeds, a.weak, a.ceiling, a.w2s[::-1]), GAP
    )  # a against itself, seeds swapped
    assert same.diff.lo <= 0 <= same.diff.hi and same.verdict == "inside noise" and not same.better


def test_result_compare_pairs_over_examples_and_falls_back_to_seeds_without_them() -> None:
    a, b = simulate(np.random.default_rng(11), 300, 5)
    ra, rb = as_result(a), as_result(b)
    paired = ra.compare(rb)
    assert paired.diff.n == 5 and abs(paired.diff.mean - paired_delta(a, b, ra_gap(a)).diff.mean) < 1e-9
    for r in (ra, rb):
        for s in r.seed_results:
            s.splits["dev"].correct = {}
    assert ra.correct("dev") is None
    seeds_only = ra.compare(rb)
    assert abs(seeds_only.diff.mean - paired.diff.mean) < 1e-9


def ra_gap(c: Correct) -> float:
    from aar.w2s.scoring import min_gap

    return min_gap(c.n)


def test_pgr_estimate_point_is_the_seed_mean_and_replicates_are_deterministic() -> None:
    a, _ = simulate(np.random.default_rng(2), 200, 5)
    one, two = pgr_estimate(a, GAP), pgr_estimate(a, GAP)
    assert one == two and one.n == 5
    assert abs(one.mean - float(np.mean(as_result(a).values("dev", "pgr")))) < 1e-6
