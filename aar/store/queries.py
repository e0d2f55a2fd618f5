"""Read queries behind the views: studies list, study summary, hypothesis tree, experiment detail,
best-so-far PGR against experiment number, and budget burn over time.

Each returns pydantic models, ready for a table, a JSON dump or a chart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

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
from aar.store.records import baseline_seconds, budget_used

# Runs that compete for "best": the agent's search runs, and manual runs that name no role. Baselines,
# finalists' sealed reruns (`final`) and integrity ablations (`ablation:*`) never do.
SEARCH_ROLES = ("search", "")


class StudyListItem(BaseModel):
    """One line of `aar ls`: the best run is the dev winner among search runs (see `best_result`)."""

    id: int
    name: str
    goal: str
    # As every view shows it: a running study with a stale heartbeat reads "interrupted".
    status: str
    stop_reason: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    experiments: int
    best_pgr: float | None
    best_split: str | None = None
    best_test_pgr: float | None = None


class BestResult(BaseModel):
    """A study's best search run: its PGR on `split` (dev, else test) and, beside it, its sealed-test PGR."""

    experiment_id: int
    number: int
    value: float
    ci_low: float | None
    ci_high: float | None
    split: str = "dev"
    # The sealed-test PGR of the same method: the finalist's rerun (or the run's own test score).
    test_value: float | None = None
    test_ci_low: float | None = None
    test_ci_high: float | None = None
    test_experiment_id: int | None = None
    test_number: int | None = None


class BudgetLine(BaseModel):
    """Budget of one kind: its limit (if any), what was used, what is left."""

    kind: str
    limit: float | None
    used: float
    left: float | None
    # Of `used`, what trusted baseline jobs took (device_seconds only; the rest is method jobs').
    baselines: float | None = None


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


def list_studies(*, session: Session) -> list[StudyListItem]:
    """Every study, newest first, with its experiment count and best run (dev winner, test beside it)."""
    best = best_results(session=session)
    query = select(Study).order_by(col(Study.created_at).desc(), col(Study.id).desc())
    items = []
    for study in session.exec(query).all():
        found = best.get(study.id or 0)
        shown = StudyPublic.model_validate(study)
        items.append(
            StudyListItem(
                id=study.id or 0, name=study.name, goal=study.goal, status=shown.status,
                stop_reason=shown.stop_reason, created_at=study.created_at, finished_at=study.finished_at,
                experiments=study.experiment_counter,
                best_pgr=found.value if found else None, best_split=found.split if found else None,
                best_test_pgr=found.test_value if found else None,
            )
        )  # fmt: skip
    return items


def _role() -> Any:
    """The experiment's `config["role"]` as text ("" when unsaid), in SQL."""
    return func.coalesce(col(Experiment.config)["role"].as_string(), "")


def _pgr_rows(*, roles: tuple[str, ...], splits: tuple[str, ...], study_id: int | None = None) -> Any:
    """(study, experiment, number, hypothesis, split, PGR, CI low, CI high) of finished runs in `roles`."""
    columns = (Experiment.study_id, Experiment.id, Experiment.number, Experiment.hypothesis_id)
    query = (
        select(*columns, Score.split, Score.value, Score.ci_low, Score.ci_high)  # type: ignore[call-overload]
        .join(Score, col(Score.experiment_id) == Experiment.id)
        .where(Experiment.status == ExperimentStatus.OK, Score.metric == "pgr")
        .where(col(Score.split).in_(splits), _role().in_(roles))
    )
    return query if study_id is None else query.where(Experiment.study_id == study_id)


def _top_runs(split: str, study_id: int | None) -> Any:
    """Each study's search run with the highest PGR on `split` (ties to the earlier run), in SQL."""
    order = (col(Score.value).desc(), col(Experiment.number))
    rank = func.row_number().over(partition_by=col(Experiment.study_id), order_by=order).label("rank")
    ranked = _pgr_rows(roles=SEARCH_ROLES, splits=(split,), study_id=study_id).add_columns(rank).subquery()
    return select(*ranked.c).where(ranked.c.rank == 1)  # type: ignore[call-overload]


def best_results(*, session: Session, study_id: int | None = None) -> dict[int, BestResult]:
    """Each study's best search run (or only `study_id`'s), keyed by study id; see `best_result`."""
    best: dict[int, BestResult] = {}
    hypothesis: dict[int, int | None] = {}
    for split in ("test", "dev"):  # dev last: it replaces test wherever a study has a dev PGR
        for sid, eid, number, hyp, _, value, lo, hi, _ in session.exec(_top_runs(split, study_id)).all():
            best[sid] = BestResult(
                experiment_id=eid, number=number, value=value, ci_low=lo, ci_high=hi, split=split
            )
            hypothesis[sid] = hyp
    _attach_test(session, best, hypothesis)
    return best


def _attach_test(session: Session, best: dict[int, BestResult], hypothesis: dict[int, int | None]) -> None:
    """Beside each winner: the sealed-test PGR of its finalist rerun, else its own test PGR.

    A finalist reruns a search run's hypothesis (one search run each), so the link is the hypothesis:
    experiment ids kept in configs would not survive `aar import`.
    """
    hyps = [h for h in hypothesis.values() if h is not None]
    finals = _pgr_rows(roles=("final",), splits=("test",)).where(col(Experiment.hypothesis_id).in_(hyps))
    by_hypothesis: dict[int, tuple[int, int, float, float | None, float | None]] = {}
    for _, eid, number, hyp, _, value, lo, hi in session.exec(
        finals.order_by(col(Experiment.number).desc())
    ).all():
        by_hypothesis[hyp] = (eid, number, value, lo, hi)  # the earliest finalist rerun wins
    own = select(Score.experiment_id, Score.value, Score.ci_low, Score.ci_high).where(
        col(Score.experiment_id).in_([b.experiment_id for b in best.values()]),
        Score.split == "test",
        Score.metric == "pgr",
    )
    own_test = {eid: (value, lo, hi) for eid, value, lo, hi in session.exec(own).all()}
    for sid, b in best.items():
        final = by_hypothesis.get(hypothesis[sid] or -1)
        if final is not None:
            b.test_experiment_id, b.test_number, b.test_value, b.test_ci_low, b.test_ci_high = final
        elif (mine := own_test.get(b.experiment_id)) is not None:
            b.test_experiment_id, b.test_number = b.experiment_id, b.number
            b.test_value, b.test_ci_low, b.test_ci_high = mine


def best_result(*, session: Session, study_id: int) -> BestResult | None:
    """The study's best run: the highest dev PGR among its search runs (test PGR when none has dev).

    Baselines, finalists' sealed reruns and integrity ablations never count. The winner's sealed-test
    PGR (its finalist rerun, when it was a finalist) is given beside it, never used to pick it.
    """
    return best_results(session=session, study_id=study_id).get(study_id)


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
        base = baseline_seconds(session=session, study_id=study.id) if kind == "device_seconds" else None
        lines.append(BudgetLine(kind=kind, limit=limit, used=spent, left=left, baselines=base))
    return lines


def study_summary(*, session: Session, study_id: int, split: str = "test") -> StudySummary:
    """The study's state at a glance. Its `best` is always the dev winner (see `best_result`): `split`
    is accepted for the callers that show other numbers on one split, and does not change it."""
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
        best=best_result(session=session, study_id=study_id),
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
    *, session: Session, study_id: int, metric: str = "pgr", split: str | None = None
) -> list[BestSoFarPoint]:
    """For each finished search run in number order: its metric and the best value so far.

    `split` defaults to the split `best_result` ranks on; baselines, finals and ablations are left out.
    """
    if split is None:
        any_dev = _pgr_rows(roles=SEARCH_ROLES, splits=("dev",), study_id=study_id).limit(1)
        split = "dev" if session.exec(any_dev).first() is not None else "test"
    query = (
        select(Experiment.number, Experiment.id, Score.value)
        .join(Score, col(Score.experiment_id) == Experiment.id)
        .where(Experiment.study_id == study_id, Experiment.status == ExperimentStatus.OK)
        .where(Score.metric == metric, Score.split == split, _role().in_(SEARCH_ROLES))
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
