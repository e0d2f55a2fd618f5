"""The state machines: a study's lifecycle and an experiment's.

A study: running → finished | stopped (by the user) | failed (with its reason) | interrupted (its host
died: no heartbeat for STALE_AFTER_S); every state but finished goes back to running on `aar resume`.
`aar run --enqueue` makes it queued first; a worker claims the oldest queued study (queued → running,
one conditional UPDATE, so two workers never both take it).
The process running a study beats its heartbeat and reads `aar stop`'s request in one call (`beat`).

An experiment: queued → running → ok | failed | timeout | oom | killed | invalid_output. Every move is one conditional UPDATE (`… WHERE status IN (allowed sources)`), so two workers can never
both start, or both finish, the same experiment: the loser gets `InvalidTransitionError` and writes
nothing. A run found `running` when a study is reopened after a crash becomes `interrupted`, loses its
partial curve points and scores, and is queued again.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from aar.errors import AarError, UserError
from aar.store.crud import get_experiment, get_study
from aar.store.models import (
    STALE_AFTER_S,
    CurvePoint,
    CurvePointBase,
    Experiment,
    ExperimentStatus,
    Score,
    ScoreBase,
    Study,
    StudyPublic,
    StudyStatus,
    heartbeat_stale,
    stale_reason,
    utcnow,
)
from aar.store.records import add_curve_points, add_scores, charge_budget

S = ExperimentStatus
TERMINAL = frozenset({S.OK, S.FAILED, S.TIMEOUT, S.OOM, S.KILLED, S.INVALID_OUTPUT})
TRANSITIONS: dict[ExperimentStatus, frozenset[ExperimentStatus]] = {
    S.QUEUED: frozenset({S.RUNNING, S.KILLED}),
    S.RUNNING: TERMINAL | {S.INTERRUPTED},
    S.INTERRUPTED: frozenset({S.QUEUED}),
}


RESUMABLE = frozenset({StudyStatus.STOPPED, StudyStatus.FAILED, StudyStatus.INTERRUPTED})
STUDY_ENDS = frozenset(
    {StudyStatus.FINISHED, StudyStatus.STOPPED, StudyStatus.FAILED, StudyStatus.INTERRUPTED}
)
STOP_REQUESTED = "stopped by the user (aar stop)"


class StudyStateError(UserError):
    """A study is not in a state that allows what was asked (resume a live one, stop a stopped one)."""


def shown_status(study: Study) -> str:
    """The study's status as every view shows it (a running study with a stale heartbeat is interrupted)."""
    return StudyPublic.model_validate(study).status


def begin_study_run(*, session: Session, study_id: int) -> Study:
    """Mark a study running in this process: from a new row, or from stopped, failed or interrupted.

    Raises:
        StudyStateError: The study is finished, or running with a live heartbeat (another process).
    """
    stale = utcnow() - timedelta(seconds=STALE_AFTER_S)
    silent = or_(col(Study.heartbeat_at).is_(None), col(Study.heartbeat_at) < stale)
    owner = get_study(session=session, study_id=study_id).worker
    if owner is not None and worker_is_dead(owner):  # killed on this host: no need to wait for staleness
        silent = or_(silent, col(Study.worker) == owner)
    dead_host = (col(Study.status) == StudyStatus.RUNNING) & silent
    moved = session.exec(
        update(Study)
        .where(col(Study.id) == study_id, or_(col(Study.status).in_(RESUMABLE), dead_host))
        .values(status=StudyStatus.RUNNING, stop_reason=None, stop_requested_at=None, finished_at=None,
                heartbeat_at=utcnow(), updated_at=utcnow(), worker=this_worker())
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    study = get_study(session=session, study_id=study_id)
    session.refresh(study)
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        if study.status == StudyStatus.FINISHED:
            raise StudyStateError(f"study {study.name!r} is finished; there is nothing to resume")
        if study.status == StudyStatus.QUEUED:
            raise StudyStateError(f"study {study.name!r} is queued; a worker (`aar worker`) will run it")
        raise StudyStateError(
            f"study {study.name!r} is running in another process (heartbeat {study.heartbeat_at:%H:%M:%S} UTC);"
            f" stop it first with `aar stop {study.name}`"
        )
    return study


def queue_study(*, session: Session, study_id: int) -> Study:
    """Mark a new study queued: no worker, no heartbeat, until `claim_queued_study` takes it."""
    study = get_study(session=session, study_id=study_id)
    study.status, study.heartbeat_at, study.worker = StudyStatus.QUEUED, None, None
    study.updated_at = utcnow()
    session.add(study)
    session.flush()
    return study


Claimed = TypeVar("Claimed")


def claim_first(
    session: Session, candidates: SelectOfScalar[Any], take: Callable[[int], Claimed | None]
) -> Claimed | None:
    """The first of `candidates` (row ids, in queue order) that `take` moves; None when none is left.

    On PostgreSQL the candidate row is locked with SKIP LOCKED so workers do not wait on each other;
    `take`'s conditional UPDATE makes it correct on any database: of two workers, one moves the row, the
    other's `take` returns None and it tries the next candidate.
    """
    query = candidates.limit(1).with_for_update(skip_locked=True)
    for _ in range(100):
        row_id = session.exec(query).first()
        if row_id is None:
            return None
        if (taken := take(row_id)) is not None:
            return taken
    return None


def claim_queued_study(*, session: Session, worker: str | None = None) -> Study | None:
    """Take the oldest queued study for this process (queued → running); None when the queue is empty."""
    queued = select(Study.id).where(col(Study.status) == StudyStatus.QUEUED).order_by(col(Study.id))
    return claim_first(session, queued, lambda study_id: _run_queued(session, study_id, worker))


def _run_queued(session: Session, study_id: int, worker: str | None) -> Study | None:
    """queued → running in one conditional UPDATE; None when another worker took the study first."""
    moved = session.exec(
        update(Study)
        .where(col(Study.id) == study_id, col(Study.status) == StudyStatus.QUEUED)
        .values(status=StudyStatus.RUNNING, heartbeat_at=utcnow(), updated_at=utcnow(),
                worker=worker or this_worker())
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    study = get_study(session=session, study_id=study_id)
    session.refresh(study)
    return study


def set_budget_limits_of(*, session: Session, study_id: int, limits: dict[str, float]) -> None:
    """Write a study's budget limits (a queued study's deadline starts when a worker takes it)."""
    session.exec(
        update(Study)
        .where(col(Study.id) == study_id)
        .values(budget_limits=dict(limits), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def end_study_run(*, session: Session, study_id: int, status: StudyStatus, stop_reason: str) -> bool:
    """running → `status`, with why; False (nothing written) when the study was no longer running."""
    if status not in STUDY_ENDS:
        raise ValueError(f"{status} is not where a study run ends")
    now = utcnow()
    moved = session.exec(
        update(Study)
        .where(col(Study.id) == study_id, col(Study.status) == StudyStatus.RUNNING)
        .values(status=status, stop_reason=stop_reason, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def beat(*, session: Session, study_id: int) -> str | None:
    """Write a running study's heartbeat; return why it must stop (`aar stop`, or it is no longer running)."""
    moved = session.exec(
        update(Study)
        .where(col(Study.id) == study_id, col(Study.status) == StudyStatus.RUNNING)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        study = session.get(Study, study_id)
        return "the study was deleted" if study is None else f"the study was marked {study.status} elsewhere"
    requested = session.exec(select(Study.stop_requested_at).where(col(Study.id) == study_id)).first()
    return STOP_REQUESTED if requested is not None else None


def request_stop(*, session: Session, study_id: int) -> str:
    """Ask a running study to stop after its running job; a study whose host died is marked interrupted.

    A queued study no worker took yet is cancelled: marked stopped, so no worker ever runs it.

    Returns the study's state afterwards: "stopping", "interrupted" or "cancelled".

    Raises:
        StudyStateError: The study is neither running nor queued.
    """
    study = get_study(session=session, study_id=study_id)
    if study.status == StudyStatus.QUEUED and _cancel_queued(session, study_id):
        return "cancelled"
    session.refresh(study)  # a worker may have taken it a moment ago: then it is running
    if study.status != StudyStatus.RUNNING:
        raise StudyStateError(f"study {study.name!r} is not running (it is {study.status})")
    if heartbeat_stale(study.heartbeat_at):
        end_study_run(session=session, study_id=study_id, status=StudyStatus.INTERRUPTED,
                      stop_reason=stale_reason(study.heartbeat_at))  # fmt: skip
        return "interrupted"
    study.stop_requested_at = utcnow()
    session.add(study)
    session.flush()
    return "stopping"


CANCELLED = "cancelled before a worker took it (aar stop)"


def _cancel_queued(session: Session, study_id: int) -> bool:
    """queued → stopped in one conditional UPDATE; False when a worker claimed it first."""
    now = utcnow()
    moved = session.exec(
        update(Study)
        .where(col(Study.id) == study_id, col(Study.status) == StudyStatus.QUEUED)
        .values(status=StudyStatus.STOPPED, stop_reason=CANCELLED, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


class InvalidTransitionError(AarError):
    """An experiment cannot move to the requested state from the state it is in."""

    def __init__(self, experiment_id: int, current: str, target: str) -> None:
        super().__init__(f"experiment {experiment_id} is {current}; it cannot become {target}")
        self.experiment_id = experiment_id
        self.current = current
        self.target = target


def worker_is_dead(worker: str) -> bool:
    """True when `host:pid` names this host and no such process exists (False for other hosts: unknown)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def this_worker() -> str:
    """`host:pid` of this process, recorded on the experiments it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def set_experiment_status(
    *, session: Session, experiment_id: int, status: ExperimentStatus, **values: Any
) -> Experiment:
    """Move an experiment to `status` (and set `values`) if the state machine allows it, atomically."""
    sources = [source for source, targets in TRANSITIONS.items() if status in targets]
    result = session.exec(
        update(Experiment)
        .where(col(Experiment.id) == experiment_id, col(Experiment.status).in_(sources))
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    experiment = get_experiment(session=session, experiment_id=experiment_id)
    session.refresh(experiment)
    if result.rowcount != 1:
        raise InvalidTransitionError(experiment_id, experiment.status, status)
    return experiment


def start_experiment(*, session: Session, experiment_id: int, worker: str | None = None) -> Experiment:
    """queued → running, stamping the start time and the worker."""
    return set_experiment_status(
        session=session,
        experiment_id=experiment_id,
        status=S.RUNNING,
        started_at=utcnow(),
        worker=worker or this_worker(),
        attempt=Experiment.attempt + 1,
    )


def claim_next_experiment(*, session: Session, study_id: int, worker: str | None = None) -> Experiment | None:
    """Start the study's lowest-numbered queued experiment (`claim_first`); None when none is left."""
    queued = (
        select(Experiment.id)
        .where(Experiment.study_id == study_id, Experiment.status == S.QUEUED)
        .order_by(col(Experiment.number))
    )
    return claim_first(session, queued, lambda experiment_id: _start_queued(session, experiment_id, worker))


def _start_queued(session: Session, experiment_id: int, worker: str | None) -> Experiment | None:
    """`start_experiment`, or None when another worker started it first."""
    try:
        return start_experiment(session=session, experiment_id=experiment_id, worker=worker)
    except InvalidTransitionError:
        return None


def finish_experiment(
    *,
    session: Session,
    experiment_id: int,
    status: ExperimentStatus,
    scores: Iterable[ScoreBase] = (),
    curve: Iterable[CurvePointBase] = (),
    device_seconds: float | None = None,
    error: str | None = None,
    log_sha256: str | None = None,
    output_sha256: str | None = None,
) -> Experiment:
    """running → a final state, with its scores, remaining curve points and device-seconds charge.

    All of it is written in the caller's transaction, after the state change succeeded: a result is
    recorded once or not at all.
    """
    if status not in TERMINAL:
        raise ValueError(f"{status} is not a final state")
    experiment = set_experiment_status(
        session=session,
        experiment_id=experiment_id,
        status=status,
        finished_at=utcnow(),
        device_seconds=device_seconds,
        error=error,
        log_sha256=log_sha256,
        output_sha256=output_sha256,
    )
    add_scores(session=session, experiment_id=experiment_id, scores=scores)
    add_curve_points(session=session, experiment_id=experiment_id, points=curve)
    if device_seconds:
        charge_budget(
            session=session,
            study_id=experiment.study_id,
            kind="device_seconds",
            amount=device_seconds,
            what_for=f"experiment {experiment.number}",
            key=f"experiment:{experiment_id}:attempt:{experiment.attempt}:device_seconds",
            experiment_id=experiment_id,
        )
    return experiment


def recover_interrupted(*, session: Session, study_id: int, worker: str | None = None) -> list[int]:
    """Requeue the study's experiments left `running` by a crash; return their ids.

    Call it when reopening a study that no other worker is running, or pass `worker` to recover only
    that worker's runs. Partial curve points and scores of the interrupted attempt are removed, so the
    rerun does not count them twice.
    """
    query = select(Experiment.id).where(Experiment.study_id == study_id, Experiment.status == S.RUNNING)
    if worker is not None:
        query = query.where(Experiment.worker == worker)
    ids = [int(i) for i in session.exec(query).all() if i is not None]
    for experiment_id in ids:
        set_experiment_status(session=session, experiment_id=experiment_id, status=S.INTERRUPTED)
        session.exec(delete(CurvePoint).where(col(CurvePoint.experiment_id) == experiment_id))
        session.exec(delete(Score).where(col(Score.experiment_id) == experiment_id))
        set_experiment_status(
            session=session,
            experiment_id=experiment_id,
            status=S.QUEUED,
            started_at=None,
            worker=None,
            error="interrupted by a crash; requeued",
        )
    return ids
