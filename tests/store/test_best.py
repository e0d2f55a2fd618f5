"""`best` in `aar show` / `aar ls` / the dashboard: the dev winner among search runs, its test PGR beside it.

Issue 9: best used to be the highest *test* PGR over every experiment, so a weak-label-shuffle ablation
(or a baseline) could be reported as the study's best.
"""

from __future__ import annotations

from sqlmodel import Session

from aar.store import (
    ExperimentStatus,
    HypothesisCreate,
    ScoreBase,
    Study,
    best_so_far,
    create_hypothesis,
    finish_experiment,
    list_studies,
    start_experiment,
    study_summary,
)
from aar.store.queries import best_result

from .factories import make_experiment, make_study


def _run(session: Session, study: Study, role: str, hypothesis: int | None = None, **pgr: float) -> int:
    """A finished experiment with `role` and a PGR per split (`dev=0.5, test=0.3`)."""
    config = {"role": role} if role else {}
    exp = make_experiment(session, study, hypothesis_id=hypothesis, config=config)
    assert exp.id is not None
    start_experiment(session=session, experiment_id=exp.id)
    scores = [
        ScoreBase(split=s, metric="pgr", value=v, ci_low=v - 0.1, ci_high=v + 0.1) for s, v in pgr.items()
    ]
    finish_experiment(session=session, experiment_id=exp.id, status=ExperimentStatus.OK, scores=scores)
    return exp.number


def _hypothesis(session: Session, study: Study, text: str) -> int:
    assert study.id is not None
    h = create_hypothesis(session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text=text))
    assert h.id is not None
    return h.id


def _agent_study(session: Session) -> Study:
    """A study as the graph records it: baseline, search runs, finalists' test reruns, an ablation."""
    study = make_study(session, "agent")
    a, b = _hypothesis(session, study, "a"), _hypothesis(session, study, "b")
    _run(session, study, "baseline", dev=0.9, test=0.95)  # 1: a baseline is never best
    _run(session, study, "search", a, dev=0.5)  # 2: the dev winner
    _run(session, study, "search", b, dev=0.3)  # 3
    _run(session, study, "final", a, dev=0.45, test=0.1)  # 4: the winner's sealed-test rerun
    _run(session, study, "final", b, dev=0.3, test=0.6)  # 5: a better test score does not make b best
    _run(session, study, "ablation:shuffled_weak_labels", a, dev=0.7, test=0.9)  # 6: never best
    return study


def test_best_is_the_dev_winner_among_search_runs_with_its_test_beside_it(session: Session) -> None:
    study = _agent_study(session)
    assert study.id is not None
    best = study_summary(session=session, study_id=study.id).best
    assert best is not None
    assert (best.number, best.split, best.value) == (2, "dev", 0.5)
    assert (best.test_number, best.test_value) == (4, 0.1)
    (item,) = list_studies(session=session)
    assert (item.best_pgr, item.best_split, item.best_test_pgr) == (0.5, "dev", 0.1)


def test_a_winner_that_was_no_finalist_has_no_test_pgr(session: Session) -> None:
    study = _agent_study(session)
    c = _hypothesis(session, study, "c")
    _run(session, study, "search", c, dev=0.55)  # 7: the new dev winner, never rerun on test
    assert study.id is not None
    best = best_result(session=session, study_id=study.id)
    assert best is not None and (best.number, best.test_value) == (7, None)


def test_best_so_far_leaves_out_baselines_finals_and_ablations(session: Session) -> None:
    study = _agent_study(session)
    assert study.id is not None
    points = best_so_far(session=session, study_id=study.id)
    assert [(p.number, p.value, p.best) for p in points] == [(2, 0.5, 0.5), (3, 0.3, 0.5)]


def test_manual_runs_without_a_role_rank_on_test_when_no_dev_is_recorded(session: Session) -> None:
    study = make_study(session, "manual")
    _run(session, study, "", test=0.2)
    _run(session, study, "", test=0.4)
    _run(session, study, "ablation:shuffled_weak_labels", test=0.8)
    assert study.id is not None
    best = best_result(session=session, study_id=study.id)
    assert best is not None and (best.number, best.split, best.value, best.test_value) == (
        2,
        "test",
        0.4,
        0.4,
    )


def test_a_study_with_only_a_baseline_has_no_best(session: Session) -> None:
    study = make_study(session, "baseline-only")
    _run(session, study, "baseline", dev=0.2, test=0.3)
    assert study.id is not None
    assert best_result(session=session, study_id=study.id) is None
    assert list_studies(session=session)[0].best_pgr is None


def test_show_prints_the_dev_winner_with_its_test_pgr_beside_it() -> None:
    from aar.store.commands import _best_line
    from aar.store.queries import BestResult

    dev = BestResult(experiment_id=2, number=2, value=0.5, ci_low=0.4, ci_high=0.6, split="dev")
    assert _best_line(dev) == (
        "best dev PGR: 0.500 (CI 0.400–0.600) from experiment 2; its sealed test PGR: not scored (not a finalist)"
    )
    tested = dev.model_copy(update={"test_value": 0.1, "test_number": 4})
    assert _best_line(tested).endswith("its sealed test PGR: 0.100 (experiment 4)")
