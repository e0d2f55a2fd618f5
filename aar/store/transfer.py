"""Export a study (every row and the bytes of every artifact it refers to) and import it into another store.

Two formats. `jsonl`: one file; its first line is the header `{"format": "aar-export", "version": 3}`,
then one `{"table": …, "row": {…}}` object per line, artifact lines adding `"content"` (the bytes,
base64). `csv`: a folder with `manifest.json` (the same header), one `<table>.csv` per table and
`artifacts/<sha256>` files. Import remaps ids, so a study moves from a laptop's SQLite store to a
team's PostgreSQL store; it runs in one transaction, so a bad file imports nothing. Each artifact's
bytes are checked against its hash before they are stored. Older exports (1: no header, hashes only;
2: no findings board) still import; a newer version is refused.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from pydantic import ValidationError
from sqlalchemy import insert, inspect
from sqlmodel import Session, SQLModel, col, select

from aar.errors import DataError, UserError
from aar.store.artifacts import ArtifactMissingError, ArtifactStore, register_artifact
from aar.store.crud import get_study
from aar.store.models import (
    AgentEvent,
    Artifact,
    AuditFinding,
    BudgetCharge,
    CurvePoint,
    Experiment,
    Hypothesis,
    LLMCall,
    ResearchFinding,
    Score,
    Study,
)

# Export order: every row comes after the rows it refers to.
TABLES: dict[str, type[SQLModel]] = {
    "artifact": Artifact,
    "study": Study,
    "hypothesis": Hypothesis,
    "experiment": Experiment,
    "curve_point": CurvePoint,
    "score": Score,
    "llm_call": LLMCall,
    "budget_charge": BudgetCharge,
    "audit_finding": AuditFinding,
    "agent_event": AgentEvent,
    "research_finding": ResearchFinding,  # the findings board (priors for later studies)
}
_BATCH = 5000
FORMAT = "aar-export"
# 1: rows only (artifacts by hash); 2: a header line, artifact bytes and the agent log; 3: the findings board.
FORMAT_VERSION = 3
HEADER = {"format": FORMAT, "version": FORMAT_VERSION}


class ImportRow(NamedTuple):
    """One row read from an export, with where it came from (for error messages)."""

    table: str
    values: dict[str, Any]
    source: Path
    line: int
    # An artifact's bytes (None: the export carried only its hash).
    content: bytes | None = None


def iter_study_rows(*, session: Session, study_id: int) -> Iterator[tuple[str, SQLModel]]:
    """Every row of a study, table by table in export order."""
    study = get_study(session=session, study_id=study_id)
    experiment_ids = select(Experiment.id).where(Experiment.study_id == study_id)
    hashes = _study_hashes(session=session, study=study)
    queries: dict[str, Any] = {
        "artifact": select(Artifact).where(col(Artifact.sha256).in_(hashes)).order_by(col(Artifact.sha256)),
        "study": select(Study).where(Study.id == study_id),
        "hypothesis": select(Hypothesis).where(Hypothesis.study_id == study_id).order_by(col(Hypothesis.id)),
        "experiment": select(Experiment).where(Experiment.study_id == study_id).order_by(col(Experiment.id)),
        "curve_point": select(CurvePoint)
        .where(col(CurvePoint.experiment_id).in_(experiment_ids))
        .order_by(col(CurvePoint.id)),
        "score": select(Score).where(col(Score.experiment_id).in_(experiment_ids)).order_by(col(Score.id)),
        "llm_call": select(LLMCall).where(LLMCall.study_id == study_id).order_by(col(LLMCall.id)),
        "budget_charge": select(BudgetCharge)
        .where(BudgetCharge.study_id == study_id)
        .order_by(col(BudgetCharge.id)),
        "audit_finding": select(AuditFinding)
        .where(AuditFinding.study_id == study_id)
        .order_by(col(AuditFinding.id)),
        "agent_event": select(AgentEvent).where(AgentEvent.study_id == study_id).order_by(col(AgentEvent.id)),
        "research_finding": select(ResearchFinding)
        .where(ResearchFinding.study_id == study_id)
        .order_by(col(ResearchFinding.id)),
    }
    for table, query in queries.items():
        for row in session.exec(query.execution_options(yield_per=_BATCH)):
            yield table, row


def _study_hashes(*, session: Session, study: Study) -> set[str]:
    """The artifact hashes a study's rows refer to."""
    experiments = select(Experiment.method_sha256, Experiment.log_sha256, Experiment.output_sha256).where(
        Experiment.study_id == study.id
    )
    calls = select(LLMCall.prompt_sha256, LLMCall.response_sha256).where(LLMCall.study_id == study.id)
    codes = select(AuditFinding.code_sha256).where(AuditFinding.study_id == study.id)
    hashes: set[str | None] = {study.report_sha256, *session.exec(codes).all()}
    for experiment_hashes in session.exec(experiments).all():
        hashes.update(experiment_hashes)
    for call_hashes in session.exec(calls).all():
        hashes.update(call_hashes)
    return {h for h in hashes if h}


# The count key for artifacts whose file is missing from the source store (exported by hash only).
MISSING = "artifact_missing"


def _content(session: Session, artifacts: ArtifactStore, sha256: str, counts: dict[str, int]) -> bytes | None:
    """An artifact's bytes, checked against its hash (a corrupt source store is not exported); None,
    counted under `MISSING`, when its file is absent (e.g. a study imported from a version-1 export)."""
    try:
        data = artifacts.read(sha256, session=session)
    except ArtifactMissingError:
        counts[MISSING] = counts.get(MISSING, 0) + 1
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UserError(f"cannot export: artifact {sha256} in {artifacts.root} does not match its hash")
    return data


def export_jsonl(*, session: Session, artifacts: ArtifactStore, study_id: int, out: TextIO) -> dict[str, int]:
    """Write a study as JSON lines, artifacts' bytes included; return the row count per table."""
    out.write(json.dumps(HEADER) + "\n")
    counts: dict[str, int] = {}
    for table, row in iter_study_rows(session=session, study_id=study_id):
        record: dict[str, Any] = {"table": table, "row": row.model_dump(mode="json")}
        if isinstance(row, Artifact):
            data = _content(session, artifacts, row.sha256, counts)
            if data is not None:
                record["content"] = base64.b64encode(data).decode("ascii")
        out.write(json.dumps(record) + "\n")
        counts[table] = counts.get(table, 0) + 1
    return counts


def export_csv(*, session: Session, artifacts: ArtifactStore, study_id: int, folder: Path) -> dict[str, int]:
    """Write a study as one CSV per table, artifacts as `artifacts/<sha256>`; return row counts."""
    (folder / "artifacts").mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(HEADER) + "\n")
    counts: dict[str, int] = {}
    handles = {table: (folder / f"{table}.csv").open("w", newline="") for table in TABLES}
    try:
        writers = {table: csv.writer(handle) for table, handle in handles.items()}
        for table, writer in writers.items():
            writer.writerow(_columns(table))
        for table, row in iter_study_rows(session=session, study_id=study_id):
            values = row.model_dump(mode="json")
            if isinstance(row, Artifact):
                data = _content(session, artifacts, row.sha256, counts)
                if data is not None:
                    (folder / "artifacts" / row.sha256).write_bytes(data)
            writers[table].writerow([_csv_cell(values[name]) for name in _columns(table)])
            counts[table] = counts.get(table, 0) + 1
    finally:
        for handle in handles.values():
            handle.close()
    return counts


def _columns(table: str) -> list[str]:
    return [column.name for column in inspect(TABLES[table]).columns]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def read_export(path: Path) -> Iterator[ImportRow]:
    """The rows of an export: a `.jsonl` file or a folder of CSVs."""
    if not path.exists():
        raise UserError(f"no export at {path}")
    return _read_csv_folder(path) if path.is_dir() else _read_jsonl(path)


def check_header(path: Path, header: dict[str, Any]) -> None:
    """Refuse an export written by a newer aar (a format version this one cannot read)."""
    version = header.get("version")
    if header.get("format") != FORMAT or not isinstance(version, int):
        raise DataError(path, f"not an aar export header: {json.dumps(header)[:80]}", row=1)
    if version > FORMAT_VERSION:
        raise UserError(
            f"{path} is an aar export of format version {version}; this aar reads up to "
            f"version {FORMAT_VERSION}: upgrade aar to import it"
        )


def _read_jsonl(path: Path) -> Iterator[ImportRow]:
    with path.open() as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if "format" in record and "table" not in record:
                    check_header(path, record)
                    continue
                content = record.get("content")
                data = None if content is None else base64.b64decode(content, validate=True)
                yield ImportRow(record["table"], dict(record["row"]), path, line_number, data)
            except (json.JSONDecodeError, KeyError, TypeError, binascii.Error) as error:
                raise DataError(path, f"not an export line ({error})", row=line_number) from None


def _read_csv_folder(folder: Path) -> Iterator[ImportRow]:
    if not (folder / "study.csv").exists():
        raise UserError(f"{folder} holds no study.csv; is it a CSV export?")
    manifest = folder / "manifest.json"
    if manifest.exists():
        try:
            check_header(manifest, json.loads(manifest.read_text()))
        except json.JSONDecodeError as error:
            raise DataError(manifest, f"not JSON ({error})") from None
    for table, model in TABLES.items():
        path = folder / f"{table}.csv"
        if not path.exists():
            continue
        columns = {column.name: column for column in inspect(model).columns}
        with path.open(newline="") as handle:
            for line_number, record in enumerate(csv.DictReader(handle), start=2):
                values = {name: _from_cell(columns, name, cell) for name, cell in record.items()}
                yield ImportRow(table, values, path, line_number, _csv_content(folder, table, values))


def _csv_content(folder: Path, table: str, values: dict[str, Any]) -> bytes | None:
    """The bytes of an artifact row's file under `artifacts/` (None for other rows or a v1 export)."""
    if table != "artifact":
        return None
    blob = folder / "artifacts" / Path(str(values.get("sha256"))).name
    return blob.read_bytes() if blob.is_file() else None


def _from_cell(columns: dict[str, Any], name: str, cell: str) -> Any:
    column = columns.get(name)
    if column is None:
        return cell
    if cell == "" and column.nullable:
        return None
    if column.type.__class__.__name__ == "JSON":
        return json.loads(cell)
    return cell


def import_study(
    *, session: Session, artifacts: ArtifactStore, rows: Iterable[ImportRow], name: str | None = None
) -> Study:
    """Insert an exported study under new ids (and `name`, if given), its artifacts' bytes stored
    content-addressed in `artifacts`; return the new study."""
    importer = _Importer(session=session, artifacts=artifacts, name=name)
    for row in rows:
        try:
            importer.add(row)
        except ValidationError as error:
            problem = f"bad {row.table} row: {error.errors()[0]['loc']} {error.errors()[0]['msg']}"
            raise DataError(row.source, problem, row=row.line) from None
        except KeyError as error:
            raise DataError(row.source, f"refers to unknown {error}", row=row.line) from None
    importer.flush()
    if importer.study is None:
        raise UserError("the export holds no study")
    return importer.study


class _Importer:
    """Remaps exported ids to the new store's ids, row by row, batching the bulk tables."""

    def __init__(self, *, session: Session, artifacts: ArtifactStore, name: str | None) -> None:
        self.session = session
        self.artifacts = artifacts
        self.name = name
        self.study: Study | None = None
        self.ids: dict[str, dict[int, int]] = {"hypothesis": {}, "experiment": {}, "llm_call": {}}
        self.pending: dict[str, list[dict[str, Any]]] = {"curve_point": [], "score": []}

    def add(self, row: ImportRow) -> None:
        """Insert one exported row (bulk tables are buffered)."""
        if row.table not in TABLES:
            raise DataError(row.source, f"unknown table {row.table!r}", row=row.line)
        if row.table == "artifact":
            self._add_artifact(row)
            return
        if row.table == "study":
            self._add_study(row)
            return
        if self.study is None:
            raise DataError(row.source, "rows before the study row", row=row.line)
        self._add_child(row)

    def _add_artifact(self, row: ImportRow) -> None:
        """Store an artifact's bytes (after checking them against its hash) and record its row."""
        artifact = Artifact.model_validate(row.values)
        if row.content is not None:
            if hashlib.sha256(row.content).hexdigest() != artifact.sha256:
                problem = f"artifact {artifact.sha256[:12]}… does not match its hash (altered export?)"
                raise DataError(row.source, problem, row=row.line)
            self.artifacts.write(row.content, session=self.session)
            artifact.size = len(row.content)
        register_artifact(session=self.session, **artifact.model_dump(exclude={"created_at"}))

    def _add_study(self, row: ImportRow) -> None:
        if self.study is not None:
            raise DataError(row.source, "a second study in one export", row=row.line)
        values = {**row.values, "id": None, "name": self.name or row.values.get("name")}
        study = Study.model_validate(values)
        if self.session.exec(select(Study.id).where(Study.name == study.name)).first() is not None:
            raise UserError(f"this store already has a study named {study.name!r}; import with --name NEW")
        self.session.add(study)
        self.session.flush()
        self.study = study

    def _add_child(self, row: ImportRow) -> None:
        assert self.study is not None
        values = dict(row.values)
        old_id = values.pop("id", None)
        if "study_id" in values:
            values["study_id"] = self.study.id
        for key, table in (
            ("parent_id", "hypothesis"),
            ("hypothesis_id", "hypothesis"),
            ("experiment_id", "experiment"),
            ("llm_call_id", "llm_call"),
        ):
            if values.get(key) is not None:
                values[key] = self.ids[table][int(values[key])]
        for key in ("config", "data"):  # JSON that links experiments by id (finalist checks, events)
            if isinstance(values.get(key), dict):
                values[key] = _remap_experiment_ids(values[key], self.ids["experiment"])
        instance = TABLES[row.table].model_validate(values)
        if row.table in self.pending:
            self._buffer(row.table, instance.model_dump(exclude={"id"}))
            return
        self.session.add(instance)
        self.session.flush()
        if row.table in self.ids and old_id is not None:
            self.ids[row.table][int(old_id)] = int(getattr(instance, "id"))  # noqa: B009

    def _buffer(self, table: str, values: dict[str, Any]) -> None:
        self.pending[table].append(values)
        if len(self.pending[table]) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the buffered bulk rows."""
        for table, rows in self.pending.items():
            if rows:
                self.session.exec(insert(TABLES[table]), params=rows)
                rows.clear()


def _remap_experiment_ids(value: Any, experiments: dict[int, int]) -> Any:
    """`value` with every `…experiment_id` integer (at any depth) renumbered; unknown ids become None.

    The finalist checks link runs this way (`search_experiment_id`, `integrity.ablation_experiment_id`);
    an id left as exported would point at another study's experiment in the new store.
    """
    if isinstance(value, dict):
        return {
            key: experiments.get(item)
            if key.endswith("experiment_id") and isinstance(item, int) and not isinstance(item, bool)
            else _remap_experiment_ids(item, experiments)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_remap_experiment_ids(item, experiments) for item in value]
    return value
