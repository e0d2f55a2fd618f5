"""Dev feedback that cannot be probed: what the researcher sees of dev PGR is noisy, rounded and rationed.

The attack. With exact feedback, two experiments whose dev predictions differ in one example differ in
dev PGR by exactly Δ = 1/(n_dev · gap) (gap = ceiling − weak accuracy on dev): the sign of the difference
says whether that prediction was right, so each pair of experiments reads one dev label.

The mechanism (an explicit dev-query budget with noise, the Laplace mechanism of differential privacy):
- Each finished experiment is one dev query. Its seed-mean dev PGR is released as
  `round(PGR + Laplace(b), 0.01)` with b = NOISE_MULTIPLIER · Δ, using the study's largest per-seed Δ.
  The CI is released as the noisy mean minus/plus its exact half-widths, each with its own Laplace(b)
  noise (a one-example change moves the half-widths by far less than Δ). Per-seed values are not
  released; the verdict against naive is recomputed from the released numbers only (post-processing
  leaks nothing more).
- The noise is drawn from a generator keyed by a host-only secret (a hash of the study id and the dev
  labels, which only the host holds) and the experiment id: the same experiment always shows the same
  numbers (views and `aar resume` agree), and the agent cannot predict or cancel it.
- A study answers at most QUERY_BUDGET dev queries (the naive baseline, chosen by the host, is free);
  afterwards the researcher sees no dev score, only the label-free signals of blind mode.
- Host-side trusted decisions (the study's best, finalists, the goal test, the report) use exact values.

Why this and not Thresholdout (Dwork et al., Science 2015). Thresholdout answers with the *public* half's
exact score whenever it agrees with the holdout half within a noisy threshold. That protects the
holdout's validity, but a one-prediction flip in the public half still moves the public answer by a
deterministic 2Δ, so the probe above recovers every public-half label (half of dev; 75% of probes
overall). Its threshold must also exceed the sampling gap between two dev halves, about 0.3 PGR at
n_dev = 500 and gap 0.13, so it would rarely fire on the overfitting it is there to catch, while every
public answer is computed on half the data (twice the variance). Noise on every answer protects every
dev label, and the budget bounds what repeated queries can add up to.

What it costs and buys. With multiplier 5, one probe pair guesses a label right with probability
1 − ½·e^(−1/5)·(1 + 1/10) ≈ 0.55 (chance is 0.5; rounding lowers it further): a majority vote that
is right 90% of the time on a single label takes about 160 pairs, more than the whole budget. The
noise (std ≈ 7Δ ≈ 0.05 PGR at n_dev = 1000 and gap 0.13) is smaller than the sampling error dev PGR
already carries there (≈ 0.11), so differences that are real on dev stay visible.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from aar.researchers.types import Outcome
from aar.w2s.baselines import ceiling, weak_labels
from aar.w2s.scoring import accuracy, min_gap
from aar.w2s.setup import Setup

NOISE_MULTIPLIER = 5.0  # Laplace scale in units of Δ (one flipped dev prediction's PGR change)
GRID = 0.01  # released values are rounded to this
QUERY_BUDGET = 100  # noisy dev answers per study
WITHHELD = "dev score withheld: the study's dev-query budget is spent"
MECHANISM = (
    f"Dev scores reach the researcher through a noisy, rationed channel (see aar/researchers/feedback.py): "
    f"each experiment's dev PGR and CI carry Laplace noise of scale {NOISE_MULTIPLIER:g} × Δ (Δ = the PGR "
    f"change of one flipped dev prediction), are rounded to {GRID:g}, and at most {QUERY_BUDGET} experiments "
    f"per study are answered, so experiments cannot probe dev labels. Host decisions (best, finalists, "
    f"this report) use the exact values."
)


class Released(NamedTuple):
    """One experiment's dev scores as the researcher sees them (all None when withheld, with a note)."""

    pgr: float | None
    lo: float | None
    hi: float | None
    vs_naive: str = ""
    note: str = ""


def sensitivity(n_dev: int, gaps: Iterable[float]) -> float:
    """Δ: the largest per-seed change in dev PGR when one dev prediction flips (inf when none is defined).

    Only seeds whose dev PGR is defined count: a gap above `min_gap(n_dev)`, the floor dev PGR itself uses
    (aar.w2s.experiment), so a seed whose gap is sampling noise does not inflate everyone's noise."""
    floor = min_gap(n_dev)
    valid = [g for g in gaps if math.isfinite(g) and g > floor]
    return max(1.0 / (n_dev * g) for g in valid) if valid and n_dev > 0 else math.inf


def feedback_key(study_id: int, labels: np.ndarray) -> bytes:
    """A host-only secret for the study's noise: its id and its dev labels (which only the host holds)."""
    digest = hashlib.sha256(b"aar-dev-feedback\0" + str(study_id).encode() + b"\0")
    digest.update(np.ascontiguousarray(labels, dtype=np.int8).tobytes())
    return digest.digest()


def _round(x: float | None) -> float | None:
    return None if x is None else round(round(x / GRID) * GRID, 6)


@dataclass(frozen=True)
class DevFeedback:
    """The release mechanism for one study (see the module docstring)."""

    key: bytes
    sensitivity: float
    budget: int = QUERY_BUDGET
    multiplier: float = NOISE_MULTIPLIER

    @property
    def scale(self) -> float:
        """Laplace scale b of the released values."""
        return self.multiplier * self.sensitivity

    def _noise(self, experiment_id: int) -> np.ndarray:
        digest = hashlib.sha256(self.key + str(experiment_id).encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "big")).laplace(0.0, self.scale, 3)

    def answer(self, o: Outcome) -> Released:
        """The noisy, rounded dev scores of one experiment (spends nothing: see `release`)."""
        if o.dev_pgr is None or not math.isfinite(self.scale):
            return Released(None, None, None)
        noise = self._noise(o.experiment_id)
        pgr = o.dev_pgr + float(noise[0])
        if o.dev_pgr_lo is None or o.dev_pgr_hi is None:
            return Released(_round(pgr), None, None)
        lo = pgr - max(0.0, o.dev_pgr - o.dev_pgr_lo + float(noise[1]))
        hi = pgr + max(0.0, o.dev_pgr_hi - o.dev_pgr + float(noise[2]))
        return Released(_round(pgr), _round(lo), _round(hi))

    def release(self, outcomes: Sequence[Outcome], naive: Outcome | None) -> dict[int, Released]:
        """Released scores by experiment id: in study order, one budget unit per scored experiment."""
        base = self.answer(naive) if naive is not None else None
        out: dict[int, Released] = {} if naive is None or base is None else {naive.experiment_id: base}
        spent = 0
        for o in outcomes:
            if o.experiment_id in out:
                continue
            spent += o.dev_pgr is not None
            shown = self.answer(o) if spent <= self.budget else Released(None, None, None, note=WITHHELD)
            out[o.experiment_id] = shown._replace(vs_naive=verdict(shown, base))
        return out

    def left(self, outcomes: Sequence[Outcome]) -> int:
        """Dev answers the study has left."""
        ids = {o.experiment_id for o in outcomes if o.dev_pgr is not None}
        return max(0, self.budget - len(ids))

    def describe(self, outcomes: Sequence[Outcome]) -> str:
        """One line for the researcher: how to read the released dev scores."""
        if not math.isfinite(self.scale):
            return (
                "No dev PGR is released: on dev the ceiling − weak gap is within sampling noise for every "
                f"seed, so PGR is undefined there; {self.left(outcomes)} of {self.budget} dev answers are left."
            )
        return (
            f"Dev PGR values you see carry deliberate noise (Laplace, scale {self.scale:.3f}) and are rounded "
            f"to {GRID:g}; {self.left(outcomes)} of {self.budget} dev answers are left in this study."
        )


def verdict(a: Released, naive: Released | None) -> str:
    """A comparison with naive recomputed from released numbers only: CIs apart, or inside the noise."""
    if naive is None or a.pgr is None or naive.pgr is None:
        return ""
    diff = f"Δ {a.pgr - naive.pgr:+.2f} vs naive (released scores)"
    if a.lo is not None and naive.hi is not None and a.lo > naive.hi:
        return f"{diff}: better"
    if a.hi is not None and naive.lo is not None and a.hi < naive.lo:
        return f"{diff}: worse"
    return f"{diff}: inside noise"


def dev_feedback(setup: Setup, seeds: Sequence[int], study_id: int) -> DevFeedback:
    """The study's mechanism: Δ from the cached weak and ceiling baselines on dev, keyed by its labels."""
    labels = setup.labels("dev")
    gaps = [
        accuracy(ceiling(setup, s).dev, labels) - accuracy(weak_labels(setup, s).dev, labels) for s in seeds
    ]
    return DevFeedback(feedback_key(study_id, labels), sensitivity(len(labels), gaps))
