from __future__ import annotations

import pytest
from sqlmodel import Session, select

from aar.store import (
    CurvePoint,
    CurvePointBase,
    ExperimentStatus,
    InvalidTransitionError,
    Score,
    ScoreBase,
    add_curve_points,
    budget_used,
    claim_next_experiment,
    finish_experiment,
    recover_interrupted,
    set_experiment_status,
    start_experiment,
)
from aar.store.states import TERMINAL

from .factories import make_experiment, make_study, run_to_ok


def test_queued_running_ok(session: Session) -> None:
    study = make_study(session)
    experiment = run_to_ok(session, make_experiment(session, study), pgr=0.4)
    assert experiment.status == "ok"
    assert experiment.attempt == 1 and experiment.worker == "test"
    assert experiment.started_at is not None and experiment.finished_at is not None
    assert experiment.device_seconds == 10.0


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_every_final_state_is_reachable_from_running(session: Session, status: ExperimentStatus) -> None:
    experiment = make_experiment(session, make_study(session))
    assert experiment.id is not None
    start_experiment(session=session, experiment_id=experiment.id)
    finished = finish_experiment(session=session, experiment_id=experiment.id, status=status, error="why")
    assert finished.status == status


def test_illegal_moves_are_refused(session: Session) -> None:
    experiment = make_experiment(session, make_study(session))
    assert experiment.id is not None
    with pytest.raises(InvalidTransitionError, match="is queued; it cannot become ok"):
        set_experiment_status(session=session, experiment_id=experiment.id, status=ExperimentStatus.OK)
    with pytest.raises(ValueError, match="not a final state"):
        finish_experiment(session=session, experiment_id=experiment.id, status=ExperimentStatus.RUNNING)


def test_a_result_is_recorded_once(session: Session) -> None:
    study = make_study(session)
    experiment = run_to_ok(session, make_experiment(session, study), pgr=0.4)
    assert experiment.id is not None and study.id is not None
    with pytest.raises(InvalidTransitionError):
        finish_experiment(
            session=session,
            experiment_id=experiment.id,
            status=ExperimentStatus.OK,
            scores=[ScoreBase(split="val", metric="pgr", value=0.9)],
            device_seconds=10.0,
        )
    assert len(session.exec(select(Score)).all()) == 1
    assert budget_used(session=session, study_id=study.id) == {"device_seconds": 10.0}


def test_claim_takes_the_lowest_queued(session: Session) -> None:
    study = make_study(session)
    assert study.id is not None
    first, second = make_experiment(session, study), make_experiment(session, study)
    claimed = claim_next_experiment(session=session, study_id=study.id, worker="w1")
    assert claimed is not None and claimed.id == first.id and claimed.status == "running"
    again = claim_next_experiment(session=session, study_id=study.id, worker="w2")
    assert again is not None and again.id == second.id
    assert claim_next_experiment(session=session, study_id=study.id) is None


def test_recover_requeues_running_and_drops_partial_results(session: Session) -> None:
    study = make_study(session)
    assert study.id is not None
    done = run_to_ok(session, make_experiment(session, study), pgr=0.5)
    crashed = make_experiment(session, study)
    assert crashed.id is not None and done.id is not None
    start_experiment(session=session, experiment_id=crashed.id, worker="dead:1")
    add_curve_points(session=session, experiment_id=crashed.id, points=[CurvePointBase(step=1, split="val")])

    assert recover_interrupted(session=session, study_id=study.id) == [crashed.id]
    session.refresh(crashed)
    assert (crashed.status, crashed.started_at, crashed.attempt) == ("queued", None, 1)
    assert session.exec(select(CurvePoint).where(CurvePoint.experiment_id == crashed.id)).all() == []
    assert len(session.exec(select(CurvePoint).where(CurvePoint.experiment_id == done.id)).all()) == 3
    rerun = claim_next_experiment(session=session, study_id=study.id)
    assert rerun is not None and rerun.attempt == 2


def test_recover_can_be_limited_to_one_worker(session: Session) -> None:
    study = make_study(session)
    assert study.id is not None
    mine, theirs = make_experiment(session, study), make_experiment(session, study)
    assert mine.id is not None and theirs.id is not None
    start_experiment(session=session, experiment_id=mine.id, worker="me:1")
    start_experiment(session=session, experiment_id=theirs.id, worker="them:2")
    assert recover_interrupted(session=session, study_id=study.id, worker="me:1") == [mine.id]
    session.refresh(theirs)
    assert theirs.status == "running"
