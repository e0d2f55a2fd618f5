from __future__ import annotations

import pytest
from sqlmodel import Session

from aar.errors import UserError
from aar.store import (
    HypothesisCreate,
    HypothesisStatus,
    NotFoundError,
    StudyStatus,
    create_hypothesis,
    find_experiment,
    find_study,
    get_experiment,
    list_experiments,
    merge_experiment_config,
    set_study_status,
    update_hypothesis,
)

from .factories import make_experiment, make_study


def test_study_roundtrip(session: Session) -> None:
    study = make_study(session, usd=5.0)
    assert study.id is not None
    assert find_study(session=session, ref="study-a").id == study.id
    assert find_study(session=session, ref=str(study.id)).budget_limits == {"usd": 5.0}
    assert study.created_at.tzinfo is not None


def test_duplicate_study_name_is_a_user_error(session: Session) -> None:
    make_study(session)
    with pytest.raises(UserError, match="already exists"):
        make_study(session)


def test_unknown_study_is_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError, match="aar ls"):
        find_study(session=session, ref="nope")


def test_finishing_a_study_stamps_it(session: Session) -> None:
    study = make_study(session)
    assert study.id is not None
    finished = set_study_status(session=session, study_id=study.id, status=StudyStatus.FINISHED)
    assert finished.status == "finished" and finished.finished_at is not None


def test_hypothesis_tree_links_and_findings(session: Session) -> None:
    study = make_study(session)
    assert study.id is not None
    root = create_hypothesis(session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text="root"))
    child = create_hypothesis(
        session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text="child", parent_id=root.id)
    )
    assert child.parent_id == root.id
    assert child.id is not None
    updated = update_hypothesis(
        session=session, hypothesis_id=child.id, status=HypothesisStatus.REFUTED, finding="no gain"
    )
    assert (updated.status, updated.finding) == ("refuted", "no gain")


def test_parent_from_another_study_is_refused(session: Session) -> None:
    one, other = make_study(session, "one"), make_study(session, "other")
    assert one.id is not None and other.id is not None
    root = create_hypothesis(session=session, study_id=one.id, hypothesis_in=HypothesisCreate(text="r"))
    with pytest.raises(UserError, match="another study"):
        create_hypothesis(
            session=session, study_id=other.id, hypothesis_in=HypothesisCreate(text="c", parent_id=root.id)
        )


def test_experiments_are_numbered_per_study(session: Session) -> None:
    one, other = make_study(session, "one"), make_study(session, "other")
    numbers = [make_experiment(session, one).number for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert make_experiment(session, other).number == 1
    experiment = make_experiment(session, one, config={"lr": 1e-3}, devices=["cuda:0"], seed=7)
    assert experiment.id is not None
    loaded = get_experiment(session=session, experiment_id=experiment.id)
    assert (loaded.status, loaded.config, loaded.devices, loaded.seed) == (
        "queued",
        {"lr": 1e-3},
        ["cuda:0"],
        7,
    )


def test_experiments_listed_per_study_and_hypothesis(session: Session) -> None:
    study, other = make_study(session), make_study(session, name="study-b")
    hyp = create_hypothesis(
        session=session, study_id=int(study.id or 0), hypothesis_in=HypothesisCreate(text="h")
    )
    first = make_experiment(session, study)
    second = make_experiment(session, study, hypothesis_id=hyp.id)
    make_experiment(session, other)
    sid = int(study.id or 0)
    assert [e.id for e in list_experiments(session=session, study_id=sid)] == [first.id, second.id]
    assert [e.id for e in list_experiments(session=session, study_id=sid, hypothesis_id=hyp.id)] == [
        second.id
    ]
    assert find_experiment(session=session, experiment_id=10_000) is None


def test_merge_experiment_config_keeps_the_rest(session: Session) -> None:
    exp = make_experiment(session, make_study(session), config={"role": "final", "integrity_flags": ["old"]})
    merged = merge_experiment_config(
        session=session, experiment_id=int(exp.id or 0), extra={"integrity_flags": []}
    )
    assert merged is not None and merged.config == {"role": "final", "integrity_flags": []}
    assert merge_experiment_config(session=session, experiment_id=10_000, extra={"x": 1}) is None
