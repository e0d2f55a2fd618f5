"""Exit codes wrappers can rely on (cron, Slurm, CI): Ctrl-C during a study exits 130, never 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

AAR = str(Path(sys.executable).parent / "aar")


def _start(name: str, tmp_path: Path, shared_cache: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache))
    cmd = [AAR, "run", "--name", name, "--sizes", "weak_train=48,w2s_train=96,dev=32,test=32", "--seeds", "1",
           "--per-round", "1", "--max-experiments", "5", "--sandbox", "local", "--unsafe-local"]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), env


def _read_until(proc: subprocess.Popen[str], text: str, lines: list[str], timeout: float = 300) -> float:
    """Read the study's output until a line holds `text`; when it came (monotonic seconds)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            return time.monotonic()
        if time.monotonic() > deadline:
            break
    pytest.fail(f"no {text!r} in the output:\n{''.join(lines)[-3000:]}")


def _study(name: str, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([AAR, "show", name, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    study: dict[str, object] = json.loads(out.stdout)["summary"]["study"]
    return study


@pytest.mark.slow
def test_ctrl_c_during_a_study_exits_130_with_how_to_resume(tmp_path: Path, shared_cache: Path) -> None:
    proc, env = _start("ctrl-c", tmp_path, shared_cache)
    lines: list[str] = []
    _read_until(proc, "propose", lines)  # the study is under way
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    acknowledged = _read_until(proc, "stopping after the running job; Ctrl-C again to kill it", lines)
    assert acknowledged - sent < 5  # at once, not when the job ends
    out, _ = proc.communicate(timeout=300)
    text = "".join(lines) + out
    assert proc.returncode == 130, text[-2000:]
    assert "aar resume ctrl-c" in text
    study = _study("ctrl-c", env)
    assert study["status"] == "stopped" and study["stop_reason"] == "stopped by the user (Ctrl-C)"


def test_a_second_ctrl_c_kills_the_running_job_and_exits_130(tmp_path: Path, shared_cache: Path) -> None:
    proc, env = _start("ctrl-c-twice", tmp_path, shared_cache)
    lines: list[str] = []
    _read_until(proc, "propose", lines)
    proc.send_signal(signal.SIGINT)
    _read_until(proc, "Ctrl-C again to kill it", lines)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - sent < 30, ("".join(lines) + out)[-2000:]
    study = _study("ctrl-c-twice", env)
    assert study["status"] == "stopped" and "Ctrl-C twice" in str(study["stop_reason"])


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
