import math

import numpy as np

from aar.w2s.stats import bootstrap_ci, paired_comparison, t_interval


def test_bootstrap_ci_brackets_mean_and_narrows_with_more_seeds():
    rng = np.random.default_rng(1)
    few, many = bootstrap_ci(rng.normal(0.4, 0.1, 4)), bootstrap_ci(rng.normal(0.4, 0.1, 64))
    for est in (few, many):
        assert est.lo <= est.mean <= est.hi
    assert (many.hi - many.lo) < (few.hi - few.lo)
    assert abs(many.mean - 0.4) < 0.05


def test_single_and_empty_values():
    one = bootstrap_ci([0.3])
    assert one.mean == 0.3 and math.isnan(one.lo) and "no CI" in one.describe()
    assert bootstrap_ci([math.nan]).n == 0


def test_paired_comparison_verdicts():
    base = {s: 0.3 + 0.01 * s for s in range(6)}
    assert paired_comparison({s: v + 0.2 for s, v in base.items()}, base).verdict == "better"
    assert paired_comparison({s: v - 0.2 for s, v in base.items()}, base).verdict == "worse"
    noisy = {s: v + (0.05 if s % 2 else -0.05) for s, v in base.items()}
    assert paired_comparison(noisy, base).verdict == "inside noise"
    assert paired_comparison({0: 1.0}, {0: 0.0}).verdict == "inconclusive (1 seed; ≥ 5 needed)"
    # only shared seeds are compared
    assert paired_comparison({0: 1.0, 1: 1.0, 9: 5.0}, {0: 0.0, 1: 0.0}).diff.n == 2


def test_fewer_than_five_seeds_never_better_whatever_the_gap():
    # issue 9: one seed, test PGR 0.30 vs -0.72 shuffled; issue 12: 3/3 wins is a sign test at p = 0.125
    assert paired_comparison({0: 0.30}, {0: -0.72}).verdict == "inconclusive (1 seed; ≥ 5 needed)"
    four = paired_comparison({s: 0.30 + 0.01 * s for s in range(4)}, {s: -0.72 for s in range(4)})
    assert four.verdict == "inconclusive (4 seeds; ≥ 5 needed)" and not four.better
    assert paired_comparison({0: -0.72, 1: -0.70}, {0: 0.30, 1: 0.35}).verdict.startswith("inconclusive")


def test_five_wins_are_not_better_unless_the_interval_clears_zero():
    # 5 of 5 wins happen by chance one time in 32: small noisy gains stay inside noise ...
    noisy = paired_comparison({0: 0.40, 1: 0.31, 2: 0.52, 3: 0.301, 4: 0.33}, {s: 0.30 for s in range(5)})
    assert (noisy.wins, noisy.losses) == (5, 0) and noisy.verdict == "inside noise"
    assert noisy.diff.lo < 0 < noisy.diff.hi
    # ... while a large, consistent gain over five seeds is better (and the mirror image worse)
    good, bad = [0.30, 0.32, 0.29, 0.31, 0.30], [-0.72, -0.70, -0.75, -0.71, -0.73]
    assert paired_comparison(dict(enumerate(good)), dict(enumerate(bad))).better
    assert paired_comparison(dict(enumerate(bad)), dict(enumerate(good))).verdict == "worse"


def test_t_interval_is_wider_than_the_percentile_bootstrap_for_few_seeds():
    values = [0.1, 0.01, 0.22]
    t, boot = t_interval(values), bootstrap_ci(values)
    assert t.lo < boot.lo and t.hi > boot.hi and abs(t.mean - boot.mean) < 1e-12
    assert t.lo < 0  # the bootstrap's lower bound is the smallest value: it calls this "better"
    assert boot.lo > 0
