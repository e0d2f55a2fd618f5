"""Scores from predictions: accuracy, AUROC, and PGR (with degenerate gaps reported, not divided)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of P(label=1) thresholded at 0.5."""
    if len(y) == 0:
        return math.nan
    return float(np.mean((np.asarray(p) > 0.5).astype(int) == np.asarray(y)))


def auroc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties averaged); NaN when only one class is present."""
    y = np.asarray(y)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return math.nan
    from scipy.stats import rankdata

    ranks = rankdata(np.asarray(p))
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


@dataclass(frozen=True)
class PGR:
    """Performance gap recovered. `value` is None when the gap is degenerate (ceiling ≤ weak + min_gap)."""

    value: float | None
    weak: float
    ceiling: float
    w2s: float

    @property
    def gap(self) -> float:
        return self.ceiling - self.weak

    @property
    def degenerate(self) -> bool:
        return self.value is None

    def describe(self) -> str:
        if self.value is None:
            return f"degenerate (ceiling {self.ceiling:.3f} vs weak {self.weak:.3f}: no gap to recover)"
        return f"{self.value:.3f}"


# A gap inside the split's sampling noise makes PGR noise over noise (a 0.002 gap turns a 0.04 accuracy
# change into PGR 18), so such a setup is reported as degenerate. The bound is one standard error of a
# difference of two accuracies near 0.5 on n examples, sqrt(2 · 0.25 / n): 0.032 on 500 examples,
# 0.018 on 1,500, 0.125 on 32. MIN_GAP is the floor (and the bound when the split size is unknown).
MIN_GAP = 0.01


def min_gap(n: int | None) -> float:
    """The smallest ceiling − weak gap that is not sampling noise on a split of `n` examples."""
    if not n:
        return MIN_GAP
    return max(MIN_GAP, math.sqrt(0.5 / n))


def pgr(weak: float, ceiling: float, w2s: float, min_gap: float = MIN_GAP) -> PGR:
    """(w2s − weak) / (ceiling − weak); degenerate (value None) when ceiling − weak ≤ min_gap
    (pass `min_gap(n)` for a split of n examples)."""
    if not ceiling - weak > min_gap:
        return PGR(None, weak, ceiling, w2s)
    return PGR((w2s - weak) / (ceiling - weak), weak, ceiling, w2s)
