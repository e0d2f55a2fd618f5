"""The agent graph's typed state. Nodes return updates; `outcomes` and `events` accumulate."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from pydantic import BaseModel, Field

from aar.config import StudyConfig
from aar.researchers.types import Outcome, Proposal

__all__ = ["Candidate", "Outcome", "Proposal", "StudyState"]


class Candidate(BaseModel):
    """A proposal being implemented, audited and run."""

    hypothesis_id: int
    proposal: Proposal
    code: str = ""
    attempts: int = 0
    observations: list[str] = Field(default_factory=list)  # audit/smoke failures shown to implement
    status: str = "pending"  # pending | implemented | audited | failed | done


class StudyState(BaseModel):
    """The whole study, checkpointed after every node."""

    config: StudyConfig
    study_id: int
    round: int = 0
    proposals: list[Proposal] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    outcomes: Annotated[list[Outcome], operator.add] = Field(default_factory=list)
    naive: Outcome | None = None
    best: Outcome | None = None
    stalled_rounds: int = 0
    stop_reason: str | None = None
    finalists: list[dict[str, Any]] = Field(default_factory=list)
    report_path: str | None = None
