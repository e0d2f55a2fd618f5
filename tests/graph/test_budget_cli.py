"""Budgets through the CLI: a budget too small is refused with its minimum; a study piped to a file shows
its progress as plain lines, rounds its numbers, records why it dropped hypotheses, and its terminal and
`aar show` agree on what was used and what is left."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"


def aar(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aar", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_a_budget_too_small_for_one_round_and_the_finalists_is_refused(tmp_path: Path) -> None:
    env = dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"))
    started = time.monotonic()
    out = aar("run", "--max-experiments", "4", env=env)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    # 3 per round (the default) + 2 runs for each of the 2 default finalists
    assert "--max-experiments 4 is too small: needs at least 7 experiments" in lines[0]
    assert not (tmp_path / "results").exists()  # refused before anything was written
    assert time.monotonic() - started < 30  # no study was started (a loaded CI machine: generous)
    ok = aar("run", "--max-experiments", "5", "--per-round", "1", "--sizes", "nonsense", env=env)
    assert "too small" not in ok.stderr  # 1 + 4 is enough: it gets past the budget check


@pytest.mark.slow
def test_piped_study_shows_progress_rounded_numbers_and_why_it_dropped_hypotheses(
    tmp_path: Path, shared_cache: Path
) -> None:
    env = dict(
        os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache), COLUMNS="400"
    )
    # 8 experiments: round 1 runs 3, round 2 has room for 1 (4 are the finalists'): 2 are dropped.
    run = aar(
        "run", "--name", "piped", "--sizes", TINY, "--seeds", "1", "--sandbox", "local", "--unsafe-local",
        "--max-experiments", "8", "--per-round", "3", "--deadline", "40m", env=env,
    )  # fmt: skip
    text = run.stdout
    assert run.returncode in (0, 1), run.stderr[-3000:] + text[-3000:]
    # progress of every job, as plain lines (stdout is a pipe, not a terminal)
    assert re.search(r"progress  job \(search\): \S+, 1 seed\(s\): started", text), text[-3000:]
    assert re.search(r"progress  job \(final\): \S+, \d+ seed\(s\): done in \d+", text)
    assert "progress  finalize: finalist 1 of 2" in text
    assert "\x1b[" not in text  # no terminal control codes in a pipe
    # numbers rounded for people
    assert re.search(r"naive PGR on dev: -?\d+\.\d\d\n", text), text[:3000]
    assert re.search(
        r"round 1: budget deadline: \S+ \S+ UTC \(\d+m \d\ds left\); experiments: 0 used of 8, 8 left; "
        r"\d+m \d\ds kept for finalize\n",
        text,
    ), text[:3000]
    # the terminal's last budget line and `aar show` agree: one function computes used and left
    final = re.findall(r"(experiments: \d+ used of 8, \d+ left)", text)
    assert final, text[-3000:]
    show = aar("show", "piped", env=env)
    assert show.returncode == 0, show.stderr
    assert f"budget {final[-1]}" in show.stdout, show.stdout
    assert "budget experiments: 8 used of 8, 0 left" in show.stdout
    # every dropped hypothesis carries its reason, in the store and on `aar show`
    dropped = [line for line in show.stdout.splitlines() if "dropped before it ran" in line]
    assert len(dropped) == 2 and all("budget: experiments" in line for line in dropped), show.stdout
    report = (tmp_path / "results" / "reports").glob("*.html")
    assert any("dropped before it ran" in p.read_text() for p in report)
