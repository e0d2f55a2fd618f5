"""Collect everything a study report shows into one `ReportData`, in a single read transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from aar.errors import UserError
from aar.report.audit import AuditView, audit_view
from aar.report.data import (
    PGR,
    W2S_ACC,
    WEAK_ACC,
    Flag,
    MethodRow,
    Run,
    feedback_mechanism,
    integrity_flags,
    load_runs,
    method_rows,
    primary_split,
)
from aar.report.headline import Headline, headline, tuned_note
from aar.report.team import TeamView, team_view
from aar.store.crud import find_study, get_study
from aar.store.engine import Store
from aar.store.models import CurvePoint, ExperimentStatus
from aar.store.queries import (
    BestSoFarPoint,
    BurnPoint,
    HypothesisNode,
    StudySummary,
    best_so_far,
    budget_burn,
    hypothesis_tree,
    study_summary,
)

# A curve: (step, mean PGR over the arm's runs at that step).
Curve = list[tuple[int, float]]


@dataclass
class TestRow:
    """A sealed-test result of one experiment (a finalist), beside its weak-label-shuffle ablation."""

    run: Run
    pgr: float | None
    ci_low: float | None
    ci_high: float | None
    accuracy: float | None
    shuffled_pgr: float | None
    weak_accuracy: float | None = None
    reference: bool = False  # a naive baseline's sealed-test score, a row the finalists compare to
    note: str = ""  # which reference: naive at the template's defaults, or tuned on dev


@dataclass
class ReportData:
    """Everything in a study report."""

    summary: StudySummary
    split: str
    runs: list[Run]
    methods: list[MethodRow]
    tests: list[TestRow]
    curves: dict[str, Curve]
    best: list[BestSoFarPoint]
    burn: list[BurnPoint]
    tree: list[HypothesisNode]
    flags: list[Flag]
    winner: MethodRow | None
    winner_code: str | None
    feedback: str = ""  # what the researcher saw of ground truth (the dev-feedback mechanism)
    audit: AuditView | None = None  # every audit rejection; its flags are in `flags` too
    headline: Headline | None = None  # the dev winner's sealed-test PGR, dev beside it (selection-aware)
    team: TeamView | None = None  # which researcher found what (`--researchers N`); None for one


def gather(store: Store, study_ref: str | int) -> ReportData:
    """Read a study (by name or id) and everything its report shows.

    Raises:
        UserError: No study has that name or id.
    """
    with store.session() as session:
        if isinstance(study_ref, int):
            study = get_study(session=session, study_id=study_ref)
        else:
            study = find_study(session=session, ref=study_ref)
        assert study.id is not None
        data = _gather(session, study.id)
    data.winner_code = _winner_code(store, data.winner)
    return data


def _gather(session: Session, study_id: int) -> ReportData:
    runs = load_runs(session=session, study_id=study_id)
    split = primary_split(runs)
    methods = method_rows(runs, split)
    summary = study_summary(session=session, study_id=study_id, split=split)
    audit = audit_view(session=session, study_id=study_id)
    return ReportData(
        summary=summary,
        split=split,
        runs=runs,
        methods=methods,
        tests=test_rows(runs),
        curves=method_curves(session, methods, split),
        best=best_so_far(session=session, study_id=study_id, split=split),
        burn=budget_burn(session=session, study_id=study_id),
        tree=hypothesis_tree(session=session, study_id=study_id),
        flags=integrity_flags(runs, methods, split) + audit.flags(),
        winner=methods[0] if methods else None,
        winner_code=None,
        feedback=feedback_mechanism(summary.study.feedback_mode),
        audit=audit,
        headline=headline(runs, methods, split),
        team=team_view(
            session=session,
            study_id=study_id,
            winner_hypothesis=methods[0].best_run.hypothesis_id if methods else None,
        ),
    )


def test_rows(runs: list[Run]) -> list[TestRow]:
    """Sealed-test results, best first: the finalists' runs (role `final`), else any scored search run;
    then the reference rows: naive at the template's defaults, and naive tuned on dev (when finalize ran it)."""
    scored = [r for r in runs if r.status == ExperimentStatus.OK and r.score("test", PGR) is not None]
    finals = [r for r in scored if r.role == "final"] or [
        r for r in scored if r.in_search and r.role != "baseline"
    ]
    by_id = {r.id: r for r in runs}
    rows = []
    for run in finals:
        score = run.score("test", PGR)
        assert score is not None
        ablation = by_id.get(_ablation_id(run) or -1)
        shuffled = ablation.value("test", PGR) if ablation else None
        rows.append(
            TestRow(run, score.value, score.ci_low, score.ci_high, run.value("test", *W2S_ACC), shuffled,
                    run.value("test", *WEAK_ACC))
        )  # fmt: skip
    rows.sort(key=lambda r: -(r.pgr if r.pgr is not None else float("-inf")))
    return rows + [_reference_row(r) for r in scored if r.role in REFERENCE_NOTES]


# The reference rows' roles and what the report calls them.
REFERENCE_NOTES = {"baseline": "naive at defaults", "tuned_baseline": "naive tuned on dev"}


def _reference_row(run: Run) -> TestRow:
    """A naive baseline on the sealed test split: the study's (scored on dev and test when the study
    starts) or the tuned one finalize picked on dev."""
    score = run.score("test", PGR)
    assert score is not None
    accuracy, weak = run.value("test", *W2S_ACC), run.value("test", *WEAK_ACC)
    note = REFERENCE_NOTES[run.role]
    if run.role == "tuned_baseline" and (how := tuned_note([run])):
        note = f"{note}: {how}"
    return TestRow(run, score.value, score.ci_low, score.ci_high, accuracy, None, weak, True, note)


def _ablation_id(run: Run) -> int | None:
    details = run.config.get("integrity")
    found = details.get("ablation_experiment_id") if isinstance(details, dict) else None
    return found if isinstance(found, int) else None


def method_curves(session: Session, methods: list[MethodRow], split: str) -> dict[str, Curve]:
    """PGR over training steps of each method's best arm, averaged over the arm's runs per step."""
    arm_of = {run.id: row.method for row in methods for run in row.arm_runs}
    if not arm_of:
        return {}
    query = (
        select(CurvePoint.experiment_id, CurvePoint.step, CurvePoint.pgr)
        .where(col(CurvePoint.experiment_id).in_(list(arm_of)), CurvePoint.split == split)
        .where(col(CurvePoint.pgr).is_not(None))
    )
    sums: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for experiment_id, step, value in session.exec(query).all():
        if value is not None:
            sums[arm_of[experiment_id]][step].append(value)
    return {
        method: [(step, sum(values) / len(values)) for step, values in sorted(steps.items())]
        for method, steps in sums.items()
    }


def _winner_code(store: Store, winner: MethodRow | None) -> str | None:
    """The code the winning arm's best run executed, when the store holds it."""
    sha = winner.best_run.method_sha256 if winner else None
    if sha is None:
        return None
    try:
        return store.get_artifact(sha).decode("utf-8", errors="replace")
    except UserError:  # a missing artifact file (e.g. a study imported without its files)
        return None
