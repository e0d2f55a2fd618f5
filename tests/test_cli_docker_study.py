"""A study in real Docker through the real `aar` command (issue 11's "Done when": real Docker): SIGTERM
while a job's container runs stops the study and removes the container; `aar resume` then finishes it in
Docker, with research done (exit 0). A job in Docker that outlives the search time is killed there and
recorded, and the study still ends within its deadline with its report. And an LLM that cannot be reached
marks the study failed (exit 3)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakes.llm import FakeOpenAIServer, Text
from tests.test_cli_status import AAR, SMALL, Study, aar, shown

ENDLESS = Path(__file__).parent / "graph" / "deadline_methods" / "endless.py"
PROPOSAL = {"hypotheses": [{"text": "An endless loss", "rationale": "it never returns", "expected_effect": "none",
                            "base_method": "naive", "hparams": {}}]}  # fmt: skip
# Bigger than the smoke run's 96 w2s_train texts, so the endless method spins only in the real job.
SPINNING = ["--sizes", "weak_train=48,w2s_train=160,dev=32,test=32", "--seeds", "1", "--per-round", "1",
            "--max-experiments", "5"]  # fmt: skip

LABEL = "org.aar.sandbox"  # aar.sandbox.docker.LABEL: its value starts with the owning process's pid


@pytest.fixture
def env(tmp_path: Path, shared_cache: Path) -> dict[str, str]:
    """A fresh results folder (SQLite) with the shared embedding cache."""
    return dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache))


def containers_of(pid: int) -> list[str]:
    """Ids of the containers (running or not) that process `pid` started."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format", f'{{{{.ID}}}} {{{{.Label "{LABEL}"}}}}'],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return [line.split()[0] for line in out.stdout.splitlines() if line.split()[-1].startswith(f"{pid}-")]


def wait_until(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.docker
@pytest.mark.slow
def test_sigterm_removes_the_running_container_and_resume_finishes_in_docker(env: dict[str, str]) -> None:
    study = Study(env, "--name", "dock", *SMALL, "--sandbox", "docker")
    study.wait_for("implement")  # the audit's smoke run, in a container, comes next
    assert wait_until(lambda: containers_of(study.proc.pid), 300), study.output()[-3000:]
    study.proc.send_signal(signal.SIGTERM)
    assert study.finish(timeout=120) == 143, study.output()[-3000:]
    assert wait_until(lambda: not containers_of(study.proc.pid), 60), "the job's container was left behind"
    row = shown(env, "dock")
    assert row["status"] == "stopped" and "SIGTERM" in row["stop_reason"]

    resumed = aar(env, "resume", "dock")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "sandbox: docker" in resumed.stdout
    row = shown(env, "dock")
    assert row["status"] == "finished" and row["stop_reason"].startswith("budget")


@pytest.mark.slow
def test_an_unreachable_llm_marks_the_study_failed(env: dict[str, str]) -> None:
    env = {**env, "OPENAI_API_KEY": "x", "AAR_LLM_RETRY_ATTEMPTS": "2", "AAR_LLM_RETRY_BASE_S": "0.01"}
    model = "openai-compatible/qwen2.5-0.5b@http://127.0.0.1:9/v1"  # the discard port: nothing listens
    out = subprocess.run(
        [AAR, "run", "--name", "nollm", "--policy", "llm",
         "--model", model, *SMALL, "--sandbox", "local", "--unsafe-local"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 3, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    row = shown(env, "nollm")
    assert row["status"] == "failed" and "LLM" in row["stop_reason"], row


@pytest.mark.docker
@pytest.mark.slow
def test_a_docker_job_past_the_search_time_is_killed_and_the_study_ends_in_time(env: dict[str, str]) -> None:
    env = {**env, "OPENAI_API_KEY": "x", "AAR_LLM_RETRY_BASE_S": "0.01"}
    seconds = 120
    script = [Text(PROPOSAL), Text({"method_code": ENDLESS.read_text()})]
    with FakeOpenAIServer(script) as server:
        model = f"openai-compatible/qwen2.5-0.5b@{server.base_url}"
        started = time.time()
        out = subprocess.run(
            [AAR, "run", "--name", "spin", "--policy", "llm", "--model", model, *SPINNING, "--sandbox", "docker",
             "--deadline", f"{seconds}s", "--json"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    ended = time.time()
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-3000:]  # finished, but no research done
    assert ended - started < seconds + 15, f"ended {ended - started - seconds:.0f}s past its deadline"
    summary = json.loads(out.stdout)
    assert summary["status"] == "finished" and summary["stop_reason"].startswith("budget")
    assert summary["report_path"] and Path(summary["report_path"]).is_file()
    with sqlite3.connect(Path(env["AAR_RESULTS_DIR"]) / "aar.db") as db:
        rows = db.execute("SELECT status, error, config FROM experiment").fetchall()
    search = [(status, error) for status, error, config in rows if json.loads(config).get("role") == "search"]
    assert len(search) == 1 and search[0][0] == "timeout", rows
    assert "killed at the study's deadline" in search[0][1]
