"""The agent graph's typed state. Nodes return updates; `outcomes` merge by experiment id."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from aar.config import StudyConfig
from aar.researchers.types import Outcome, Proposal

__all__ = ["Candidate", "Outcome", "Proposal", "StudyState", "merge_outcomes"]


class Candidate(BaseModel):
    """A proposal being implemented, audited and run."""

    hypothesis_id: int
    proposal: Proposal
    code: str = ""
    attempts: int = 0
    observations: list[str] = Field(default_factory=list)  # audit/smoke failures shown to implement
    status: str = "pending"  # pending | implemented | audited | failed | done
    researcher: int = 0  # which of the study's researchers proposed it (`--researchers N`), 0-based
    # The experiment whose result it shares: an identical one (same code, same hyperparameters) ran first.
    duplicate_of: int | None = None


def merge_outcomes(old: list[Outcome], new: list[Outcome]) -> list[Outcome]:
    """The `outcomes` reducer: an outcome for an experiment already in the list replaces it (a node that
    adds verdicts returns new copies, never edits in place); any other is appended, in order."""
    replaced = {o.experiment_id: o for o in new}
    merged = [replaced.pop(o.experiment_id, o) for o in old]
    return merged + [o for o in new if o.experiment_id in replaced]


class StudyState(BaseModel):
    """The whole study, checkpointed after every node."""

    config: StudyConfig
    study_id: int
    round: int = 0
    proposals: list[Proposal] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    outcomes: Annotated[list[Outcome], merge_outcomes] = Field(default_factory=list)
    naive: Outcome | None = None
    best: Outcome | None = None
    stalled_rounds: int = 0
    stop_reason: str | None = None
    finalists: list[dict[str, Any]] = Field(default_factory=list)
    report_path: str | None = None
