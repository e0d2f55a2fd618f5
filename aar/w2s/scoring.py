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


# Below one point of accuracy the gap is within the split's sampling noise: PGR would be noise over noise
# (a 0.002 gap turns a 0.04 accuracy change into PGR 18), so such a setup is reported as degenerate.
MIN_GAP = 0.01


def pgr(weak: float, ceiling: float, w2s: float, min_gap: float = MIN_GAP) -> PGR:
    """(w2s − weak) / (ceiling − weak); degenerate (value None) when ceiling − weak ≤ min_gap."""
    if not ceiling - weak > min_gap:
        return PGR(None, weak, ceiling, w2s)
    return PGR((w2s - weak) / (ceiling - weak), weak, ceiling, w2s)
