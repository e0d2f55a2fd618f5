"""Read queries behind the views: studies list, study summary, hypothesis tree, experiment detail,
best-so-far PGR against experiment number, and budget burn over time.

Each returns pydantic models, ready for a table, a JSON dump or a chart.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from aar.store.crud import get_experiment, get_study
from aar.store.models import (
    BudgetCharge,
    CurvePoint,
    CurvePointBase,
    Experiment,
    ExperimentPublic,
    ExperimentStatus,
    Hypothesis,
    HypothesisPublic,
    LLMCall,
    Score,
    ScoreBase,
    Study,
    StudyPublic,
)
from aar.store.records import budget_used


class StudyListItem(BaseModel):
    """One line of `aar ls`."""

    id: int
    name: str
    goal: str
    status: str
    created_at: datetime
    experiments: int
    best_pgr: float | None


class BestResult(BaseModel):
    """The best value of a metric in a study, with its confidence interval."""

    experiment_id: int
    number: int
    value: float
    ci_low: float | None
    ci_high: float | None


class BudgetLine(BaseModel):
    """Budget of one kind: its limit (if any), what was used, what is left."""

    kind: str
    limit: float | None
    used: float
    left: float | None


class StudySummary(BaseModel):
    """The study page's header: status counts, best PGR, budget, ledger totals."""

    study: StudyPublic
    counts: dict[str, int]
    best: BestResult | None
    budget: list[BudgetLine]
    hypotheses: int
    llm_calls: int
    llm_cost_usd: float


class HypothesisNode(BaseModel):
    """A hypothesis with the numbers of its experiments and its refinements."""

    hypothesis: HypothesisPublic
    experiments: list[int]
    children: list[HypothesisNode]


class ExperimentDetail(BaseModel):
    """Everything recorded about one experiment."""

    experiment: ExperimentPublic
    hypothesis: str | None
    scores: list[ScoreBase]
    curve: list[CurvePointBase]


class BestSoFarPoint(BaseModel):
    """One finished experiment's metric and the best value up to and including it."""

    number: int
    experiment_id: int
    value: float
    best: float


class BurnPoint(BaseModel):
    """One budget charge and the running total of its kind."""

    at: datetime
    kind: str
    amount: float
    cumulative: float
    what_for: str


def list_studies(*, session: Session, split: str = "test") -> list[StudyListItem]:
    """Every study, newest first, with its experiment count and best PGR."""
    best = _best_pgr_query(split=split).subquery()
    query = (
        select(Study, best.c.best)
        .join(best, col(Study.id) == best.c.study_id, isouter=True)
        .order_by(col(Study.created_at).desc(), col(Study.id).desc())
    )
    return [
        StudyListItem(
            id=study.id or 0,
            name=study.name,
            goal=study.goal,
            status=study.status,
            created_at=study.created_at,
            experiments=study.experiment_counter,
            best_pgr=best_pgr,
        )
        for study, best_pgr in session.exec(query).all()
    ]


def _best_pgr_query(*, split: str) -> Select[int, float]:
    return (
        select(Experiment.study_id, func.max(Score.value).label("best"))
        .join(Score, col(Score.experiment_id) == Experiment.id)
        .where(Score.metric == "pgr", Score.split == split, Experiment.status == ExperimentStatus.OK)
        .group_by(col(Experiment.study_id))
    )


def best_result(
    *, session: Session, study_id: int, metric: str = "pgr", split: str = "test"
) -> BestResult | None:
    """The finished experiment with the highest `metric` on `split`, with its CI."""
    query = (
        select(Experiment.id, Experiment.number, Score)
        .join(Score, col(Score.experiment_id) == Experiment.id)
        .where(Experiment.study_id == study_id, Experiment.status == ExperimentStatus.OK)
        .where(Score.metric == metric, Score.split == split)
        .order_by(col(Score.value).desc(), col(Experiment.number))
        .limit(1)
    )
    row = session.exec(query).first()
    if row is None:
        return None
    experiment_id, number, score = row
    assert experiment_id is not None
    return BestResult(
        experiment_id=experiment_id,
        number=number,
        value=score.value,
        ci_low=score.ci_low,
        ci_high=score.ci_high,
    )


def status_counts(*, session: Session, study_id: int) -> dict[str, int]:
    """How many of the study's experiments are in each state."""
    query = (
        select(Experiment.status, func.count())
        .where(Experiment.study_id == study_id)
        .group_by(col(Experiment.status))
    )
    return {status: int(count) for status, count in session.exec(query).all()}


def budget_lines(*, session: Session, study: Study) -> list[BudgetLine]:
    """Limit, used and left for every budget kind the study limits or was charged."""
    assert study.id is not None
    used = budget_used(session=session, study_id=study.id)
    lines = []
    for kind in sorted(set(study.budget_limits) | set(used)):
        limit = study.budget_limits.get(kind)
        spent = used.get(kind, 0.0)
        left = None if limit is None else max(limit - spent, 0.0)
        lines.append(BudgetLine(kind=kind, limit=limit, used=spent, left=left))
    return lines


def study_summary(*, session: Session, study_id: int, split: str = "test") -> StudySummary:
    """The study's state at a glance."""
    study = get_study(session=session, study_id=study_id)
    hypotheses = session.exec(select(func.count()).where(Hypothesis.study_id == study_id)).one()
    calls, cost = session.exec(
        select(func.count(), func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
            LLMCall.study_id == study_id
        )
    ).one()
    return StudySummary(
        study=StudyPublic.model_validate(study),
        counts=status_counts(session=session, study_id=study_id),
        best=best_result(session=session, study_id=study_id, split=split),
        budget=budget_lines(session=session, study=study),
        hypotheses=int(hypotheses),
        llm_calls=int(calls),
        llm_cost_usd=float(cost),
    )


def hypothesis_tree(*, session: Session, study_id: int) -> list[HypothesisNode]:
    """The study's hypotheses as a forest (roots in creation order), each with its experiments."""
    hypotheses = session.exec(
        select(Hypothesis).where(Hypothesis.study_id == study_id).order_by(col(Hypothesis.id))
    ).all()
    runs = session.exec(
        select(Experiment.hypothesis_id, Experiment.number)
        .where(Experiment.study_id == study_id, col(Experiment.hypothesis_id).is_not(None))
        .order_by(col(Experiment.number))
    ).all()
    nodes = {
        h.id: HypothesisNode(hypothesis=HypothesisPublic.model_validate(h), experiments=[], children=[])
        for h in hypotheses
    }
    for hypothesis_id, number in runs:
        nodes[hypothesis_id].experiments.append(number)
    roots: list[HypothesisNode] = []
    for h in hypotheses:
        parent = nodes.get(h.parent_id) if h.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[h.id])
    return roots


def experiment_detail(*, session: Session, experiment_id: int) -> ExperimentDetail:
    """An experiment with its hypothesis, scores and learning curve."""
    experiment = get_experiment(session=session, experiment_id=experiment_id)
    hypothesis = session.get(Hypothesis, experiment.hypothesis_id) if experiment.hypothesis_id else None
    scores = session.exec(
        select(Score)
        .where(Score.experiment_id == experiment_id)
        .order_by(col(Score.split), col(Score.metric))
    ).all()
    curve = session.exec(
        select(CurvePoint)
        .where(CurvePoint.experiment_id == experiment_id)
        .order_by(col(CurvePoint.split), col(CurvePoint.step))
    ).all()
    return ExperimentDetail(
        experiment=ExperimentPublic.model_validate(experiment),
        hypothesis=hypothesis.text if hypothesis else None,
        scores=[ScoreBase.model_validate(s, from_attributes=True) for s in scores],
        curve=[CurvePointBase.model_validate(p, from_attributes=True) for p in curve],
    )


def experiment_by_number(*, session: Session, study_id: int, number: int) -> Experiment | None:
    """The study's experiment with this number."""
    query = select(Experiment).where(Experiment.study_id == study_id, Experiment.number == number)
    return session.exec(query).first()


def best_so_far(
    *, session: Session, study_id: int, metric: str = "pgr", split: str = "test"
) -> list[BestSoFarPoint]:
    """For each finished experiment in number order: its metric and the best value so far."""
    query = (
        select(Experiment.number, Experiment.id, Score.value)
        .join(Score, col(Score.experiment_id) == Experiment.id)
        .where(Experiment.study_id == study_id, Experiment.status == ExperimentStatus.OK)
        .where(Score.metric == metric, Score.split == split)
        .order_by(col(Experiment.number))
    )
    points, best = [], float("-inf")
    for number, experiment_id, value in session.exec(query).all():
        assert experiment_id is not None
        best = max(best, value)
        points.append(BestSoFarPoint(number=number, experiment_id=experiment_id, value=value, best=best))
    return points


def budget_burn(*, session: Session, study_id: int) -> list[BurnPoint]:
    """Every charge in time order with the running total of its kind."""
    charges = session.exec(
        select(BudgetCharge.created_at, BudgetCharge.kind, BudgetCharge.amount, BudgetCharge.what_for)
        .where(BudgetCharge.study_id == study_id)
        .order_by(col(BudgetCharge.created_at), col(BudgetCharge.id))
    ).all()
    totals: dict[str, float] = {}
    points = []
    for at, kind, amount, what_for in charges:
        totals[kind] = totals.get(kind, 0.0) + amount
        points.append(BurnPoint(at=at, kind=kind, amount=amount, cumulative=totals[kind], what_for=what_for))
    return points
