import math

import numpy as np

from aar.w2s.stats import bootstrap_ci, paired_comparison


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
    assert paired_comparison({0: 1.0}, {0: 0.0}).verdict == "too few seeds"
    # only shared seeds are compared
    assert paired_comparison({0: 1.0, 1: 1.0, 9: 5.0}, {0: 0.0, 1: 0.0}).diff.n == 2
