"""The study lifecycle through the real `aar` command: stop, SIGTERM, a crash, a dead host, rm, --notify.

Each test runs real studies (builtin policy, local sandbox, tiny splits) on a real store (SQLite; one
also on PostgreSQL) and reads the outcome back through `aar show --json` / `aar ls --json`.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.store.conftest import pg_url  # noqa: F401  (the fixture: a fresh schema on the test server)

AAR = str(Path(sys.executable).parent / "aar")
TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
# One search round of one hypothesis, then the finalist checks: the smallest budget `aar run` accepts.
SMALL = ["--sizes", TINY, "--seeds", "1", "--per-round", "1", "--max-experiments", "5"]
LOCAL = ["--sandbox", "local", "--unsafe-local"]


class Study:
    """`aar run` in the background, its output read line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [AAR, "run", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text_: str, timeout: float = 300) -> None:
        """Read output until a line contains `text_`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"aar run ended before {text_!r}:\n{self.output()[-3000:]}")
            self.lines.append(line)
            if text_ in line:
                return
        pytest.fail(f"no {text_!r} in {timeout}s:\n{self.output()[-3000:]}")

    def finish(self, timeout: float = 600) -> int:
        """Wait for the process; its exit code."""
        code = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code

    def output(self) -> str:
        return "".join(self.lines)


def aar(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AAR, *args], env=env, capture_output=True, text=True, timeout=300, input=stdin)


def shown(env: dict[str, str], name: str) -> dict[str, Any]:
    """The study as `aar show --json` reports it."""
    out = aar(env, "show", name, "--json")
    assert out.returncode == 0, out.stderr
    study: dict[str, Any] = json.loads(out.stdout)["summary"]["study"]
    return study


def listed(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    out = aar(env, "ls", "--json")
    assert out.returncode == 0, out.stderr
    return {s["name"]: s for s in json.loads(out.stdout)}


@pytest.fixture
def env(tmp_path: Path, shared_cache: Path) -> dict[str, str]:
    return dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache))


@pytest.mark.slow
def test_aar_stop_then_resume_finishes_and_notifies(env: dict[str, str], tmp_path: Path) -> None:
    notified = tmp_path / "notified.jsonl"
    notify = f"cat >> {notified}; echo >> {notified}"
    study = Study(env, "--name", "s1", *SMALL, *LOCAL, "--notify", notify)
    study.wait_for("propose")
    stop = aar(env, "stop", "s1")
    assert stop.returncode == 0 and "stop requested" in stop.stdout, stop.stdout + stop.stderr
    assert study.finish() == 130, study.output()[-3000:]
    assert "aar resume s1" in study.output()
    row = shown(env, "s1")
    assert row["status"] == "stopped" and row["stop_reason"] == "stopped by the user (aar stop)"
    first = json.loads(notified.read_text().splitlines()[0])
    assert first["status"] == "stopped" and first["id"] == row["id"]
    assert first["stop_reason"] == "stopped by the user (aar stop)"
    again = aar(env, "stop", "s1")  # nothing to stop: a user error, one line
    assert again.returncode == 2 and "not running (it is stopped)" in again.stderr

    resumed = aar(env, "resume", "s1", "--notify", notify)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    row = shown(env, "s1")
    assert row["status"] == "finished" and row["stop_reason"].startswith("budget")
    last = json.loads(notified.read_text().splitlines()[-1])
    assert last["status"] == "finished" and last["research_experiments"] >= 1
    assert last["best"]["method"] and last["budget_used"]["experiments"] >= 1
    assert {"id", "name", "status", "stop_reason", "best", "budget_used"} <= set(last)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return found


def _wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.2)
    return False


def test_sigterm_stops_the_study_and_kills_its_running_job(env: dict[str, str], tmp_path: Path) -> None:
    notified = tmp_path / "notified.json"
    study = Study(env, "--name", "term", *SMALL, *LOCAL, "--notify", f"cat > {notified}")
    study.wait_for("implement")
    deadline, jobs = time.monotonic() + 120, list[int]()
    while not jobs and time.monotonic() < deadline:  # the smoke run of the audit, a child process
        jobs = _children(study.proc.pid)
        time.sleep(0.1)
    assert jobs, "no job process seen"
    study.proc.send_signal(signal.SIGTERM)
    assert study.finish(timeout=60) == 143, study.output()[-3000:]
    assert all(_wait_gone(pid) for pid in jobs)  # killed, not left running
    row = shown(env, "term")
    assert row["status"] == "stopped" and "SIGTERM" in row["stop_reason"]
    summary = json.loads(notified.read_text())  # told, even though it stopped at once
    assert summary["status"] == "stopped" and "SIGTERM" in summary["stop_reason"]


def test_an_unexpected_crash_marks_the_study_failed_with_its_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    study = Study(env, "--name", "crash", *SMALL, *LOCAL)
    study.wait_for("propose")
    with sqlite3.connect(tmp_path / "results" / "aar.db", timeout=60) as db:  # the database loses a table
        db.execute("DROP TABLE agent_event")
    assert study.finish() == 3, study.output()[-3000:]
    assert "Traceback" not in study.output()
    assert "study crash failed: OperationalError" in study.output()
    row = listed(env)["crash"]
    assert row["status"] == "failed"
    assert row["stop_reason"].startswith("OperationalError") and "agent_event" in row["stop_reason"]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_dead_host_reads_interrupted_and_rm_deletes_the_study(
    env: dict[str, str], tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        env["AAR_DATABASE_URL"] = request.getfixturevalue("pg_url")
    url = env.get("AAR_DATABASE_URL") or f"sqlite:///{tmp_path / 'results' / 'aar.db'}"
    study = Study(env, "--name", "dead", *SMALL, *LOCAL)
    study.wait_for("propose")
    study.proc.kill()  # the host dies: no chance to record anything
    study.finish()
    assert listed(env)["dead"]["status"] == "running"  # its heartbeat is fresh: it may still be alive
    refused = aar(env, "rm", "dead")
    assert refused.returncode == 2 and "is running" in refused.stderr and "Traceback" not in refused.stderr

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:  # minutes pass without a heartbeat
        connection.execute(
            text("UPDATE study SET heartbeat_at = :t WHERE name = 'dead'"),
            {"t": "2020-01-01 00:00:00+00:00" if backend == "postgres" else "2020-01-01 00:00:00.000000"},
        )
    engine.dispose()
    row = listed(env)["dead"]
    assert row["status"] == "interrupted" and "no heartbeat since 2020-01-01" in row["stop_reason"]
    stop = aar(env, "stop", "dead")
    assert stop.returncode == 0 and "marked interrupted" in stop.stdout
    assert shown(env, "dead")["status"] == "interrupted"

    removed = aar(env, "rm", "dead")
    assert removed.returncode == 0, removed.stderr
    said = " ".join(removed.stdout.split())
    assert "deleted study dead" in said and "experiment row(s)" in said
    assert "its checkpoints" in said and not removed.stderr
    assert "dead" not in listed(env)
    gone = aar(env, "resume", "dead")
    assert gone.returncode == 2 and "no study named 'dead'" in gone.stderr


def test_a_study_with_no_research_exits_1_and_a_failing_notify_is_a_warning(env: dict[str, str]) -> None:
    out = subprocess.run(
        [AAR, "run", "--name", "idle", *SMALL, *LOCAL, "--deadline", "3s", "--notify", "echo nope >&2; exit 7"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "no research done: study idle ended (budget: deadline)" in out.stderr
    assert "warning: --notify command exited 7: nope" in out.stderr
    assert "Traceback" not in out.stderr
    assert shown(env, "idle")["status"] == "finished"
