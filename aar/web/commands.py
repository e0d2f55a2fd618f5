"""`aar report` and `aar serve`: a study's report on disk, and the dashboard over the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aar.config import Settings
from aar.errors import UserError

console = Console()


def report(
    study: Annotated[str, typer.Argument(help="Study name or id.")],
    # A plain string checked by write_report: a bad value is then one UserError line, exit 2.
    fmt: Annotated[str, typer.Option("--format", help="html (self-contained) or md.")] = "html",
    out: Annotated[Path | None, typer.Option("--out", help="Output file (default results/reports/).")] = None,
) -> None:
    """Write a study's report: methods, PGR with CIs, plots, hypotheses, integrity flags, winning code."""
    check_out(out)
    # Imported here: the report's plotting stack would slow every `aar` command, and a bad --out.
    from aar.report import FORMATS, write_report
    from aar.store.engine import open_store

    if fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r}; use html or md")
    store = open_store(Settings())
    try:
        path = write_report(store, study, fmt="md" if fmt == "md" else "html", out=out)
    finally:
        store.close()
    console.print(f"report written to {path}")


def check_out(out: Path | None) -> None:
    """Refuse an --out whose folder does not exist (a typo would otherwise create a tree of folders)."""
    if out is None:
        return
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name, e.g. {out / 'report.html'}")
    if not out.parent.is_dir():
        raise UserError(f"the folder {out.parent} for --out does not exist; create it first")


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; non-loopback needs AAR_WEB_TOKEN.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    store_url: Annotated[
        str | None, typer.Option("--store", help="Database URL (default: the settings').")
    ] = None,
) -> None:
    """Serve the read-only dashboard over the results store."""
    import uvicorn

    from aar.store.engine import open_store
    from aar.web.app import create_app
    from aar.web.security import TOKEN_ENV, check_binding

    token = os.environ.get(TOKEN_ENV) or None
    check_binding(host, token)
    store = open_store(Settings(), url=store_url)
    try:
        console.print(f"aar dashboard on http://{host}:{port}/ (store {store.url})")
        uvicorn.run(create_app(store, token=token), host=host, port=port, log_level="warning")
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    """Add `report` and `serve` to the `aar` command."""
    app.command("report")(report)
    app.command("serve")(serve)
