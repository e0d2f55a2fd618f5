import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from aar.w2s.scoring import accuracy, auroc, pgr


def test_accuracy_and_auroc_match_reference():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    assert accuracy(p, y) == pytest.approx(np.mean((p > 0.5) == y))
    assert auroc(p, y) == pytest.approx(roc_auc_score(y, p))
    assert math.isnan(auroc(p, np.ones(500, dtype=int)))


def test_pgr_formula_and_degenerate_gap():
    assert pgr(0.6, 0.8, 0.7).value == pytest.approx(0.5)
    assert pgr(0.6, 0.8, 0.55).value == pytest.approx(-0.25)
    for ceiling in (0.6, 0.5):
        result = pgr(0.6, ceiling, 0.7)
        assert result.value is None and result.degenerate and "degenerate" in result.describe()
    assert pgr(0.6, 0.605, 0.61).degenerate  # a gap inside the noise is degenerate by default
    assert pgr(0.6, 0.605, 0.61, min_gap=0.0).value == pytest.approx(2.0)


def test_min_gap_grows_as_the_split_shrinks() -> None:
    from aar.w2s.scoring import MIN_GAP, min_gap

    sizes = [12_808, 1_500, 500, 128, 32]
    gaps = [min_gap(n) for n in sizes]
    assert gaps == sorted(gaps) and gaps[-1] > 4 * gaps[1]  # monotone, and 32 examples need a far larger gap
    assert abs(min_gap(500) - (0.5 / 500) ** 0.5) < 1e-12 and min_gap(500) > MIN_GAP
    assert min_gap(None) == MIN_GAP and min_gap(10**7) == MIN_GAP  # the floor
    # a 0.06 gap is signal on 1,500 examples but noise on 128 (one standard error is 0.0625 there)
    assert pgr(0.60, 0.66, 0.63, min_gap(1_500)).value is not None
    assert pgr(0.60, 0.66, 0.63, min_gap(128)).degenerate
