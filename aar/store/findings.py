"""The findings board: what each researcher of a study tried, what helped, and on which gap.

One row per hypothesis that reached a result (or was answered by an identical experiment already run:
`duplicate`). A later study on the same task fingerprint and model pair reads the rows of earlier
studies as priors (`prior_findings`). Rows hold numbers and names only, never a job's output.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from aar.store.models import ResearchFinding, ResearchFindingCreate

PRIOR_LIMIT = 200  # newest rows read as priors


def record_finding(*, session: Session, study_id: int, finding_in: ResearchFindingCreate) -> ResearchFinding:
    """Add one row to a study's findings board; a hypothesis already posted keeps its row (a resumed
    study may analyze a round again)."""
    if finding_in.hypothesis_id is not None:
        query = select(ResearchFinding).where(
            ResearchFinding.study_id == study_id, ResearchFinding.hypothesis_id == finding_in.hypothesis_id
        )
        if (posted := session.exec(query).first()) is not None:
            return posted
    row = ResearchFinding.model_validate(finding_in, update={"study_id": study_id})
    session.add(row)
    session.flush()
    return row


def list_findings(*, session: Session, study_id: int) -> list[ResearchFinding]:
    """A study's findings board, oldest first."""
    query = select(ResearchFinding).where(ResearchFinding.study_id == study_id)
    return list(session.exec(query.order_by(col(ResearchFinding.id))).all())


def prior_findings(
    *, session: Session, task_fingerprint: str, pair: str, exclude_study_id: int, limit: int = PRIOR_LIMIT
) -> list[ResearchFinding]:
    """Findings of earlier studies on the same task and pair whose Δ their researcher was shown (dev
    feedback, not duplicates), newest first: the priors of a new study."""
    query = (
        select(ResearchFinding)
        .where(
            ResearchFinding.task_fingerprint == task_fingerprint,
            ResearchFinding.pair == pair,
            ResearchFinding.study_id != exclude_study_id,
            ResearchFinding.feedback == "dev",
            col(ResearchFinding.duplicate).is_(False),
            col(ResearchFinding.shown_delta).is_not(None),
        )
        .order_by(col(ResearchFinding.id).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())
