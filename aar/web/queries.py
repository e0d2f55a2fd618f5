"""Dashboard reads the store's own queries do not cover: a sorted, paged experiments table, the live
progress of a study, budget totals of every study, the agent log, and the code an experiment builds on.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from aar.report.data import W2S_ACC, method_name
from aar.report.render import fmt_budget
from aar.store.crud import get_hypothesis
from aar.store.models import AgentEvent, BudgetCharge, Experiment, ExperimentStatus, LLMCall, Score
from aar.store.queries import StudySummary

SortKey = Literal["number", "pgr", "accuracy", "status", "seed", "device_seconds"]
Order = Literal["asc", "desc"]
Split = Literal["dev", "test"]


class ExperimentRow(BaseModel):
    """One line of the study's experiments table."""

    id: int
    number: int
    status: str
    method: str
    role: str
    seed: int
    hypothesis_id: int | None
    pgr: float | None
    ci_low: float | None
    ci_high: float | None
    accuracy: float | None
    device_seconds: float | None
    finished_at: datetime | None


class ExperimentPage(BaseModel):
    """A page of the experiments table and how it is sorted."""

    total: int
    page: int
    per_page: int
    sort: SortKey
    order: Order
    split: Split
    rows: list[ExperimentRow]

    @property
    def pages(self) -> int:
        """How many pages the table has (at least one)."""
        return max(1, -(-self.total // self.per_page))


def primary_split(*, session: Session, study_id: int) -> Split:
    """`dev` when the study has any dev PGR (the agent's feedback), else `test`."""
    query = (
        select(Score.id)
        .join(Experiment, col(Experiment.id) == Score.experiment_id)
        .where(Experiment.study_id == study_id, Score.split == "dev", Score.metric == "pgr")
        .limit(1)
    )
    return "dev" if session.exec(query).first() is not None else "test"


def experiment_page(
    *, session: Session, study_id: int, split: Split, sort: SortKey, order: Order, page: int, per_page: int
) -> ExperimentPage:
    """The study's experiments with their PGR and accuracy on `split`, sorted (missing values last)."""
    pgr, acc = aliased(Score), aliased(Score)
    columns: dict[str, Any] = {
        "number": col(Experiment.number),
        "pgr": pgr.value,
        "accuracy": acc.value,
        "status": col(Experiment.status),
        "seed": col(Experiment.seed),
        "device_seconds": col(Experiment.device_seconds),
    }
    key = columns[sort]
    query = (
        select(Experiment, pgr, col(acc.value))
        .outerjoin(pgr, _score_join(pgr, split, "pgr"))
        .outerjoin(acc, _score_join(acc, split, *W2S_ACC))
        .where(Experiment.study_id == study_id)
        .order_by(key.is_(None), key.desc() if order == "desc" else key.asc(), col(Experiment.number))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    total = session.exec(select(func.count()).where(Experiment.study_id == study_id)).one()
    rows = [_row(e, score, accuracy) for e, score, accuracy in session.exec(query).all()]
    return ExperimentPage(
        total=int(total), page=page, per_page=per_page, sort=sort, order=order, split=split, rows=rows
    )


def _score_join(score: Any, split: str, *metrics: str) -> Any:
    """The join condition of an aliased Score to its experiment's `metrics` (aliases) on `split`."""
    return and_(
        col(score.experiment_id) == col(Experiment.id),
        col(score.split) == split,
        col(score.metric).in_(metrics),
    )


def _row(e: Experiment, pgr: Score | None, acc: float | None) -> ExperimentRow:
    assert e.id is not None
    config = e.config if isinstance(e.config, dict) else {}
    return ExperimentRow(
        id=e.id,
        number=e.number,
        status=e.status,
        method=method_name(config, e.template, e.method_sha256),
        role=str(config.get("role") or ""),
        seed=e.seed,
        hypothesis_id=e.hypothesis_id,
        pgr=pgr.value if pgr else None,
        ci_low=pgr.ci_low if pgr else None,
        ci_high=pgr.ci_high if pgr else None,
        accuracy=acc,
        device_seconds=e.device_seconds,
        finished_at=e.finished_at,
    )


class Progress(BaseModel):
    """What the study page refreshes while a study runs; `version` changes whenever anything shown does."""

    version: str
    status: str
    fields: dict[str, str]


def progress(summary: StudySummary) -> Progress:
    """The live fields of a study page, formatted as shown, with a version stamp of their values."""
    fields = {"status": summary.study.status, "total": str(sum(summary.counts.values()))}
    fields["stop_reason"] = summary.study.stop_reason or ""
    for status in ExperimentStatus:
        fields[f"count.{status.value}"] = str(summary.counts.get(status.value, 0))
    best = summary.best
    fields["best"] = "—" if best is None else f"{best.value:.3f} (experiment {best.number})"
    if best is not None and best.split != "test" and best.test_value is not None:
        fields["best"] += f"; test {best.test_value:.3f}"
    for line in summary.budget:
        limit, used, _ = fmt_budget(line)
        if line.kind == "deadline":
            fields[f"budget.{line.kind}"] = limit
        else:
            fields[f"budget.{line.kind}"] = used if line.limit is None else f"{used} / {limit}"
    fields["llm"] = f"{summary.llm_calls} calls, ${summary.llm_cost_usd:.4f}"
    fields["hypotheses"] = str(summary.hypotheses)
    stamp = json.dumps(fields, sort_keys=True).encode()
    return Progress(
        version=hashlib.sha256(stamp).hexdigest()[:16], status=summary.study.status, fields=fields
    )


def budget_totals(*, session: Session) -> dict[int, dict[str, float]]:
    """What every study has spent, per budget kind."""
    query = select(BudgetCharge.study_id, BudgetCharge.kind, func.sum(BudgetCharge.amount)).group_by(
        col(BudgetCharge.study_id), col(BudgetCharge.kind)
    )
    totals: dict[int, dict[str, float]] = {}
    for study_id, kind, amount in session.exec(query).all():
        totals.setdefault(study_id, {})[kind] = float(amount or 0.0)
    return totals


class LLMCallRow(BaseModel):
    """One LLM call of the agent log."""

    id: int
    created_at: datetime
    node: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_s: float
    prompt_sha256: str | None
    response_sha256: str | None
    error: str | None


def llm_calls(*, session: Session, study_id: int, page: int, per_page: int) -> tuple[int, list[LLMCallRow]]:
    """The study's LLM calls in time order, one page of them, and how many there are."""
    total = session.exec(select(func.count()).where(LLMCall.study_id == study_id)).one()
    query = (
        select(LLMCall)
        .where(LLMCall.study_id == study_id)
        .order_by(col(LLMCall.created_at), col(LLMCall.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    rows = [LLMCallRow.model_validate(call, from_attributes=True) for call in session.exec(query).all()]
    return int(total), rows


class EventRow(BaseModel):
    """One agent step (a graph node's event) of the agent log."""

    id: int
    created_at: datetime
    node: str
    message: str
    hypothesis_id: int | None
    experiment_id: int | None
    cost_usd: float
    data: dict[str, Any] = Field(default_factory=dict)
    # The experiment's number within its study (what the step's message says), not its global id.
    experiment_number: int | None = None

    @property
    def failed(self) -> bool:
        """A researcher step that failed (no valid reply after its retries: aar.graph.nodes.step_failed)."""
        return bool(self.data.get("failed"))


def agent_events(*, session: Session, study_id: int, page: int, per_page: int) -> tuple[int, list[EventRow]]:
    """The study's agent steps in order, one page of them, and how many there are."""
    total = session.exec(select(func.count()).where(AgentEvent.study_id == study_id)).one()
    query = (
        select(AgentEvent, Experiment.number)
        .join(Experiment, col(Experiment.id) == col(AgentEvent.experiment_id), isouter=True)
        .where(AgentEvent.study_id == study_id)
        .order_by(col(AgentEvent.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    rows = [
        EventRow.model_validate(event, from_attributes=True).model_copy(update={"experiment_number": number})
        for event, number in session.exec(query).all()
    ]
    return int(total), rows


def llm_mode_switches(*, session: Session, study_id: int) -> list[EventRow]:
    """The study's structured-output mode switches (agent steps of node `llm`), oldest first: every one,
    whatever page of the log is shown, since each changes how all later calls were asked."""
    query = (
        select(AgentEvent)
        .where(AgentEvent.study_id == study_id, AgentEvent.node == "llm")
        .order_by(col(AgentEvent.id))
    )
    return [EventRow.model_validate(e, from_attributes=True) for e in session.exec(query).all()]


def parent_code_sha(*, session: Session, experiment: Experiment) -> tuple[int, str] | None:
    """The parent hypothesis's code: its best-scoring (then latest) experiment that has code.

    Returns the parent hypothesis's id and the code's SHA-256, or None without a parent or code.
    """
    if experiment.hypothesis_id is None:
        return None
    parent_id = get_hypothesis(session=session, hypothesis_id=experiment.hypothesis_id).parent_id
    if parent_id is None:
        return None
    pgr = aliased(Score)
    query = (
        select(Experiment.method_sha256)
        .outerjoin(pgr, _score_join(pgr, "dev", "pgr"))
        .where(Experiment.hypothesis_id == parent_id, col(Experiment.method_sha256).is_not(None))
        .order_by(col(pgr.value).is_(None), col(pgr.value).desc(), col(Experiment.number).desc())
        .limit(1)
    )
    sha = session.exec(query).first()
    return (parent_id, sha) if sha else None
