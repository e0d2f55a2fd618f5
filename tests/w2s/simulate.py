"""Simulated per-example scores for the statistics tests: a crossed design of seeds × examples.

Each example has a difficulty shared by every seed and arm; each seed an offset shared by its arms;
each (seed, example) a noise term mostly shared by the arms (correlated arms) plus an arm's own part.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from aar.w2s.experiment import CORRECT_KEYS, ExperimentResult, SeedResult, SplitScores
from aar.w2s.scoring import min_gap, pgr
from aar.w2s.stats import Correct

SHIFT = {"weak": 0.3, "ceiling": 1.3, "a": 0.95, "b": 0.8}  # arm's ease: higher → more examples right
TAU, SHARED, OWN = 0.15, 0.8, 0.4  # seed offset SD, shared and own (seed, example) noise SDs


def simulate(
    rng: np.random.Generator, n: int, k: int, own: float = OWN, shared: float = SHARED
) -> tuple[Correct, Correct]:
    """Arms a and b (same weak and ceiling) on n examples and k seeds."""
    z = rng.normal(size=n)
    offset = rng.normal(0, TAU, size=(k, 1))
    noise = shared * rng.normal(size=(k, n))

    def arm(name: str) -> np.ndarray:
        return (z + SHIFT[name] + offset + noise + own * rng.normal(size=(k, n))) > 0

    weak, ceiling, seeds = arm("weak"), arm("ceiling"), tuple(range(k))
    return Correct(seeds, weak, ceiling, arm("a")), Correct(seeds, weak, ceiling, arm("b"))


def true_delta(own: float = OWN) -> float:
    """The population PGR of arm a minus arm b: the expectation over seed offsets, examples integrated out."""
    offsets = np.random.default_rng(123).normal(0, TAU, 200_000)
    sd = np.sqrt(1 + SHARED**2 + own**2)
    acc = {name: norm.cdf((shift + offsets) / sd) for name, shift in SHIFT.items()}
    return float(np.mean((acc["a"] - acc["b"]) / (acc["ceiling"] - acc["weak"])))


def as_result(c: Correct, split: str = "dev", method: str = "m") -> ExperimentResult:
    """An ExperimentResult holding `c` as its per-example scores on `split`, with the matching accuracies."""
    seeds = []
    for i, seed in enumerate(c.seeds):
        weak, ceil, w2s = (float(m[i].mean()) for m in (c.weak, c.ceiling, c.w2s))
        scores = SplitScores(weak, ceil, w2s, 0.5, pgr(weak, ceil, w2s, min_gap(c.n)).value, [])
        rows = (c.weak[i], c.ceiling[i], c.w2s[i])
        scores.correct = {
            k: "".join("1" if x else "0" for x in row) for k, row in zip(CORRECT_KEYS, rows, strict=True)
        }
        seeds.append(SeedResult(seed, {split: scores}))
    return ExperimentResult("t", "a→b", "probe", method, list(c.seeds), {}, "ok", 0.0, seeds)
