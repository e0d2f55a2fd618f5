"""No NaN or infinity reaches a JSON column: written as null and read back as None, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import JSON, text
from sqlmodel import SQLModel, select

from aar.store import (
    AgentEvent,
    AgentEventBase,
    AuditFinding,
    AuditFindingCreate,
    Baseline,
    Experiment,
    Store,
    Study,
    record_audit_finding,
    record_event,
)
from aar.store.findings import record_finding
from aar.store.json_codec import dumps, finite, loads
from aar.store.models import ResearchFinding, ResearchFindingCreate
from tests.store.factories import make_experiment, make_study

NAN, INF = float("nan"), float("inf")
# Every kind of nesting a column holds: top-level values, nested dicts, lists, tuples.
POISON: dict[str, Any] = {"ci": [NAN, INF], "deep": {"lo": -INF, "by_seed": (1.5, NAN)}, "ok": 0.25}
CLEAN: dict[str, Any] = {"ci": [None, None], "deep": {"lo": None, "by_seed": [1.5, None]}, "ok": 0.25}
# The JSON columns this test writes; a new JSON column must be added here (see the last test).
COLUMNS = {
    ("study", "budget_limits"),
    ("experiment", "config"),
    ("experiment", "devices"),
    ("agent_event", "data"),
    ("audit_finding", "problems"),
    ("baseline", "spec"),
    ("baseline", "metrics"),
    ("research_finding", "hparams"),
}


def test_codec_turns_every_non_finite_float_into_null() -> None:
    assert finite(POISON) == CLEAN
    assert json.loads(dumps(POISON)) == CLEAN  # strict JSON: the standard parser would reject NaN
    assert "NaN" not in dumps(POISON) and "Infinity" not in dumps(POISON)
    assert loads('{"a": NaN, "b": [Infinity, -Infinity], "c": 1}') == {"a": None, "b": [None, None], "c": 1}


def _write_poisoned_rows(store: Store) -> dict[str, int]:
    """One row per JSON column kind, each holding NaN and ±inf; return their ids."""
    with store.session() as session:
        study = make_study(session, "nan-study", usd=NAN, tokens=INF, experiments=4.0)
        assert study.id is not None
        experiment = make_experiment(session, study, config=POISON)
        # Lists of strings are validated on create, not on assignment: write the floats past the schema.
        experiment.devices = [NAN, "cpu"]  # type: ignore[list-item]
        event = record_event(
            session=session,
            study_id=study.id,
            event_in=AgentEventBase(node="analyze", message="m", data=POISON),
        )
        finding = record_audit_finding(
            session=session,
            study_id=study.id,
            finding_in=AuditFindingCreate(stage="smoke", problems=["nan"]),
        )
        finding.problems = ["nan", INF]  # type: ignore[list-item]
        session.add(Baseline(key="k" * 64, kind="weak_labels", spec=POISON, metrics={"acc": NAN, "n": 3.0}))
        board = record_finding(
            session=session, study_id=study.id, finding_in=ResearchFindingCreate(hparams=POISON)
        )
        return {
            "board": board.id or 0,
            "study": study.id,
            "experiment": experiment.id or 0,
            "event": event.id or 0,
            "finding": finding.id or 0,
        }


def test_nan_and_inf_are_stored_as_null_in_every_json_column(store: Store) -> None:
    ids = _write_poisoned_rows(store)
    with store.session() as session:  # a fresh session: values come from the database, not the identity map
        study = session.get(Study, ids["study"])
        experiment = session.get(Experiment, ids["experiment"])
        event = session.get(AgentEvent, ids["event"])
        finding = session.get(AuditFinding, ids["finding"])
        baseline = session.exec(select(Baseline)).one()
        board = session.get(ResearchFinding, ids["board"])
        raw = {
            (table, column): session.connection()
            .execute(text(f"SELECT CAST({column} AS TEXT) FROM {table}"))
            .scalar()
            for table, column in COLUMNS
        }
    assert study is not None and study.budget_limits == {"usd": None, "tokens": None, "experiments": 4.0}
    assert experiment is not None and experiment.config == CLEAN and experiment.devices == [None, "cpu"]
    assert event is not None and event.data == CLEAN
    assert finding is not None and finding.problems == ["nan", None]
    assert baseline.spec == CLEAN and baseline.metrics == {"acc": None, "n": 3.0}
    assert board is not None and board.hparams == CLEAN
    for where, stored in raw.items():  # the text in the database is strict JSON
        assert stored is not None, where
        assert not any(bad in stored for bad in ("NaN", "Infinity")), f"{where} holds {stored}"
        json.loads(stored)


def test_rows_an_older_aar_wrote_with_nan_read_back_as_null(tmp_path) -> None:
    """SQLite accepted NaN text in a JSON column before the codec; such stores still open and read."""
    from aar.store import open_store

    store = open_store(url=f"sqlite:///{tmp_path / 'old.db'}", results_dir=tmp_path)
    try:
        with store.session() as session:
            experiment = make_experiment(session, make_study(session), config={"x": 1.0})
        with store.session() as session:
            session.connection().execute(
                text("UPDATE experiment SET config = :c WHERE id = :i"),
                {"c": '{"x": NaN, "ci": [Infinity, -Infinity]}', "i": experiment.id},
            )
        with store.session() as session:
            assert session.get(Experiment, experiment.id).config == {"x": None, "ci": [None, None]}
    finally:
        store.close()


def test_every_json_column_is_covered() -> None:
    found = {
        (table.name, column.name)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, JSON)
    }
    assert found == COLUMNS, "a JSON column was added or removed: update COLUMNS and _write_poisoned_rows"


def test_finite_leaves_finite_values_alone() -> None:
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": -0.0}}
    assert finite(value) == value and not math.isnan(finite(1.0))
