"""Audit findings in the store: recorded per rejection, listed per study or hypothesis, exported."""

from __future__ import annotations

import io
from pathlib import Path

from aar.store import (
    AuditFindingCreate,
    AuditStage,
    HypothesisCreate,
    Store,
    create_hypothesis,
    list_audit_findings,
    record_audit_finding,
)
from aar.store.transfer import export_jsonl, import_study, read_export
from tests.store.factories import make_study


def _seed(store: Store) -> tuple[int, int, str]:
    sha = store.put_artifact(b"import bz2\n", kind="code", media_type="text/x-python")
    with store.session() as session:
        study = make_study(session)
        assert study.id is not None
        h = create_hypothesis(
            session=session, study_id=study.id, hypothesis_in=HypothesisCreate(text="cheat")
        )
        assert h.id is not None
        for attempt, stage, problems in (
            (
                1,
                AuditStage.STATIC,
                ["line 1: import of 'bz2' is not allowed", "line 3: builtin 'chr' is not allowed"],
            ),
            (2, AuditStage.SMOKE, ["smoke run failed (RuntimeError)"]),
        ):
            finding = AuditFindingCreate(
                hypothesis_id=h.id, attempt=attempt, stage=stage, problems=problems, code_sha256=sha
            )
            record_audit_finding(session=session, study_id=study.id, finding_in=finding)
        return study.id, h.id, sha


def test_findings_are_recorded_and_listed_in_order(store: Store) -> None:
    study_id, hypothesis_id, sha = _seed(store)
    with store.session() as session:
        found = list_audit_findings(session=session, study_id=study_id)
        mine = list_audit_findings(session=session, study_id=study_id, hypothesis_id=hypothesis_id)
        other = list_audit_findings(session=session, study_id=study_id, hypothesis_id=hypothesis_id + 1)
    assert [(f.attempt, f.stage) for f in found] == [(1, "static"), (2, "smoke")]
    assert found[0].problems[1] == "line 3: builtin 'chr' is not allowed"  # the JSON list round-trips
    assert found[0].code_sha256 == sha and store.get_artifact(sha) == b"import bz2\n"
    assert found[0].created_at.tzinfo is not None
    assert [f.id for f in mine] == [f.id for f in found] and other == []


def test_findings_travel_with_an_exported_study(store: Store, tmp_path: Path) -> None:
    study_id, hypothesis_id, sha = _seed(store)
    out = io.StringIO()
    with store.session() as s:
        counts = export_jsonl(session=s, artifacts=store.artifacts, study_id=study_id, out=out)
    assert counts["audit_finding"] == 2
    path = tmp_path / "export.jsonl"
    path.write_text(out.getvalue())
    with store.session() as s:
        copy = import_study(session=s, artifacts=store.artifacts, rows=read_export(path), name="copy")
        assert copy.id is not None
        found = list_audit_findings(session=s, study_id=copy.id)
    assert [f.stage for f in found] == ["static", "smoke"] and found[0].code_sha256 == sha
    assert found[0].hypothesis_id not in (None, hypothesis_id)  # remapped to the copy's hypothesis
