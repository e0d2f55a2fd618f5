"""Dev feedback that cannot be probed: the one-prediction flip attack, for real, against the released scores.

Scores come from the host's own scoring code (accuracy, PGR, bootstrap CI) on synthetic labels and
predictions; the attacker sees only what `DevFeedback.release` gives the researcher.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aar.graph.nodes import visible
from aar.graph.state import Outcome
from aar.researchers.feedback import GRID, WITHHELD, DevFeedback, feedback_key, sensitivity
from aar.w2s.scoring import accuracy, pgr
from aar.w2s.stats import bootstrap_ci

N_DEV, SEEDS = 1000, 3


def _noisy(y: np.ndarray, acc: float, rng: np.random.Generator) -> np.ndarray:
    """Soft predictions right on a random `acc` share of the examples."""
    right = rng.random(len(y)) < acc
    hard = np.where(right, y, 1 - y)
    return np.where(hard == 1, 0.8, 0.2)


class Dev:
    """A dev split with per-seed weak and ceiling predictions (weak ≈ 0.63, ceiling ≈ 0.76)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.y = rng.integers(0, 2, N_DEV)
        self.weak = [_noisy(self.y, 0.63, rng) for _ in range(SEEDS)]
        self.ceil = [_noisy(self.y, 0.76, rng) for _ in range(SEEDS)]
        self.rng = rng

    def gaps(self) -> list[float]:
        return [accuracy(c, self.y) - accuracy(w, self.y) for w, c in zip(self.weak, self.ceil, strict=True)]

    def outcome(self, experiment_id: int, preds: list[np.ndarray]) -> Outcome:
        """An outcome scored exactly as the host scores one (per-seed PGR, mean and bootstrap CI)."""
        by_seed = {
            s: pgr(accuracy(self.weak[s], self.y), accuracy(self.ceil[s], self.y), accuracy(p, self.y)).value
            for s, p in enumerate(preds)
        }
        est = bootstrap_ci([v for v in by_seed.values() if v is not None])
        return Outcome(hypothesis_id=1, experiment_id=experiment_id, method="m", status="ok", dev_pgr=est.mean,
                       dev_pgr_lo=est.lo, dev_pgr_hi=est.hi, dev_pgr_by_seed=by_seed)  # type: ignore[arg-type]  # fmt: skip

    def method(self, acc: float) -> list[np.ndarray]:
        return [_noisy(self.y, acc, self.rng) for _ in range(SEEDS)]

    def mechanism(self, study_id: int) -> DevFeedback:
        return DevFeedback(feedback_key(study_id, self.y), sensitivity(N_DEV, self.gaps()))


def _flip(preds: list[np.ndarray], i: int) -> list[np.ndarray]:
    out = [p.copy() for p in preds]
    for p in out:
        p[i] = 1 - p[i]
    return out


def _probe(dev: Dev, studies: int, pairs: int, exact: bool) -> float:
    """The attacker's label-recovery rate: per pair, one method and the same with one prediction flipped."""
    hits = trials = 0
    base = [dev.method(0.68)[0]] * SEEDS  # the attacker's method predicts the same on every seed
    scored = dev.outcome(0, base)
    for study in range(studies):
        mech, outcomes, targets = dev.mechanism(study), [], []
        for k in range(pairs):
            i = int(dev.rng.integers(N_DEV))
            outcomes += [
                scored.model_copy(update={"experiment_id": 2 * k}),
                dev.outcome(2 * k + 1, _flip(base, i)),
            ]
            targets.append(i)
        shown = mech.release(outcomes, None)
        for k, i in enumerate(targets):
            a, b = outcomes[2 * k], outcomes[2 * k + 1]
            if not exact:  # what the researcher is shown (aar.graph.nodes.visible, as in every view)
                a, b = visible(a, "dev", shown), visible(b, "dev", shown)
            assert a is not None and b is not None
            da, db = a.dev_pgr, b.dev_pgr
            assert da is not None and db is not None
            # Flipping hurt (or a tie, read as hurt): the original prediction was right.
            guess = int(base[0][i] > 0.5) if db <= da else 1 - int(base[0][i] > 0.5)
            hits += guess == dev.y[i]
            trials += 1
    return hits / trials


def test_exact_feedback_reveals_every_probed_label():
    assert _probe(Dev(1), studies=1, pairs=50, exact=True) == 1.0  # the attack in issue 9, item 5


def test_released_feedback_makes_the_probe_near_chance():
    rate = _probe(Dev(2), studies=20, pairs=50, exact=False)  # 1,000 probes, 20 studies' whole budgets
    print(f"label recovery through released feedback: {rate:.3f}")
    assert 0.44 < rate < 0.60, rate  # chance is 0.5; the mechanism's bound is ≈ 0.55


def test_honest_differences_larger_than_the_noise_stay_visible():
    dev = Dev(3)
    mech = dev.mechanism(0)
    agree = []
    for k in range(100):
        weaker, stronger = dev.outcome(2 * k, dev.method(0.66)), dev.outcome(2 * k + 1, dev.method(0.72))
        if (stronger.dev_pgr or 0) - (weaker.dev_pgr or 0) > 0.2:  # a real gain, ~4x the noise's std
            shown = mech.release([weaker, stronger], None)
            agree.append((shown[2 * k + 1].pgr or 0) > (shown[2 * k].pgr or 0))
    assert len(agree) >= 50 and sum(agree) >= 0.97 * len(agree), (len(agree), sum(agree))
    assert mech.scale < 0.05  # Laplace scale: std ≈ 0.06, well below the gain


def test_released_values_are_rounded_deterministic_and_rationed():
    dev = Dev(4)
    mech = DevFeedback(feedback_key(7, dev.y), sensitivity(N_DEV, dev.gaps()), budget=3)
    preds = dev.method(0.7)
    naive = dev.outcome(100, dev.method(0.65))
    failed = Outcome(hypothesis_id=2, experiment_id=50, method="m", status="failed")
    outcomes = [
        dev.outcome(1, preds),
        failed,
        dev.outcome(2, preds),
        dev.outcome(3, preds),
        dev.outcome(4, preds),
    ]
    shown = mech.release(outcomes, naive)
    assert shown == mech.release(outcomes, naive)  # the same numbers in every view and after a resume
    for r in (shown[1], shown[2], shown[3], shown[100]):
        assert r.pgr is not None and r.lo is not None and r.hi is not None
        assert r.lo <= r.pgr <= r.hi and all(
            abs(v / GRID - round(v / GRID)) < 1e-6 for v in (r.pgr, r.lo, r.hi)
        )
        assert "vs naive (released scores)" in r.vs_naive or r is shown[100]
    assert shown[1].pgr != outcomes[0].dev_pgr  # not the exact value
    assert shown[4].pgr is None and shown[4].note == WITHHELD  # the fourth scored query: budget spent
    assert shown[50].pgr is None and shown[50].note == ""  # a failed job costs nothing
    assert mech.left(outcomes) == 0 and "0 of 3" in mech.describe(outcomes)
    other = DevFeedback(feedback_key(8, dev.y), mech.sensitivity).release(outcomes, naive)
    assert other[1].pgr != shown[1].pgr or other[2].pgr != shown[2].pgr  # another study, other noise


def test_sensitivity_is_one_flip_over_the_smallest_gap():
    assert sensitivity(500, [0.10, 0.20]) == pytest.approx(1 / 50)
    assert math.isinf(sensitivity(500, [0.005, math.nan]))  # no defined PGR: nothing to release
    # A gap of 0.02 on 500 dev examples is below min_gap(500) ≈ 0.032: that seed's dev PGR is undefined,
    # so it must not set Δ (it would make Δ 1/10 instead of 1/50).
    assert sensitivity(500, [0.02, 0.10]) == pytest.approx(1 / 50)
    undefined = DevFeedback(b"k", sensitivity(500, [0.02]))
    assert "No dev PGR is released" in undefined.describe([]) and "inf" not in undefined.describe([])
