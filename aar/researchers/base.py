"""What a researcher sees and must do. The view is built by the graph and respects the feedback mode."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aar.researchers.types import Outcome, Prior, Proposal

if TYPE_CHECKING:
    from aar.w2s.experiment import ExperimentResult


@dataclass(frozen=True)
class ResearchView:
    """Everything a researcher may see. In blind mode no ground-truth score is in here; in dev mode only
    released ones (noisy, rounded, rationed: aar/researchers/feedback.py), and of a failed job only its
    status and exception type (aar/researchers/untrusted.py)."""

    goal: str
    task: str
    pair: str
    template: str
    feedback: str
    round: int
    per_round: int
    template_defaults: dict[str, Any]
    template_space: dict[str, Any]
    library: dict[str, str]  # library method name -> source code
    library_spaces: dict[str, dict[str, Any]]
    history: list[Outcome]  # dev scores released (dev mode) or blanked (blind mode)
    naive: Outcome | None
    best: Outcome | None
    budget_left: dict[str, float | None] = field(default_factory=dict)
    feedback_note: str = ""  # how to read the released dev scores (noise, rounding, answers left)
    # Parallel researchers (`--researchers N`): who is asking (0-based), how many share the study, and
    # what the others already proposed this round (so as not to propose it again).
    researcher: int = 0
    team: int = 1
    claimed: tuple[Proposal, ...] = ()
    # Earlier studies' findings on the same task and pair (dev mode only; none in blind mode).
    priors: tuple[Prior, ...] = ()
    # The study's seeds per full experiment and the w2s_train rows it has: what a low-fidelity run
    # (Proposal.fidelity) may take a part of. 0: unknown (no low fidelity).
    seeds: int = 0
    w2s_train_size: int = 0


@dataclass(frozen=True)
class Decision:
    action: str  # continue | stop
    reason: str


class Researcher(Protocol):
    """A policy: proposes hypotheses, writes their method code, reads results, decides."""

    name: str

    def propose(self, view: ResearchView) -> list[Proposal]: ...

    def implement(self, proposal: Proposal, observations: list[str], view: ResearchView) -> str: ...

    def analyze(self, outcome: Outcome, view: ResearchView) -> str: ...

    def decide(self, view: ResearchView) -> Decision: ...


# A ranked outcome's dev predictions must use both classes and vary: a constant or one-class prediction
# is no weak-to-strong method, however confident (it scores confidence 1.0 in blind mode).
MIN_MINORITY_RATE = 0.05  # the rarer predicted class's share, on the worst seed
MIN_SPREAD = 1e-3  # std of the predicted probabilities, on the worst seed


def prediction_signals(result: ExperimentResult, split: str = "dev") -> dict[str, float | None]:
    """Label-free shape of the predictions: mean positive rate, and the worst seed's minority rate and spread."""
    rates = (
        [v for v in result.values(split, "positive_rate") if not math.isnan(v)] if result.seed_results else []
    )
    spreads = [v for v in result.values(split, "spread") if not math.isnan(v)] if result.seed_results else []
    return {
        "positive_rate": sum(rates) / len(rates) if rates else None,
        "minority_rate": min(min(r, 1 - r) for r in rates) if rates else None,
        "spread": min(spreads) if spreads else None,
    }


def degenerate(outcome: Outcome) -> str:
    """Why the outcome's dev predictions are (nearly) one class or constant; "" when they are not."""
    minority, spread = outcome.signals.get("minority_rate"), outcome.signals.get("spread")
    if minority is not None and minority < MIN_MINORITY_RATE:
        return f"one-class predictions (rarer class {minority:.1%} of dev on the worst seed)"
    if spread is not None and spread < MIN_SPREAD:
        return f"constant predictions (std of p {spread:.1e} on the worst seed)"
    return ""


def full_score(outcome: Outcome, feedback: str) -> float | None:
    """`score_of` for a full-fidelity outcome; None for a low-fidelity one (a rung of the multi-fidelity
    search), which never counts as the best, a verdict, a finalist or a convergence step."""
    return None if outcome.fidelity is not None else score_of(outcome, feedback)


def score_of(outcome: Outcome, feedback: str) -> float | None:
    """The number a researcher ranks by: dev PGR, or in blind mode a label-free signal (confidence).

    None (not ranked) for a failed outcome and for degenerate predictions (see `degenerate`).
    """
    if outcome.status != "ok" or degenerate(outcome):
        return None
    if feedback == "blind":
        value = outcome.signals.get("confidence")
        return None if value is None else float(value)
    return outcome.dev_pgr
