"""Statistics: bootstrap confidence intervals over seeds *and* examples, and paired comparisons.

A PGR is measured on a finite split with a few seeds: both are samples. `pgr_estimate` and
`paired_delta` resample the seeds and, per replicate, one set of example indices shared by every seed
and both arms (the same examples are scored in every seed and for every method: a crossed design), and
recompute PGR from the weak, ceiling and w2s accuracies on those examples. Results kept without
per-example correctness fall back to the seed-only `bootstrap_ci` / `paired_comparison`.
"""

from __future__ import annotations

import functools
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


# Verdicts need at least this many seeds: with fewer, a comparison cannot tell a gain from seed noise
# (5 of 5 wins happen by chance one time in 32; 3 of 3 one time in 8).
MIN_SEEDS = 5


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
    verdict: str  # "better" | "worse" | "inside noise" | "inconclusive (n seeds; ≥ 5 needed)"

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
    return Comparison(est, wins, losses, verdict_of(est))


def verdict_of(diff: Estimate) -> str:
    """ "better" / "worse" when the Δ interval lies clear of zero on ≥ MIN_SEEDS seeds; else why not."""
    if diff.n < MIN_SEEDS:
        return too_few_seeds(diff.n)
    if diff.lo > 0:
        return "better"
    if diff.hi < 0:
        return "worse"
    return "inside noise"


# ---- seeds × examples ------------------------------------------------------------------------------

N_BOOT = 2_000  # replicates: the percentile bounds of a 95% interval move by < 0.01 PGR beyond this


@dataclass(frozen=True)
class Correct:
    """One arm on one split: per seed (rows), whether each example (columns) was classified right by the
    weak model, the strong ceiling and the weak-to-strong student. The columns are the split's examples
    in one fixed order, the same for every seed and every arm of a study."""

    seeds: tuple[int, ...]
    weak: np.ndarray  # bool [k, n]
    ceiling: np.ndarray
    w2s: np.ndarray

    @property
    def n(self) -> int:
        return int(self.w2s.shape[1])

    def take(self, seeds: Sequence[int]) -> Correct:
        """The rows of `seeds` (each must be one of `self.seeds`), in that order."""
        rows = [self.seeds.index(s) for s in seeds]
        return Correct(tuple(seeds), self.weak[rows], self.ceiling[rows], self.w2s[rows])


@dataclass(frozen=True)
class Draws:
    """Bootstrap replicates: seed picks [B, k] (row indices) and example counts [B, n] (multinomial)."""

    seeds: np.ndarray
    counts: np.ndarray


@functools.lru_cache(maxsize=4)
def draws(k: int, n: int, n_boot: int = N_BOOT, seed: int = 0) -> Draws:
    """`n_boot` replicates of k seeds and n examples, each drawn with replacement (cached, read-only:
    a study compares many arms on the same split and seeds, and drawing costs more than scoring)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, k, size=(n_boot, k))
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float32)
    picks.flags.writeable = counts.flags.writeable = False
    return Draws(picks, counts)


def _accuracies(correct: np.ndarray, d: Draws) -> np.ndarray:
    """Accuracy per seed row per replicate, [k, B], on each replicate's resampled examples."""
    return correct.astype(d.counts.dtype) @ d.counts.T / d.counts.shape[1]


def seed_pgrs(c: Correct, d: Draws, min_gap: float) -> np.ndarray:
    """PGR per seed row per replicate [k, B]; NaN where the replicate's gap is degenerate."""
    weak, ceil, w2s = (_accuracies(m, d) for m in (c.weak, c.ceiling, c.w2s))
    gap = ceil - weak
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap > min_gap, (w2s - weak) / gap, np.nan)


def _over_seeds(per_seed: np.ndarray, d: Draws) -> np.ndarray:
    """Each replicate's mean over its resampled seeds [B] (NaN seeds skipped; all-NaN → NaN)."""
    picked = per_seed[d.seeds, np.arange(d.seeds.shape[0])[:, None]]
    ok = ~np.isnan(picked)
    total = np.where(ok, picked, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore"):
        return np.where(ok.any(axis=1), total / ok.sum(axis=1), np.nan)


def _interval(point: float, reps: np.ndarray, level: float, n: int, std: float) -> Estimate:
    reps = reps[~np.isnan(reps)]
    if n < 2 or len(reps) == 0:
        return Estimate(point, math.nan, math.nan, n, std)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(reps, [tail, 100 - tail])
    return Estimate(point, float(lo), float(hi), n, std)


def _observed(c: Correct, min_gap: float) -> np.ndarray:
    """The observed PGR per seed (NaN where degenerate)."""
    whole = Draws(np.arange(len(c.seeds))[None, :], np.ones((1, c.n)))  # float64: the exact point
    return seed_pgrs(c, whole, min_gap)[:, 0]


def pgr_estimate(
    c: Correct, min_gap: float, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
) -> Estimate:
    """Mean PGR over seeds with a percentile interval that resamples seeds and examples."""
    observed = _observed(c, min_gap)
    good = observed[~np.isnan(observed)]
    if len(good) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, math.nan)
    d = draws(len(c.seeds), c.n, n_boot, seed)
    std = float(good.std(ddof=1)) if len(good) > 1 else 0.0
    return _interval(float(good.mean()), _over_seeds(seed_pgrs(c, d, min_gap), d), level, len(good), std)


def paired_delta(
    a: Correct, b: Correct, min_gap: float, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
) -> Comparison:
    """PGR of arm `a` minus arm `b` on their shared seeds, paired: every replicate resamples the seeds
    and one set of examples, and scores both arms on exactly those. "better" needs ≥ MIN_SEEDS shared
    seeds and an interval clear of zero."""
    if a.n != b.n:
        raise ValueError(f"arms scored on different examples ({a.n} vs {b.n}): not paired")
    shared = [s for s in a.seeds if s in b.seeds]
    both = _observed(a.take(shared), min_gap) - _observed(b.take(shared), min_gap)
    kept = [s for s, v in zip(shared, both, strict=True) if not math.isnan(v)]  # degenerate seeds drop out
    a, b, diffs = a.take(kept), b.take(kept), both[~np.isnan(both)]
    if len(diffs) == 0:
        return Comparison(Estimate(math.nan, math.nan, math.nan, 0, math.nan), 0, 0, too_few_seeds(0))
    d = draws(len(diffs), a.n, n_boot, seed)
    reps = _over_seeds(seed_pgrs(a, d, min_gap) - seed_pgrs(b, d, min_gap), d)
    std = float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0
    est = _interval(float(diffs.mean()), reps, level, len(diffs), std)
    return Comparison(est, int((diffs > 0).sum()), int((diffs < 0).sum()), verdict_of(est))


def accuracy_delta(
    better: np.ndarray, worse: np.ndarray, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
) -> Estimate:
    """Mean accuracy of `better` minus `worse` (bool [k, n], same seeds and examples), seeds × examples."""
    diff = better.astype(np.float32) - worse.astype(np.float32)
    per_seed = diff.astype(float).mean(axis=1)
    d = draws(diff.shape[0], diff.shape[1], n_boot, seed)
    reps = _over_seeds(_accuracies(diff, d), d)
    std = float(per_seed.std(ddof=1)) if len(per_seed) > 1 else 0.0
    return _interval(float(per_seed.mean()), reps, level, len(per_seed), std)
