"""`aar` refuses a user error before the heavy imports (issue 11: "fail in < 1 s").

Only the commands module that owns the invoked command is imported (`aar.cli.modules_for`); each user
error below is checked in a fresh interpreter: exit 2, one line, and no torch, transformers, LangGraph
or SQLAlchemy in `sys.modules`. Timing is a benchmark (bench/cli_startup), not a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from aar.cli import COMMAND_MODULES, commands_of, modules_for

HEAVY = ("torch", "transformers", "langgraph", "sqlalchemy", "sqlmodel", "alembic")
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})), file=sys.stderr))
sys.argv = ["aar", *{args!r}]
from aar.cli import main
main()
"""


def run_probe(args: list[str], results: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`aar ARGS` in a fresh interpreter: the process, and the top-level packages it had imported."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        capture_output=True, text=True, timeout=120, env={"AAR_RESULTS_DIR": str(results), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    *said, imported = out.stderr.strip().splitlines()
    out.stderr = "\n".join(said)
    return out, set(json.loads(imported))


@pytest.fixture
def binary_csv(tmp_path: Path) -> Path:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"text,label\nok,1\n\xff\xfe\x00bad,0\n")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--max-experiments", "-3"], "--max-experiments"),
        (["run", "--max-experiments", "3"], "--max-experiments 3 is too small"),
        (["run", "--sandbox", "dockr"], "sandbox: Input should be"),
        (["run", "--deadline", "0s"], "--deadline 0s leaves no time"),
        (["exp", "run", "--method", "naive", "--set", "nosuchkey=1"], "unknown hyperparameter 'nosuchkey'"),
        (["exp", "run", "--method", "naive", "--task", "custom:{binary}"], "not UTF-8 text"),
        (["resume", "x", "--max-usd", "-1"], "--max-usd"),
        (["resume", "x", "--deadline", "soon"], "bad duration 'soon'"),
    ],
)
def test_user_errors_are_refused_before_heavy_imports(
    args: list[str], message: str, binary_csv: Path, tmp_path: Path
) -> None:
    args = [a.format(binary=binary_csv) for a in args]
    out, imported = run_probe(args, tmp_path / "results")
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
    assert not (tmp_path / "results").exists()


def test_each_command_loads_only_its_own_module() -> None:
    assert modules_for(["run", "--max-experiments", "-3"]) == ("aar.graph.commands",)
    assert modules_for(["exp", "run", "--set", "x=1"]) == ("aar.w2s.commands",)
    assert modules_for(["--help"]) == COMMAND_MODULES  # help lists every command
    assert modules_for([]) == COMMAND_MODULES
    assert modules_for(["nosuchcommand"]) == COMMAND_MODULES  # click then names the known ones


@pytest.mark.parametrize("module_name", COMMAND_MODULES)
def test_commands_read_from_the_source_are_the_ones_registered(module_name: str) -> None:
    """`commands_of` (an ast read, no import) names exactly what `register` adds: no command goes missing."""
    app = typer.Typer()
    __import__(module_name, fromlist=["register"]).register(app)
    registered = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert registered == set(commands_of(module_name))
    assert registered, f"{module_name} registers no command"
