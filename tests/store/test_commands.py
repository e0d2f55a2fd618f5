"""`aar ls`, `show`, `export`, `import` and their one-line errors, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from aar.config import Settings
from aar.store import HypothesisCreate, create_hypothesis, open_store

from .conftest import run_aar
from .factories import make_experiment, make_study, run_to_ok


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A results folder holding one study with two finished experiments."""
    results = tmp_path / "results"
    store = open_store(Settings(results_dir=results, database_url=""))
    with store.session() as session:
        study = make_study(session, "sciq-probe", usd=2.0)
        hypothesis = create_hypothesis(
            session=session,
            study_id=study.id or 0,
            hypothesis_in=HypothesisCreate(text="confidence loss helps"),
        )
        for pgr in (0.25, 0.5):
            run_to_ok(session, make_experiment(session, study, hypothesis_id=hypothesis.id), pgr)
    store.close()
    return {"AAR_RESULTS_DIR": str(results)}


def _one_line_error(proc: object, pattern: str) -> None:
    assert getattr(proc, "returncode") == 2, proc  # noqa: B009
    stderr = getattr(proc, "stderr").strip()  # noqa: B009
    assert "\n" not in stderr and "Traceback" not in stderr, stderr
    assert stderr.startswith("error:") and pattern in stderr, stderr


def test_ls_and_show(env: dict[str, str]) -> None:
    listed = run_aar("ls", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "sciq-probe" in listed.stdout
    (item,) = json.loads(run_aar("ls", "--json", env=env).stdout)
    assert (item["name"], item["experiments"], item["best_pgr"]) == ("sciq-probe", 2, 0.5)

    shown = run_aar("show", "sciq-probe", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "best test PGR: 0.500" in shown.stdout and "confidence loss helps" in shown.stdout
    view = json.loads(run_aar("show", "1", "--json", env=env).stdout)
    assert view["summary"]["best"]["value"] == 0.5
    assert [p["best"] for p in view["best_so_far"]] == [0.25, 0.5]
    assert view["hypotheses"][0]["experiments"] == [1, 2]


def test_unknown_study(env: dict[str, str]) -> None:
    _one_line_error(run_aar("show", "nope", env=env), "no study named 'nope'")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_elsewhere(env: dict[str, str], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"export-{fmt}"
    exported = run_aar("export", "sciq-probe", "--format", fmt, "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    team = {"AAR_RESULTS_DIR": str(tmp_path / "team")}
    imported = run_aar("import", str(out), env=team)
    assert imported.returncode == 0, imported.stderr
    assert "imported study sciq-probe" in imported.stdout
    view = json.loads(run_aar("show", "sciq-probe", "--json", env=team).stdout)
    assert view["summary"]["counts"] == {"ok": 2}
    _one_line_error(run_aar("import", str(out), env=team), "--name")


def test_export_jsonl_to_stdout(env: dict[str, str]) -> None:
    exported = run_aar("export", "sciq-probe", env=env)
    tables = [json.loads(line).get("table") for line in exported.stdout.splitlines()]
    assert tables.count("experiment") == 2 and tables.count("curve_point") == 6


def test_csv_export_needs_a_folder(env: dict[str, str]) -> None:
    _one_line_error(run_aar("export", "sciq-probe", "--format", "csv", env=env), "--out FOLDER")


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("postgresql//oops", "malformed database URL"),
        ("postgresql://x@127.0.0.1:1/db", "cannot open the database"),
    ],
)
def test_bad_database_url(tmp_path: Path, url: str, pattern: str) -> None:
    results = tmp_path / "results"
    _one_line_error(run_aar("ls", env={"AAR_RESULTS_DIR": str(results), "AAR_DATABASE_URL": url}), pattern)
    assert not results.exists()


def test_store_from_a_newer_aar(env: dict[str, str]) -> None:
    database = Path(env["AAR_RESULTS_DIR"]) / "aar.db"
    store = open_store(url=f"sqlite:///{database}", results_dir=Path(env["AAR_RESULTS_DIR"]))
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.close()
    before = database.read_bytes()
    _one_line_error(run_aar("ls", env=env), "newer than this aar knows")
    assert database.read_bytes() == before


@pytest.fixture
def read_only_results(tmp_path: Path) -> Iterator[Path]:
    """A results folder nobody can write: mode 555, and immutable when we are root (root ignores modes)."""
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(results)], capture_output=True).returncode != 0:
        pytest.skip("running as root and this filesystem cannot mark a folder immutable (chattr +i)")
    try:
        yield results
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(results)], check=True)
        results.chmod(0o755)


def test_read_only_results_folder(read_only_results: Path) -> None:
    _one_line_error(run_aar("ls", env={"AAR_RESULTS_DIR": str(read_only_results)}), "is not writable")
    assert list(read_only_results.iterdir()) == []
