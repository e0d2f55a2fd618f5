"""Small builders shared by the store tests."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from aar.store import (
    CurvePointBase,
    Experiment,
    ExperimentCreate,
    ExperimentStatus,
    ScoreBase,
    Store,
    Study,
    StudyCreate,
    create_experiment,
    create_study,
    finish_experiment,
    start_experiment,
)


def make_study(session: Session, name: str = "study-a", **limits: float) -> Study:
    """A study with optional budget limits."""
    return create_study(
        session=session,
        study_in=StudyCreate(name=name, goal="beat the baseline", task="sciq", budget_limits=limits),
    )


def make_experiment(session: Session, study: Study, **fields: object) -> Experiment:
    """A queued experiment of `study`."""
    assert study.id is not None
    experiment_in = ExperimentCreate.model_validate({"template": "probe", **fields})
    return create_experiment(session=session, study_id=study.id, experiment_in=experiment_in)


def run_to_ok(session: Session, experiment: Experiment, pgr: float, steps: int = 3) -> Experiment:
    """Start and finish an experiment with a test PGR and a short curve."""
    assert experiment.id is not None
    start_experiment(session=session, experiment_id=experiment.id, worker="test")
    return finish_experiment(
        session=session,
        experiment_id=experiment.id,
        status=ExperimentStatus.OK,
        scores=[ScoreBase(split="test", metric="pgr", value=pgr, ci_low=pgr - 0.1, ci_high=pgr + 0.1)],
        curve=[CurvePointBase(step=s, split="test", pgr=pgr * s / steps) for s in range(1, steps + 1)],
        device_seconds=10.0,
    )


def drop_bytes(store: Store, sha: str) -> None:
    """Remove a blob's bytes from every place (its row stays), as a lost file or a partial copy would."""
    store.artifacts.path(sha).unlink(missing_ok=True)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM artifact_blob WHERE sha256 = :s"), {"s": sha})
