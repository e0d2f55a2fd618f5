"""Baseline jobs' device-seconds in the ledger (issue 10): counted in `device_seconds`, and told apart
from method jobs' by `budget_lines` on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session

from aar.store import budget_used, charge_baseline, charge_budget, study_summary

from .factories import make_study


def test_baseline_seconds_are_part_of_device_seconds_and_shown_apart(session: Session) -> None:
    study = make_study(session, device_seconds=100.0)
    assert study.id is not None
    charge_baseline(session=session, study_id=study.id, device_seconds=12.5, what_for="baseline: weak model")
    charge_baseline(session=session, study_id=study.id, device_seconds=7.5, what_for="baseline: weak model")
    charge_budget(session=session, study_id=study.id, kind="device_seconds", amount=30.0, key="experiment:1")
    charge_budget(session=session, study_id=study.id, kind="usd", amount=0.5, key="baseline-like:usd")
    assert budget_used(session=session, study_id=study.id) == {"device_seconds": 50.0, "usd": 0.5}
    lines = {line.kind: line for line in study_summary(session=session, study_id=study.id).budget}
    assert (lines["device_seconds"].used, lines["device_seconds"].baselines) == (50.0, 20.0)
    assert lines["device_seconds"].left == 50.0 and lines["usd"].baselines is None
