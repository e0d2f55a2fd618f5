from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from aar.errors import DataError, UserError
from aar.store import (
    CurvePoint,
    Experiment,
    HypothesisCreate,
    LLMCallCreate,
    Store,
    Study,
    create_hypothesis,
    hypothesis_tree,
    open_store,
    record_llm_call,
    set_study_status,
    study_summary,
)
from aar.store.models import StudyStatus
from aar.store.transfer import ImportRow, export_csv, export_jsonl, import_study, read_export

from .factories import make_experiment, make_study, run_to_ok


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Store]:
    """A laptop store (in-memory SQLite) holding one populated study."""
    store = open_store(url="sqlite://", results_dir=tmp_path / "laptop")
    report = store.put_artifact(b"# report", kind="report", media_type="text/markdown")
    code = store.put_artifact(b"def method(): ...", kind="code", media_type="text/x-python")
    with store.session() as session:
        study = make_study(session, "moved", usd=3.0)
        assert study.id is not None
        root = create_hypothesis(session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text="r"))
        child = create_hypothesis(
            session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text="c", parent_id=root.id)
        )
        for pgr in (0.1, 0.7):
            run_to_ok(
                session, make_experiment(session, study, hypothesis_id=child.id, method_sha256=code), pgr
            )
        make_experiment(session, study, config={"note": 'a,b "quoted"\nnewline'})
        call_in = LLMCallCreate(node="plan", provider="fake", model="m", cost_usd=0.2, prompt_sha256=code)
        record_llm_call(session=session, study_id=study.id, call_in=call_in)
        set_study_status(
            session=session, study_id=study.id, status=StudyStatus.FINISHED, report_sha256=report
        )
    yield store
    store.close()


def _fingerprint(store: Store, name: str) -> tuple[object, ...]:
    with store.session() as session:
        study = session.exec(select(Study).where(Study.name == name)).one()
        assert study.id is not None
        summary = study_summary(session=session, study_id=study.id)
        tree = hypothesis_tree(session=session, study_id=study.id)
        points = session.exec(select(func.count()).select_from(CurvePoint)).one()
    best = summary.best.model_dump(exclude={"experiment_id", "test_experiment_id"}) if summary.best else None
    shape = [(n.hypothesis.text, [(c.hypothesis.text, c.experiments) for c in n.children]) for n in tree]
    return (summary.counts, best, summary.budget, summary.llm_cost_usd, study.report_sha256, points, shape)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_study_moves_between_stores(source: Store, store: Store, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / ("moved.jsonl" if fmt == "jsonl" else "moved-csv")
    with source.session() as session:
        if fmt == "jsonl":
            with path.open("w") as handle:
                counts = export_jsonl(session=session, artifacts=source.artifacts, study_id=1, out=handle)
        else:
            counts = export_csv(session=session, artifacts=source.artifacts, study_id=1, folder=path)
    assert counts["experiment"] == 3 and counts["artifact"] == 2 and counts["curve_point"] == 6
    with store.session() as session:
        make_study(session, "already-here")  # so the imported ids differ from the exported ones
        imported = import_study(session=session, artifacts=store.artifacts, rows=read_export(path))
    assert imported.name == "moved" and imported.id != 1
    assert _fingerprint(store, "moved") == _fingerprint(source, "moved")
    with store.session() as session:
        (experiment,) = [e for e in imported_experiments(session, imported.id) if e.status == "queued"]
    assert experiment.config == {"note": 'a,b "quoted"\nnewline'}


def imported_experiments(session: Session, study_id: int | None) -> list[Experiment]:
    return list(session.exec(select(Experiment).where(Experiment.study_id == study_id)))


def test_a_name_clash_needs_a_new_name(source: Store, store: Store) -> None:
    buffer = io.StringIO()
    with source.session() as session:
        export_jsonl(session=session, artifacts=source.artifacts, study_id=1, out=buffer)
    lines = buffer.getvalue().splitlines()
    with store.session() as session:
        import_study(session=session, artifacts=store.artifacts, rows=read_export_lines(lines))
    with pytest.raises(UserError, match="--name"), store.session() as session:
        import_study(session=session, artifacts=store.artifacts, rows=read_export_lines(lines))
    with store.session() as session:
        assert (
            import_study(
                session=session, artifacts=store.artifacts, rows=read_export_lines(lines), name="moved-2"
            ).name
            == "moved-2"
        )


def read_export_lines(lines: list[str]) -> Iterator[ImportRow]:
    for number, line in enumerate(lines, start=1):
        record = json.loads(line)
        if "table" not in record:  # the format header
            continue
        yield ImportRow(record["table"], record["row"], Path("mem.jsonl"), number)


def test_a_bad_export_imports_nothing(source: Store, store: Store, tmp_path: Path) -> None:
    buffer = io.StringIO()
    with source.session() as session:
        export_jsonl(session=session, artifacts=source.artifacts, study_id=1, out=buffer)
    lines = buffer.getvalue().splitlines()
    lines[-2] = '{"table": "score", "row": {"experiment_id": 1, "split": "test"'  # truncated
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"broken.jsonl, row {len(lines) - 1}"), store.session() as session:
        import_study(session=session, artifacts=store.artifacts, rows=read_export(path))
    with store.session() as session:
        assert session.exec(select(func.count()).select_from(Study)).one() == 0
