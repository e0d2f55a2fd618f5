"""Low-fidelity experiments: fewer of the study's seeds and a host-chosen part of w2s_train.

A multi-fidelity search (successive halving / ASHA, aar/researchers/builtin.py) first runs a point
cheaply, then reruns the best at full fidelity. Two rules keep rung scores comparable:

- the host, not the method, chooses the w2s_train rows, deterministically from the split seed: every
  low-fidelity run of a study (every method, every point) trains on the same subset;
- dev and test are never subsampled, so a low-fidelity dev PGR is measured on the same examples, with
  the same weak and ceiling baselines, as a full one.

A low-fidelity run costs its share of a full experiment: seeds used / study seeds × w2s fraction.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

SUBSET_STREAM = 7919  # a fixed stream of the split seed's generator, apart from the splits' own


def w2s_subset(n: int, fraction: float, split_seed: int) -> np.ndarray:
    """The sorted indices of the w2s_train rows a run at `fraction` trains on (all of them at 1.0).

    The same (n, fraction, split_seed) always gives the same rows, and a smaller fraction's rows are a
    prefix of the same permutation, so rungs nest.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"w2s fraction must be in (0, 1], got {fraction}")
    if fraction >= 1.0:
        return np.arange(n)
    keep = max(1, round(n * fraction))
    order = np.random.default_rng([split_seed, SUBSET_STREAM]).permutation(n)
    return np.sort(order[:keep])


def cost(seeds_used: int, study_seeds: int, w2s_fraction: float) -> float:
    """A run's charge in full-experiment units: seeds used / study seeds × w2s fraction (1.0 = full)."""
    return min(1.0, seeds_used / max(1, study_seeds)) * min(1.0, w2s_fraction)


def describe(seeds_used: int, w2s_fraction: float, rung: int = 0) -> str:
    """`rung 0: 2 seeds, 1/3 w2s_train`: how a low-fidelity run is marked in logs and the report."""
    share = Fraction(w2s_fraction).limit_denominator(12)
    part = "all of" if share >= 1 else f"{share.numerator}/{share.denominator}"
    return f"rung {rung}: {seeds_used} seed{'s' if seeds_used != 1 else ''}, {part} w2s_train"
