from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from aar.store import (
    BudgetCharge,
    CurvePoint,
    CurvePointBase,
    LLMCallCreate,
    ScoreBase,
    Store,
    add_curve_points,
    add_scores,
    baseline_key,
    budget_used,
    charge_budget,
    get_cached_baseline,
    put_cached_baseline,
    record_llm_call,
)

from .factories import make_experiment, make_study


def test_curve_points_go_in_bulk(session: Session) -> None:
    experiment = make_experiment(session, make_study(session))
    assert experiment.id is not None
    points = [CurvePointBase(step=s, split="val", accuracy=0.5, auroc=0.6, pgr=0.1) for s in range(500)]
    assert add_curve_points(session=session, experiment_id=experiment.id, points=points) == 500
    assert len(session.exec(select(CurvePoint)).all()) == 500


def test_a_score_cannot_be_recorded_twice(store: Store) -> None:
    with store.session() as session:
        experiment = make_experiment(session, make_study(session))
    score = ScoreBase(split="test", metric="pgr", value=0.3)
    assert experiment.id is not None
    with pytest.raises(IntegrityError), store.session() as session:
        add_scores(session=session, experiment_id=experiment.id, scores=[score, score])


def test_llm_calls_and_their_artifacts(store: Store) -> None:
    prompt = store.put_artifact(b"prompt text", kind="prompt", media_type="text/plain")
    with store.session() as session:
        study = make_study(session)
        assert study.id is not None
        call_in = LLMCallCreate(
            node="propose", provider="fake", model="m", cost_usd=0.01, prompt_sha256=prompt
        )
        call = record_llm_call(session=session, study_id=study.id, call_in=call_in)
    assert call.id is not None and call.prompt_sha256 == prompt


def test_keyed_charges_are_idempotent(session: Session) -> None:
    study = make_study(session, usd=1.0)
    assert study.id is not None
    charge_budget(session=session, study_id=study.id, kind="usd", amount=0.25, what_for="call 1", key="c1")
    charge_budget(session=session, study_id=study.id, kind="usd", amount=0.25, what_for="call 1", key="c1")
    charge_budget(session=session, study_id=study.id, kind="usd", amount=0.5, what_for="unkeyed")
    charge_budget(session=session, study_id=study.id, kind="usd", amount=0.5, what_for="unkeyed")
    assert budget_used(session=session, study_id=study.id) == {"usd": 1.25}
    assert len(session.exec(select(BudgetCharge)).all()) == 3


def test_baselines_are_cached_by_content_hash(session: Session) -> None:
    spec = {"task": "sciq", "weak": "gpt2", "seed": 0}
    key = baseline_key(spec)
    assert key == baseline_key(dict(reversed(spec.items())))
    assert get_cached_baseline(session=session, key=key) is None
    put_cached_baseline(session=session, key=key, kind="weak_labels", spec=spec, metrics={"accuracy": 0.7})
    again = put_cached_baseline(
        session=session, key=key, kind="weak_labels", spec=spec, metrics={"accuracy": 0}
    )
    assert again.metrics == {"accuracy": 0.7}
    cached = get_cached_baseline(session=session, key=key)
    assert cached is not None and cached.spec == spec
