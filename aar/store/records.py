"""Bulk results and ledgers: curve points, scores, LLM calls, budget charges, cached baselines."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aar.store.crud import save
from aar.store.models import (
    AgentEvent,
    AgentEventBase,
    Baseline,
    BudgetCharge,
    CurvePoint,
    CurvePointBase,
    Experiment,
    LLMCall,
    LLMCallCreate,
    Score,
    ScoreBase,
)


def add_curve_points(*, session: Session, experiment_id: int, points: Iterable[CurvePointBase]) -> int:
    """Append learning-curve points in bulk (COPY on PostgreSQL, one executemany on SQLite)."""
    rows = [(experiment_id, p.step, p.split, p.accuracy, p.auroc, p.pgr) for p in points]
    if not rows:
        return 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy_rows(connection.connection.driver_connection, "curve_point", _CURVE_COLUMNS, rows)
    else:
        connection.execute(insert(CurvePoint), [dict(zip(_CURVE_COLUMNS, row, strict=True)) for row in rows])
    return len(rows)


_CURVE_COLUMNS = ("experiment_id", "step", "split", "accuracy", "auroc", "pgr")


def _copy_rows(
    psycopg_connection: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """PostgreSQL's COPY, in the session's transaction: several times faster than INSERTs for bulk rows."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with psycopg_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def add_scores(*, session: Session, experiment_id: int, scores: Iterable[ScoreBase]) -> int:
    """Record final metrics; a second score for the same (split, metric) is an IntegrityError."""
    rows = [{**score.model_dump(), "experiment_id": experiment_id} for score in scores]
    if rows:
        session.exec(insert(Score), params=rows)
    return len(rows)


def record_llm_call(*, session: Session, study_id: int, call_in: LLMCallCreate) -> LLMCall:
    """Record one LLM call (its cost is charged separately, with `charge_budget`)."""
    call = LLMCall.model_validate(call_in, update={"study_id": study_id})
    return save(session, call)


def last_valid_llm_call(*, session: Session, study_id: int) -> LLMCall | None:
    """The study's most recent LLM call that produced a valid reply (no error), if any."""
    query = (
        select(LLMCall)
        .where(LLMCall.study_id == study_id, col(LLMCall.error).is_(None))
        .order_by(col(LLMCall.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def record_event(*, session: Session, study_id: int, event_in: AgentEventBase) -> AgentEvent:
    """Append one agent step to the study's log."""
    event = AgentEvent.model_validate(event_in, update={"study_id": study_id})
    return save(session, event)


def list_events(*, session: Session, study_id: int, after_id: int = 0, limit: int = 1000) -> list[AgentEvent]:
    """The study's agent steps with id > `after_id`, oldest first (for `aar log --follow`)."""
    query = (
        select(AgentEvent)
        .where(AgentEvent.study_id == study_id, col(AgentEvent.id) > after_id)
        .order_by(col(AgentEvent.id))
        .limit(limit)
    )
    return list(session.exec(query).all())


def charge_budget(
    *,
    session: Session,
    study_id: int,
    kind: str,
    amount: float,
    what_for: str = "",
    key: str | None = None,
    experiment_id: int | None = None,
    llm_call_id: int | None = None,
) -> BudgetCharge:
    """Add a charge to a study's ledger; a charge with an existing `key` is returned, not repeated."""
    if key is not None and (existing := _charge_by_key(session=session, study_id=study_id, key=key)):
        return existing
    charge = BudgetCharge(
        study_id=study_id,
        kind=kind,
        amount=amount,
        what_for=what_for,
        key=key,
        experiment_id=experiment_id,
        llm_call_id=llm_call_id,
    )
    try:
        with session.begin_nested():
            session.add(charge)
    except IntegrityError:
        # Another worker recorded the same keyed charge between our check and our insert.
        if key is None or (existing := _charge_by_key(session=session, study_id=study_id, key=key)) is None:
            raise
        return existing
    return charge


def _charge_by_key(*, session: Session, study_id: int, key: str) -> BudgetCharge | None:
    query = select(BudgetCharge).where(BudgetCharge.study_id == study_id, BudgetCharge.key == key)
    return session.exec(query).first()


# The key prefix of a trusted baseline job's device-seconds charge (weak model, ceiling, naive): kind
# device_seconds like a method job's (it counts against the same limit), told apart by its key.
BASELINE_CHARGE = "baseline:"


def charge_baseline(*, session: Session, study_id: int, device_seconds: float, what_for: str) -> BudgetCharge:
    """Charge one trusted baseline job's device-seconds to the study's ledger (each job once: a fresh key)."""
    key = f"{BASELINE_CHARGE}{uuid.uuid4().hex}"
    return charge_budget(
        session=session,
        study_id=study_id,
        kind="device_seconds",
        amount=device_seconds,
        what_for=what_for,
        key=key,
    )


def baseline_seconds(*, session: Session, study_id: int) -> float:
    """Device-seconds the study's baseline jobs took (part of its `device_seconds` used)."""
    query = select(func.coalesce(func.sum(BudgetCharge.amount), 0.0)).where(
        BudgetCharge.study_id == study_id,
        BudgetCharge.kind == "device_seconds",
        col(BudgetCharge.key).startswith(BASELINE_CHARGE),
    )
    return float(session.exec(query).one())


def budget_used(*, session: Session, study_id: int) -> dict[str, float]:
    """Total charged so far, per budget kind."""
    query = (
        select(BudgetCharge.kind, func.sum(BudgetCharge.amount))
        .where(BudgetCharge.study_id == study_id)
        .group_by(BudgetCharge.kind)
    )
    return {kind: float(total or 0.0) for kind, total in session.exec(query).all()}


def research_runs(*, session: Session, study_id: int) -> int:
    """How many of the study's hypothesis experiments ran to a result (status ok): its research done."""
    query = select(func.count()).where(
        Experiment.study_id == study_id, col(Experiment.hypothesis_id).is_not(None), Experiment.status == "ok"
    )
    return int(session.exec(query).one())


def baseline_key(spec: Mapping[str, Any]) -> str:
    """The content hash that names a baseline: SHA-256 of the spec as canonical JSON."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def get_cached_baseline(*, session: Session, key: str) -> Baseline | None:
    """The cached baseline with this key, if it was computed before."""
    return session.get(Baseline, key)


def put_cached_baseline(
    *,
    session: Session,
    key: str,
    kind: str,
    spec: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifact_sha256: str | None = None,
) -> Baseline:
    """Cache a baseline under `key`; if another process cached it first, theirs is kept and returned."""
    if (existing := session.get(Baseline, key)) is not None:
        return existing
    baseline = Baseline(
        key=key, kind=kind, spec=dict(spec), metrics=dict(metrics), artifact_sha256=artifact_sha256
    )
    try:
        with session.begin_nested():
            session.add(baseline)
    except IntegrityError:
        if (existing := session.get(Baseline, key, populate_existing=True)) is None:
            raise
        return existing
    return baseline
