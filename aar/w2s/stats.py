"""Statistics across seeds: bootstrap confidence intervals and paired comparisons of two methods."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with a percentile-bootstrap confidence interval (NaN bounds with one seed)."""

    mean: float
    lo: float
    hi: float
    n: int
    std: float

    def describe(self) -> str:
        if math.isnan(self.mean):
            return "n/a"
        if self.n < 2:
            return f"{self.mean:.3f} (1 seed, no CI)"
        return f"{self.mean:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> Estimate:
    """Mean of `values` with a percentile bootstrap CI at `level`; NaNs are dropped first."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, math.nan)
    if len(x) == 1:
        return Estimate(float(x[0]), math.nan, math.nan, 1, 0.0)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return Estimate(float(x.mean()), float(lo), float(hi), len(x), float(x.std(ddof=1)))


# Seed-based verdicts need at least this many seeds: with fewer, a paired comparison cannot tell a
# gain from seed noise (a t interval on two differences spans ±12.7 standard errors).
MIN_SEEDS = 3


def too_few_seeds(n: int) -> str:
    """The verdict of a seed-based check run on `n` < MIN_SEEDS seeds."""
    return f"inconclusive ({n} seed{'s' if n != 1 else ''}; ≥ {MIN_SEEDS} needed)"


def t_interval(values: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean of `values` with a Student-t interval at `level` (honest for a few seeds); NaNs dropped."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) < 2:
        return bootstrap_ci(x.tolist(), level)
    mean, std = float(x.mean()), float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + level) / 2, len(x) - 1)) * std / math.sqrt(len(x))
    return Estimate(mean, mean - half, mean + half, len(x), std)


@dataclass(frozen=True)
class Comparison:
    """Method A minus method B on the same seeds."""

    diff: Estimate
    wins: int
    losses: int
    verdict: str  # "better" | "worse" | "inside noise" | "inconclusive (n seeds; ≥ 3 needed)"

    @property
    def better(self) -> bool:
        """True only for a gain whose interval lies clear of zero on at least MIN_SEEDS seeds."""
        return self.verdict == "better"

    def describe(self) -> str:
        return f"Δ {self.diff.describe()} ({self.wins} wins / {self.losses} losses): {self.verdict}"


def paired_comparison(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> Comparison:
    """Compare two methods seed by seed: a Student-t interval on the paired differences.

    "better" / "worse" need at least MIN_SEEDS shared seeds and an interval clear of zero; with fewer
    seeds the verdict is "inconclusive", whatever the wins (3 of 3 wins happen by chance one time in 8).
    """
    seeds = sorted(s for s in set(a) & set(b) if not (math.isnan(a[s]) or math.isnan(b[s])))
    diffs = [a[s] - b[s] for s in seeds]
    est = t_interval(diffs, level)
    wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    if est.n < MIN_SEEDS:
        verdict = too_few_seeds(est.n)
    elif est.lo > 0:
        verdict = "better"
    elif est.hi < 0:
        verdict = "worse"
    else:
        verdict = "inside noise"
    return Comparison(est, wins, losses, verdict)
