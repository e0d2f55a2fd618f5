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
