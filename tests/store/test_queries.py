from __future__ import annotations

from sqlmodel import Session

from aar.store import (
    ExperimentStatus,
    HypothesisCreate,
    best_so_far,
    budget_burn,
    charge_budget,
    create_hypothesis,
    experiment_detail,
    finish_experiment,
    hypothesis_tree,
    list_studies,
    start_experiment,
    study_summary,
)

from .factories import make_experiment, make_study, run_to_ok


def _populated(session: Session) -> int:
    study = make_study(session, usd=2.0, device_seconds=100.0)
    assert study.id is not None
    root = create_hypothesis(session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text="root"))
    child = create_hypothesis(
        session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text="child", parent_id=root.id)
    )
    for pgr in (0.2, 0.5, 0.3):
        run_to_ok(session, make_experiment(session, study, hypothesis_id=child.id), pgr=pgr)
    failed = make_experiment(session, study, hypothesis_id=root.id)
    assert failed.id is not None
    start_experiment(session=session, experiment_id=failed.id)
    finish_experiment(session=session, experiment_id=failed.id, status=ExperimentStatus.OOM, error="oom")
    make_experiment(session, study)
    charge_budget(session=session, study_id=study.id, kind="usd", amount=0.5, what_for="llm")
    return study.id


def test_study_summary(session: Session) -> None:
    summary = study_summary(session=session, study_id=_populated(session))
    assert summary.counts == {"ok": 3, "oom": 1, "queued": 1}
    assert summary.best is not None
    assert (summary.best.number, summary.best.value) == (2, 0.5)
    assert summary.best.ci_low is not None and abs(summary.best.ci_low - 0.4) < 1e-9
    budget = {line.kind: (line.limit, line.used, line.left) for line in summary.budget}
    assert budget == {"device_seconds": (100.0, 30.0, 70.0), "usd": (2.0, 0.5, 1.5)}
    assert summary.hypotheses == 2


def test_studies_list(session: Session) -> None:
    _populated(session)
    make_study(session, "empty")
    listed = {item.name: (item.experiments, item.best_pgr) for item in list_studies(session=session)}
    assert listed == {"study-a": (5, 0.5), "empty": (0, None)}


def test_hypothesis_tree(session: Session) -> None:
    (root,) = hypothesis_tree(session=session, study_id=_populated(session))
    assert root.hypothesis.text == "root" and root.experiments == [4]
    (child,) = root.children
    assert child.hypothesis.text == "child" and child.experiments == [1, 2, 3]


def test_best_so_far_and_burn(session: Session) -> None:
    study_id = _populated(session)
    curve = best_so_far(session=session, study_id=study_id)
    assert [(p.number, p.value, p.best) for p in curve] == [(1, 0.2, 0.2), (2, 0.5, 0.5), (3, 0.3, 0.5)]
    burn = budget_burn(session=session, study_id=study_id)
    assert [(p.kind, p.cumulative) for p in burn if p.kind == "device_seconds"][-1] == (
        "device_seconds",
        30.0,
    )
    assert burn[-1].kind == "usd" and burn[-1].cumulative == 0.5


def test_experiment_detail(session: Session) -> None:
    study = make_study(session)
    hypothesis = create_hypothesis(
        session=session, study_id=study.id or 0, hypothesis_in=HypothesisCreate(text="why")
    )
    experiment = run_to_ok(session, make_experiment(session, study, hypothesis_id=hypothesis.id), pgr=0.6)
    assert experiment.id is not None
    detail = experiment_detail(session=session, experiment_id=experiment.id)
    assert detail.hypothesis == "why" and detail.experiment.status == "ok"
    assert [s.metric for s in detail.scores] == ["pgr"]
    assert [p.step for p in detail.curve] == [1, 2, 3]
