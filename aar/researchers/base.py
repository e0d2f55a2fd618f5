"""What a researcher sees and must do. The view is built by the graph and respects the feedback mode."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aar.graph.state import Outcome, Proposal


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


def score_of(outcome: Outcome, feedback: str) -> float | None:
    """The number a researcher ranks by: dev PGR, or in blind mode a label-free signal (confidence)."""
    if outcome.status != "ok":
        return None
    if feedback == "blind":
        value = outcome.signals.get("confidence")
        return None if value is None else float(value)
    return outcome.dev_pgr
