"""The experiment state machine: queued → running → ok | failed | timeout | oom | killed | invalid_output.

Every move is one conditional UPDATE (`… WHERE status IN (allowed sources)`), so two workers can never
both start, or both finish, the same experiment: the loser gets `InvalidTransitionError` and writes
nothing. A run found `running` when a study is reopened after a crash becomes `interrupted`, loses its
partial curve points and scores, and is queued again.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from aar.errors import AarError
from aar.store.crud import get_experiment
from aar.store.models import (
    CurvePoint,
    CurvePointBase,
    Experiment,
    ExperimentStatus,
    Score,
    ScoreBase,
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


class InvalidTransitionError(AarError):
    """An experiment cannot move to the requested state from the state it is in."""

    def __init__(self, experiment_id: int, current: str, target: str) -> None:
        super().__init__(f"experiment {experiment_id} is {current}; it cannot become {target}")
        self.experiment_id = experiment_id
        self.current = current
        self.target = target


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
    """Start the study's lowest-numbered queued experiment; None when none is left.

    On PostgreSQL the candidate row is locked with SKIP LOCKED so workers do not queue behind each other;
    the conditional UPDATE in `start_experiment` keeps it correct on any database.
    """
    query = (
        select(Experiment.id)
        .where(Experiment.study_id == study_id, Experiment.status == S.QUEUED)
        .order_by(col(Experiment.number))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    for _ in range(100):
        experiment_id = session.exec(query).first()
        if experiment_id is None:
            return None
        try:
            return start_experiment(session=session, experiment_id=experiment_id, worker=worker)
        except InvalidTransitionError:
            continue  # another worker took it first
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
