"""Keyword-only CRUD for studies, hypotheses, experiments and audit findings.

Functions add to the caller's session and flush; the caller's transaction (`Store.session()`) commits.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, update
from sqlmodel import Session, SQLModel, col, select

from aar.errors import UserError
from aar.store.models import (
    AuditFinding,
    AuditFindingCreate,
    Experiment,
    ExperimentCreate,
    Hypothesis,
    HypothesisCreate,
    HypothesisStatus,
    Study,
    StudyCreate,
    StudyStatus,
    utcnow,
)


class NotFoundError(UserError):
    """A study, hypothesis or experiment that the store does not hold."""


Row = TypeVar("Row", bound=SQLModel)


def save(session: Session, row: Row) -> Row:
    """Add `row` to the session and flush it (so it has its id); the caller's transaction commits."""
    session.add(row)
    session.flush()
    return row


def _get(session: Session, model: type[Row], row_id: int, what: str) -> Row:
    """The `model` row with this id; NotFoundError (`no <what> with id …`) when there is none."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"no {what} with id {row_id}")
    return row


class _OfStudy(Protocol):
    """A table whose rows belong to a study and may name a hypothesis."""

    id: int | None
    study_id: int
    hypothesis_id: int | None


StudyRow = TypeVar("StudyRow", bound=_OfStudy)


def _of_study(
    session: Session, model: type[StudyRow], study_id: int, hypothesis_id: int | None
) -> list[StudyRow]:
    """The study's `model` rows (of one hypothesis, if given), in id order."""
    query = select(model).where(model.study_id == study_id)
    if hypothesis_id is not None:
        query = query.where(model.hypothesis_id == hypothesis_id)
    return list(session.exec(query.order_by(col(model.id))).all())


def create_study(*, session: Session, study_in: StudyCreate) -> Study:
    """Create a study; its name must be new to the store."""
    if session.exec(select(Study.id).where(Study.name == study_in.name)).first() is not None:
        raise UserError(f"a study named {study_in.name!r} already exists")
    study = Study.model_validate(study_in)
    return save(session, study)


def get_study(*, session: Session, study_id: int) -> Study:
    """The study with this id."""
    return _get(session, Study, study_id, "study")


def find_study(*, session: Session, ref: str) -> Study:
    """The study named `ref`, or with id `ref` when no study has that name."""
    study = session.exec(select(Study).where(Study.name == ref)).first()
    if study is None and ref.isdigit():
        study = session.get(Study, int(ref))
    if study is None:
        raise NotFoundError(f"no study named {ref!r} (see `aar ls`)")
    return study


def set_study_status(
    *,
    session: Session,
    study_id: int,
    status: StudyStatus,
    report_sha256: str | None = None,
    stop_reason: str | None = None,
) -> Study:
    """Move a study to `status` (with why it ended), stamping `finished_at` when it ends.

    The conditional moves of a live study (resume, stop, heartbeat) are in `states`.
    """
    study = get_study(session=session, study_id=study_id)
    study.status = status
    study.updated_at = utcnow()
    study.finished_at = None if status == StudyStatus.RUNNING else study.updated_at
    if stop_reason is not None:
        study.stop_reason = stop_reason
    if report_sha256 is not None:
        study.report_sha256 = report_sha256
    return save(session, study)


def set_budget_limits(*, session: Session, study_id: int, limits: dict[str, float]) -> dict[str, float]:
    """Replace some of a study's budget limits (`aar resume --deadline …`); returns the ones they replace."""
    study = get_study(session=session, study_id=study_id)
    before = {kind: study.budget_limits[kind] for kind in limits if kind in study.budget_limits}
    study.budget_limits = {**study.budget_limits, **limits}  # a new dict: the JSON column sees the change
    study.updated_at = utcnow()
    save(session, study)
    return before


def create_hypothesis(*, session: Session, study_id: int, hypothesis_in: HypothesisCreate) -> Hypothesis:
    """Add a hypothesis to a study's tree (under `parent_id` when given)."""
    get_study(session=session, study_id=study_id)
    if hypothesis_in.parent_id is not None:
        parent = get_hypothesis(session=session, hypothesis_id=hypothesis_in.parent_id)
        if parent.study_id != study_id:
            raise UserError(f"hypothesis {parent.id} belongs to another study")
    hypothesis = Hypothesis.model_validate(hypothesis_in, update={"study_id": study_id})
    return save(session, hypothesis)


def get_hypothesis(*, session: Session, hypothesis_id: int) -> Hypothesis:
    """The hypothesis with this id."""
    return _get(session, Hypothesis, hypothesis_id, "hypothesis")


def update_hypothesis(
    *, session: Session, hypothesis_id: int, status: HypothesisStatus, finding: str | None = None
) -> Hypothesis:
    """Record what testing a hypothesis found."""
    hypothesis = get_hypothesis(session=session, hypothesis_id=hypothesis_id)
    hypothesis.status = status
    if finding is not None:
        hypothesis.finding = finding
    hypothesis.updated_at = utcnow()
    return save(session, hypothesis)


def next_experiment_number(*, session: Session, study_id: int) -> int:
    """Hand out the study's next experiment number; one atomic UPDATE, so workers never collide."""
    bumped = session.exec(
        update(Study)
        .where(col(Study.id) == study_id)
        .values(experiment_counter=Study.experiment_counter + 1)
        .returning(col(Study.experiment_counter))
    ).scalar_one_or_none()
    if bumped is None:
        raise NotFoundError(f"no study with id {study_id}")
    return int(bumped)


def create_experiment(*, session: Session, study_id: int, experiment_in: ExperimentCreate) -> Experiment:
    """Queue an experiment; it gets the study's next number."""
    if experiment_in.hypothesis_id is not None:
        hypothesis = get_hypothesis(session=session, hypothesis_id=experiment_in.hypothesis_id)
        if hypothesis.study_id != study_id:
            raise UserError(f"hypothesis {hypothesis.id} belongs to another study")
    number = next_experiment_number(session=session, study_id=study_id)
    extra: dict[str, Any] = {"study_id": study_id, "number": number}
    experiment = Experiment.model_validate(experiment_in, update=extra)
    return save(session, experiment)


def get_experiment(*, session: Session, experiment_id: int) -> Experiment:
    """The experiment with this id."""
    return _get(session, Experiment, experiment_id, "experiment")


def find_experiment(*, session: Session, experiment_id: int) -> Experiment | None:
    """The experiment with this id, or None."""
    return session.get(Experiment, experiment_id)


def list_experiments(
    *, session: Session, study_id: int, hypothesis_id: int | None = None
) -> list[Experiment]:
    """The study's experiments (of one hypothesis, if given), in id order."""
    return _of_study(session, Experiment, study_id, hypothesis_id)


def merge_experiment_config(
    *, session: Session, experiment_id: int, extra: dict[str, Any]
) -> Experiment | None:
    """Add `extra` to an experiment's config (its keys win); None if there is no such experiment."""
    experiment = session.get(Experiment, experiment_id)
    if experiment is not None:
        experiment.config = {**experiment.config, **extra}
        save(session, experiment)
    return experiment


def record_audit_finding(*, session: Session, study_id: int, finding_in: AuditFindingCreate) -> AuditFinding:
    """Record one audit rejection of a method's code."""
    finding = AuditFinding.model_validate(finding_in, update={"study_id": study_id})
    return save(session, finding)


def list_audit_findings(
    *, session: Session, study_id: int, hypothesis_id: int | None = None
) -> list[AuditFinding]:
    """The study's audit rejections (of one hypothesis, if given), oldest first."""
    return _of_study(session, AuditFinding, study_id, hypothesis_id)


def delete_study(*, session: Session, study_id: int) -> dict[str, int]:
    """Delete a study and every row that belongs to it; return the rows deleted per table.

    Every table with a `study_id` column, and those hanging off an experiment (scores, curve points),
    children first. Artifacts stay: they are content-addressed and other studies may share them.
    """
    get_study(session=session, study_id=study_id)
    experiments = select(Experiment.id).where(Experiment.study_id == study_id).scalar_subquery()
    counts: dict[str, int] = {}
    for table in reversed(SQLModel.metadata.sorted_tables):
        if "study_id" in table.c:
            condition = table.c.study_id == study_id
        elif "experiment_id" in table.c:
            condition = table.c.experiment_id.in_(experiments)
        else:
            continue
        counts[table.name] = int(session.exec(delete(table).where(condition)).rowcount or 0)  # type: ignore[call-overload]
    counts["study"] = int(session.exec(delete(Study).where(col(Study.id) == study_id)).rowcount or 0)  # type: ignore[call-overload]
    return counts
