"""The agent graph's typed state. Nodes return updates; `outcomes` and `events` accumulate."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from pydantic import BaseModel, Field

from aar.config import StudyConfig


class Proposal(BaseModel):
    """A hypothesis: what to change, why, and what it should do to PGR."""

    text: str
    rationale: str = ""
    expected_effect: str = ""
    base_method: str = "naive"  # the library method it starts from (builtin) or names (llm)
    hparams: dict[str, Any] = Field(default_factory=dict)
    parent_id: int | None = None


class Candidate(BaseModel):
    """A proposal being implemented, audited and run."""

    hypothesis_id: int
    proposal: Proposal
    code: str = ""
    attempts: int = 0
    observations: list[str] = Field(default_factory=list)  # audit/smoke failures shown to implement
    status: str = "pending"  # pending | implemented | audited | failed | done


class Outcome(BaseModel):
    """What an experiment measured. `dev_*` scores are withheld from the researcher in blind mode."""

    hypothesis_id: int | None
    experiment_id: int
    method: str
    hparams: dict[str, Any] = Field(default_factory=dict)
    status: str
    error: str = ""
    dev_pgr: float | None = None
    dev_pgr_lo: float | None = None
    dev_pgr_hi: float | None = None
    dev_pgr_by_seed: dict[int, float] = Field(default_factory=dict)
    signals: dict[str, float | None] = Field(default_factory=dict)  # label-free, always visible
    verdict_vs_naive: str = ""
    verdict_vs_best: str = ""
    code: str = ""


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
