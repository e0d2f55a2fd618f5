"""Exit codes wrappers can rely on (cron, Slurm, CI): Ctrl-C during a study exits 130, never 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.slow
def test_ctrl_c_during_a_study_exits_130_with_how_to_resume(tmp_path: Path, shared_cache: Path) -> None:
    env = dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache))
    cmd = [str(Path(sys.executable).parent / "aar"), "run", "--name", "ctrl-c", "--sizes",
           "weak_train=200,w2s_train=800,dev=200,test=400", "--seeds", "2", "--sandbox", "local", "--unsafe-local"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 300
    for line in proc.stdout:  # wait until the study is under way
        lines.append(line)
        if "plan" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    text = "".join(lines) + out
    assert proc.returncode == 130, text[-2000:]
    assert "aar resume ctrl-c" in text


@pytest.mark.parametrize(
    "flag",
    [
        "--max-experiments=-3",
        "--max-experiments=0",
        "--max-usd=-1",
        "--max-tokens=-5",
        "--max-device-hours=-2",
    ],
)
def test_negative_or_empty_budgets_are_a_usage_error(flag: str, tmp_path: Path) -> None:
    env = dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"))
    out = subprocess.run(
        [sys.executable, "-m", "aar", "run", flag], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and flag.split("=")[0] in out.stderr
    assert not (tmp_path / "results").exists()  # refused before anything was written
