"""A realistic study survives export → import into a fresh store: same report, same agent log, same code.

Seeded with tests/report/seed.py (hypotheses, experiments, a failure with its log, LLM calls, an agent
event, audit findings with their rejected code, a stored report). The receiving store already holds
another study, so every imported id differs from the exported one; the comparison normalizes exactly
those ids (see `_normalize`) and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from aar.config import Settings
from aar.errors import DataError, UserError
from aar.report.gather import gather
from aar.report.render import render
from aar.store import (
    HypothesisCreate,
    LLMCallCreate,
    Store,
    create_hypothesis,
    open_store,
    record_llm_call,
    set_study_status,
)
from aar.store.artifacts import ArtifactMissingError
from aar.store.findings import list_findings, record_finding
from aar.store.models import (
    AgentEvent,
    Experiment,
    Hypothesis,
    ResearchFindingCreate,
    Study,
    StudyStatus,
)
from aar.store.transfer import (
    FORMAT_VERSION,
    MISSING,
    _remap_experiment_ids,
    export_csv,
    export_jsonl,
    import_study,
    read_export,
)
from tests.report.audit_seed import reject
from tests.report.seed import seed_study

from .conftest import run_aar
from .factories import drop_bytes, make_experiment, make_study

NAME = "demo"
AUDITED_CODE = hashlib.sha256(b"import torch\n").hexdigest()  # what tests/report/audit_seed.py rejects


def _open(results: Path, url: str = "") -> Store:
    return open_store(Settings(results_dir=results, database_url=url))


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Store]:
    """A file-backed SQLite store holding the seeded study, finished, with its Markdown report stored."""
    store = _open(tmp_path / "laptop")
    seeded = seed_study(store, NAME)
    reject(store, seeded.study_id)
    report = store.put_artifact(_report(store, "md").encode(), kind="report", media_type="text/markdown")
    with store.session() as session:
        set_study_status(
            session=session, study_id=seeded.study_id, status=StudyStatus.FINISHED, report_sha256=report
        )
    yield store
    store.close()


def _fresh(results: Path, url: str = "") -> Store:
    """A store that already holds a study with a hypothesis and experiments, so no imported id (study,
    hypothesis, experiment, LLM call) can equal its exported one."""
    store = _open(results, url)
    with store.session() as session:
        other = make_study(session, "already-here")
        create_hypothesis(
            session=session, study_id=int(other.id or 0), hypothesis_in=HypothesisCreate(text="x")
        )
        for _ in range(3):
            make_experiment(session, other)
        record_llm_call(
            session=session,
            study_id=int(other.id or 0),
            call_in=LLMCallCreate(node="plan", provider="fake", model="m"),
        )
    return store


def _report(store: Store, fmt: str) -> str:
    text, _ = render(gather(store, NAME), fmt)  # type: ignore[arg-type]
    return text


def _normalize(text: str, store: Store, label: str = "H") -> str:
    """Replace what legitimately differs between the two stores' renders: hypotheses' database ids (the
    report labels hypotheses `H<id>`, `aar log` `h<id>`: `label`; shown here as their rank in the study),
    matplotlib's random SVG element ids and the report's generation time. Experiments are numbered per
    study, so their numbers must match; so must every value, hash and timestamp."""
    with store.session() as session:
        study = session.exec(select(Study).where(Study.name == NAME)).one()
        ids = session.exec(
            select(Hypothesis.id).where(Hypothesis.study_id == study.id).order_by(col(Hypothesis.id))
        ).all()
    rank = {int(h or 0): n for n, h in enumerate(ids, start=1)}
    text = re.sub(rf"\b{label}(\d+)\b", lambda m: f"{label}#{rank.get(int(m[1]), '?')}", text)
    text = re.sub(r"\b[mp][0-9a-f]{10}\b", "SVGID", text)
    return re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\.\d+)?\s*(UTC|Z)?", "TIME", text)


def _runs(store: Store) -> list[tuple[int, dict[str, object], str | None, str | None]]:
    """Each experiment's number, config (experiment ids in it shown as numbers), code and log hashes."""
    with store.session() as session:
        study = session.exec(select(Study).where(Study.name == NAME)).one()
        runs = session.exec(
            select(Experiment).where(Experiment.study_id == study.id).order_by(col(Experiment.number))
        ).all()
    numbers = {int(e.id or 0): e.number for e in runs}
    return [(e.number, _remap_experiment_ids(e.config, numbers), e.method_sha256, e.log_sha256) for e in runs]


def _assert_same_study(laptop: Store, team: Store) -> None:
    """Same Markdown and HTML reports (ids normalized), same stored report, same code and logs."""
    for fmt in ("md", "html"):
        assert _normalize(_report(team, fmt), team) == _normalize(_report(laptop, fmt), laptop), fmt
    runs = _runs(laptop)
    assert _runs(team) == runs and any("ablation_experiment_id" in str(config) for _, config, _, _ in runs)
    with laptop.session() as s, team.session() as t:
        old = s.exec(select(Study).where(Study.name == NAME)).one()
        new = t.exec(select(Study).where(Study.name == NAME)).one()
        assert new.id != old.id and new.report_sha256 == old.report_sha256
        events = t.exec(
            select(func.count()).select_from(AgentEvent).where(AgentEvent.study_id == new.id)
        ).one()
    assert events == 1
    assert team.get_artifact(AUDITED_CODE) == b"import torch\n"  # the audit's rejected code
    assert team.get_artifact(str(new.report_sha256)) == laptop.get_artifact(str(old.report_sha256))
    for _, _, method, log in runs:
        assert method and team.get_artifact(method) == laptop.get_artifact(method)
        if log:
            assert team.get_artifact(log) == b'{"event": "nan loss at step 2"}\n'


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_imported_study_regenerates_the_same_report(laptop: Store, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"demo.{fmt}"
    with laptop.session() as session:
        if fmt == "jsonl":
            with path.open("w") as handle:
                counts = export_jsonl(session=session, artifacts=laptop.artifacts, study_id=1, out=handle)
        else:
            counts = export_csv(session=session, artifacts=laptop.artifacts, study_id=1, folder=path)
    assert counts["agent_event"] == 1 and counts["audit_finding"] == 2 and counts["llm_call"] == 1
    team = _fresh(tmp_path / "team")
    try:
        with team.session() as session:
            import_study(session=session, artifacts=team.artifacts, rows=read_export(path))
        _assert_same_study(laptop, team)
    finally:
        team.close()


@pytest.mark.postgres
def test_a_study_moves_from_sqlite_to_postgres(laptop: Store, tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "demo.jsonl"
    with laptop.session() as session, path.open("w") as handle:
        export_jsonl(session=session, artifacts=laptop.artifacts, study_id=1, out=handle)
    team = _fresh(tmp_path / "team", pg_url)
    try:
        with team.session() as session:
            import_study(session=session, artifacts=team.artifacts, rows=read_export(path))
        _assert_same_study(laptop, team)
    finally:
        team.close()


def test_cli_round_trip_keeps_the_agent_log(laptop: Store, tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    source = {"AAR_RESULTS_DIR": str(tmp_path / "laptop")}
    target = {"AAR_RESULTS_DIR": str(tmp_path / "team")}
    _fresh(tmp_path / "team").close()
    exported = run_aar("export", NAME, "--out", str(path), env=source)
    assert exported.returncode == 0, exported.stderr
    imported = run_aar("import", str(path), env=target)
    assert imported.returncode == 0, imported.stderr
    before, after = run_aar("log", NAME, env=source), run_aar("log", NAME, env=target)
    assert after.returncode == 0, after.stderr
    assert "aux_conf beats naive" in after.stdout
    team = _open(tmp_path / "team")
    try:
        assert _normalize(after.stdout, team, "h") == _normalize(before.stdout, laptop, "h")
    finally:
        team.close()


def _one_line_error(proc: object, pattern: str) -> None:
    assert getattr(proc, "returncode") == 2, proc  # noqa: B009
    stderr = getattr(proc, "stderr").strip()  # noqa: B009
    assert "\n" not in stderr and "Traceback" not in stderr and pattern in stderr, stderr


def _exported_lines(laptop: Store) -> list[str]:
    path_lines: list[str] = []
    with laptop.session() as session:

        class _Out:
            def write(self, text: str) -> None:
                path_lines.append(text)

        export_jsonl(session=session, artifacts=laptop.artifacts, study_id=1, out=_Out())  # type: ignore[arg-type]
    return "".join(path_lines).splitlines()


def test_a_tampered_artifact_is_refused(laptop: Store, tmp_path: Path) -> None:
    lines = _exported_lines(laptop)
    (index,) = [i for i, line in enumerate(lines) if b"nan loss" in _content(line)]
    record = json.loads(lines[index])
    record["content"] = base64.b64encode(b'{"event": "all fine"}\n').decode()
    lines[index] = json.dumps(record)
    path = tmp_path / "tampered.jsonl"
    path.write_text("\n".join(lines) + "\n")
    team = _fresh(tmp_path / "team")
    try:
        match = rf"row {index + 1}: artifact .* does not match its hash"
        with pytest.raises(DataError, match=match), team.session() as session:
            import_study(session=session, artifacts=team.artifacts, rows=read_export(path))
        with team.session() as session:
            assert session.exec(select(func.count()).select_from(Study)).one() == 1  # only already-here
    finally:
        team.close()
    _one_line_error(run_aar("import", str(path), env={"AAR_RESULTS_DIR": str(tmp_path / "team")}), "hash")


def _content(line: str) -> bytes:
    content = json.loads(line).get("content")
    return base64.b64decode(content) if content else b""


def test_a_newer_format_is_refused(laptop: Store, tmp_path: Path) -> None:
    lines = _exported_lines(laptop)
    assert json.loads(lines[0]) == {"format": "aar-export", "version": FORMAT_VERSION}
    lines[0] = json.dumps({"format": "aar-export", "version": FORMAT_VERSION + 1})
    path = tmp_path / "future.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="upgrade aar"):
        list(read_export(path))


def test_a_missing_artifact_file_travels_by_hash(laptop: Store, tmp_path: Path) -> None:
    log = hashlib.sha256(b'{"event": "nan loss at step 2"}\n').hexdigest()
    drop_bytes(laptop, log)
    path = tmp_path / "demo.jsonl"
    with laptop.session() as session, path.open("w") as handle:
        counts = export_jsonl(session=session, artifacts=laptop.artifacts, study_id=1, out=handle)
    assert counts[MISSING] == 1
    team = _fresh(tmp_path / "team")
    try:
        with team.session() as session:
            import_study(session=session, artifacts=team.artifacts, rows=read_export(path))
        with pytest.raises(ArtifactMissingError):
            team.get_artifact(log)
        assert team.get_artifact(AUDITED_CODE) == b"import torch\n"
    finally:
        team.close()


def test_the_findings_board_travels_with_its_links(laptop: Store, tmp_path: Path) -> None:
    """A study's findings board (what its researchers tried, priors for later studies) is exported and
    imported with its hypothesis and experiment renumbered to the imported study's own rows."""
    with laptop.session() as session:
        study = session.exec(select(Study).where(Study.name == NAME)).one()
        run = session.exec(
            select(Experiment).where(Experiment.study_id == study.id).order_by(col(Experiment.number))
        ).first()
        assert run is not None and run.hypothesis_id is not None
        record_finding(session=session, study_id=int(study.id or 0), finding_in=ResearchFindingCreate(
            hypothesis_id=run.hypothesis_id, experiment_id=run.id, researcher="r2", method="aux_conf",
            hparams={"alpha": 0.5}, status="ok", shown_delta=0.12, weak_acc=0.6, ceiling_acc=0.8))  # fmt: skip
        hypothesis_text = session.get(Hypothesis, run.hypothesis_id).text  # type: ignore[union-attr]
        number = run.number
    path = tmp_path / "demo.jsonl"
    with laptop.session() as session, path.open("w") as handle:
        counts = export_jsonl(session=session, artifacts=laptop.artifacts, study_id=1, out=handle)
    assert counts["research_finding"] == 1
    team = _fresh(tmp_path / "team")
    try:
        with team.session() as session:
            import_study(session=session, artifacts=team.artifacts, rows=read_export(path))
        with team.session() as session:
            new = session.exec(select(Study).where(Study.name == NAME)).one()
            (row,) = list_findings(session=session, study_id=int(new.id or 0))
            linked = session.get(Experiment, row.experiment_id)
            assert linked is not None and linked.study_id == new.id and linked.number == number
            assert session.get(Hypothesis, row.hypothesis_id).text == hypothesis_text  # type: ignore[union-attr]
            assert (row.researcher, row.hparams, row.shown_delta) == ("r2", {"alpha": 0.5}, 0.12)
    finally:
        team.close()
