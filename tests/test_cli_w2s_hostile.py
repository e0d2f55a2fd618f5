"""`aar exp run` on hostile method files: one line and the documented exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli_w2s import aar

HOSTILE = Path(__file__).parent / "sandbox" / "hostile_output"
TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
LOCAL = ("--sandbox", "local", "--unsafe-local", "--seeds", "1", "--sizes", TINY)


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [("non_utf8", "not UTF-8 JSON"), ("markup_id", "unexpected id '[/bold]'")],
)
def test_hostile_output_is_one_line_exit_1(results_env: Path, fixture: str, reason: str):
    out = aar("exp", "run", "--method", str(HOSTILE / f"{fixture}.py"), *LOCAL)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr + out.stdout
    (line,) = [x for x in out.stdout.splitlines() if "invalid_output" in x]
    assert reason in line


def test_bad_requires_is_one_line_exit_2(results_env: Path):
    out = aar("exp", "run", "--method", str(HOSTILE / "bad_requires.py"), *LOCAL)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and "REQUIRES must be a dict" in out.stderr
    assert len([x for x in out.stderr.splitlines() if x.strip()]) == 1
