"""`aar ls`, `aar show`, `aar export`, `aar import`, `aar store pack`: the store on the command line."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from aar.budget import describe_lines
from aar.config import Settings
from aar.errors import UserError
from aar.store.artifacts import pack_files
from aar.store.crud import find_study
from aar.store.engine import Store, open_store
from aar.store.models import StudyPublic
from aar.store.queries import (
    BestResult,
    BestSoFarPoint,
    HypothesisNode,
    StudySummary,
    best_so_far,
    hypothesis_tree,
    list_studies,
    study_summary,
)
from aar.store.transfer import MISSING, export_csv, export_jsonl, import_study, read_export

console = Console()


class ExportFormat(StrEnum):
    """Formats `aar export` writes."""

    JSONL = "jsonl"
    CSV = "csv"


class StudyView(BaseModel):
    """What `aar show --json` prints."""

    summary: StudySummary
    hypotheses: list[HypothesisNode]
    best_so_far: list[BestSoFarPoint]


def _open() -> Store:
    return open_store(Settings())


def ls(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the studies in the store."""
    store = _open()
    try:
        with store.session() as session:
            studies = list_studies(session=session)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in studies], indent=2))
        return
    table = Table("id", "name", "status", "experiments", "best PGR", "its test PGR", "created", "goal")
    for s in studies:
        best = "—" if s.best_pgr is None else f"{s.best_pgr:.3f} ({s.best_split})"
        test = "—" if s.best_test_pgr is None else f"{s.best_test_pgr:.3f}"
        created = f"{s.created_at:%Y-%m-%d %H:%M}"
        status = s.status if not s.stop_reason else f"{s.status}\n[dim]{s.stop_reason[:60]}[/dim]"
        table.add_row(str(s.id), s.name, status, str(s.experiments), best, test, created, s.goal[:60])
    console.print(table if studies else "no studies yet")


def show(
    study: Annotated[str, typer.Argument(help="Study name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a study: status counts, best run (dev winner, its test PGR beside it), budget, hypothesis tree."""
    store = _open()
    try:
        with store.session() as session:
            study_id = find_study(session=session, ref=study).id
            assert study_id is not None
            view = StudyView(
                summary=study_summary(session=session, study_id=study_id),
                hypotheses=hypothesis_tree(session=session, study_id=study_id),
                best_so_far=best_so_far(session=session, study_id=study_id),
            )
    finally:
        store.close()
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        _print_view(view)


def _print_view(view: StudyView) -> None:
    summary = view.summary
    study = summary.study
    console.print(f"[bold]{study.name}[/bold] (id {study.id}, {study.status}): {study.goal}")
    console.print(_status_line(study), highlight=False)
    console.print(f"task {study.task or '—'} · pair {study.pair or '—'} · policy {study.policy or '—'}")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items())) or "none"
    console.print(f"experiments: {counts}")
    if summary.best:
        console.print(_best_line(summary.best), highlight=False)
    end = study.finished_at
    now = time.time() if end is None else (end if end.tzinfo else end.replace(tzinfo=UTC)).timestamp()
    for text in describe_lines(summary.budget, now=now, ended=end is not None):  # as the terminal says it
        console.print(f"budget {text}", highlight=False)
    console.print(f"LLM calls: {summary.llm_calls} (${summary.llm_cost_usd:.2f})")
    tree = Tree(f"hypotheses ({summary.hypotheses})")
    for node in view.hypotheses:
        _add_node(tree, node)
    console.print(tree)


def _status_line(study: StudyPublic) -> str:
    """`status: stopped at 2026-11-28 03:41 UTC: stopped by the user (aar stop)`."""
    when = f" at {study.finished_at:%Y-%m-%d %H:%M} UTC" if study.finished_at else ""
    if study.status == "running" and study.heartbeat_at is not None:
        when = f" (heartbeat {study.heartbeat_at:%H:%M:%S} UTC)"
    return f"status: {study.status}{when}" + (f": {study.stop_reason}" if study.stop_reason else "")


def _best_line(best: BestResult) -> str:
    """The dev winner among search runs, with its sealed-test PGR beside it when it has one."""
    line = f"best {best.split} PGR: {best.value:.3f}{_ci(best.ci_low, best.ci_high)} from experiment {best.number}"
    if best.split != "test":
        test = (
            "not scored (not a finalist)"
            if best.test_value is None
            else f"{best.test_value:.3f}{_ci(best.test_ci_low, best.test_ci_high)} (experiment {best.test_number})"
        )
        line += f"; its sealed test PGR: {test}"
    return line


def _ci(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f" (CI {low:.3f}–{high:.3f})"


def _add_node(parent: Tree, node: HypothesisNode) -> None:
    h = node.hypothesis
    runs = f" · experiments {', '.join(map(str, node.experiments))}" if node.experiments else ""
    why = f" — {escape(h.finding)}" if h.status == "abandoned" and h.finding else ""  # e.g. dropped: budget
    branch = parent.add(f"{escape(f'[{h.status}]')} {escape(h.text)}{runs}{why}", highlight=False)
    for child in node.children:
        _add_node(branch, child)


def export(
    study: Annotated[str, typer.Argument(help="Study name or id.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = ExportFormat.JSONL,
    out: Annotated[Path | None, typer.Option("--out", help="File (jsonl) or folder (csv).")] = None,
) -> None:
    """Export every row of a study, its agent log and the bytes of its artifacts (code, logs, reports)."""
    if fmt == ExportFormat.CSV and out is None:
        raise UserError("--format csv writes a folder of CSV files: give it with --out FOLDER")
    store = _open()
    try:
        with store.session() as session:
            study_id = find_study(session=session, ref=study).id
            assert study_id is not None
            if fmt == ExportFormat.CSV:
                assert out is not None
                counts = export_csv(session=session, artifacts=store.artifacts, study_id=study_id, folder=out)
            elif out is None:
                counts = export_jsonl(
                    session=session, artifacts=store.artifacts, study_id=study_id, out=sys.stdout
                )
            else:
                with out.open("w") as handle:
                    counts = export_jsonl(
                        session=session, artifacts=store.artifacts, study_id=study_id, out=handle
                    )
    finally:
        store.close()
    if counts.get(MISSING):
        Console(stderr=True).print(
            f"warning: {counts[MISSING]} artifact(s) of {study} are missing from the store; "
            "exported by hash only",
            highlight=False,
        )
    if out is not None:
        rows = sum(n for table, n in counts.items() if table != MISSING)
        Console(stderr=True).print(f"exported {rows} rows of {study} to {out}", highlight=False)


def import_(
    path: Annotated[Path, typer.Argument(help="A .jsonl export or a folder of CSVs.")],
    name: Annotated[str | None, typer.Option("--name", help="Import under a new study name.")] = None,
) -> None:
    """Import an exported study into this store (ids are renumbered)."""
    rows = read_export(path)
    store = _open()
    try:
        with store.session() as session:
            study = import_study(session=session, artifacts=store.artifacts, rows=rows, name=name)
    finally:
        store.close()
    console.print(f"imported study {study.name} (id {study.id})", highlight=False)


def pack() -> None:
    """Copy the artifact files under the results folder into the configured place (AAR_ARTIFACTS: the
    database by default), so a dashboard on another host shows them; the files are left in place."""
    store = _open()
    try:
        counts = pack_files(store.artifacts, transaction=store.session)
    finally:
        store.close()
    where = store.artifacts.backend.where
    console.print(
        f"copied {counts.copied} artifact(s) into {where}; {counts.present} were already there",
        highlight=False,
    )
    if counts.corrupt:
        Console(stderr=True).print(
            f"warning: {len(counts.corrupt)} file(s) under {store.artifacts.root} do not match their name "
            f"and were skipped: {', '.join(counts.corrupt[:5])}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add the store's commands to the `aar` app."""
    app.command("ls")(ls)
    app.command("show")(show)
    app.command("export")(export)
    app.command("import")(import_)
    store_app = typer.Typer(help="Maintain the results store.", no_args_is_help=True)
    store_app.command("pack")(pack)
    app.add_typer(store_app, name="store")
