"""Audit findings as the report and dashboard show them: every rejection, a flag each, and the
hypotheses the audit made the agent give up ("rejected by audit: <first problem>")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from aar.report.data import Flag
from aar.store.crud import list_audit_findings
from aar.store.models import Experiment, Hypothesis, HypothesisStatus


@dataclass(frozen=True)
class AuditRow:
    """One audit rejection of a hypothesis's code."""

    hypothesis_id: int | None
    attempt: int
    stage: str
    problems: list[str]
    code_sha256: str | None
    created_at: datetime

    @property
    def first(self) -> str:
        """The first problem (what the one-line summaries show)."""
        return self.problems[0] if self.problems else "no problem recorded"

    @property
    def more(self) -> int:
        """How many problems beyond the first."""
        return max(0, len(self.problems) - 1)


@dataclass(frozen=True)
class AuditView:
    """A study's audit rejections, and its hypotheses given up after them (id → first problem)."""

    rows: list[AuditRow]
    rejected: dict[int, str]

    def flags(self) -> list[Flag]:
        """One flag per rejection, oldest first."""
        return [
            Flag(
                f"hypothesis H{r.hypothesis_id} (attempt {r.attempt}, {r.stage} audit)",
                f"rejected: {r.first}" + (f" (+{r.more} more)" if r.more else ""),
            )
            for r in self.rows
        ]


def audit_view(*, session: Session, study_id: int) -> AuditView:
    """Read a study's audit findings and which hypotheses were given up after them."""
    rows = [
        AuditRow(f.hypothesis_id, f.attempt, f.stage, list(f.problems), f.code_sha256, f.created_at)
        for f in list_audit_findings(session=session, study_id=study_id)
    ]
    # Given up by the audit: abandoned without a single experiment (a failed run is abandoned too).
    ran = select(Experiment.hypothesis_id).where(Experiment.study_id == study_id)
    query = select(Hypothesis.id).where(
        Hypothesis.study_id == study_id,
        Hypothesis.status == HypothesisStatus.ABANDONED,
        col(Hypothesis.id).not_in(ran.where(col(Experiment.hypothesis_id).is_not(None))),
    )
    abandoned = set(session.exec(query).all())
    last = {r.hypothesis_id: r.first for r in rows if r.hypothesis_id in abandoned}
    return AuditView(rows, {hid: first for hid, first in last.items() if hid is not None})
