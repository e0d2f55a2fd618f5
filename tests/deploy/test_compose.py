"""compose.yaml for real: `aar deploy build`, `docker-compose up` (Debian's Compose), a tiny study queued
through the worker's CLI, watched to `finished` through the dashboard's API, its report and code read
back through the dashboard, then `docker-compose down -v`. No network beyond what the image build uses."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aar.deploy.image import APP_IMAGE, build

# The image build inside is seconds once .ci/setup_docker.sh has built it; minutes on a cold machine.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(2400)]

REPO = Path(__file__).resolve().parents[2]
TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
# A password URL-quoting must survive (the image builds the store's URL from it).
PASSWORD = secrets.token_hex(12) + "@/:%?"
HEALTHY_WITHIN_S = 240
FINISHED_WITHIN_S = 900


def compose_or_skip() -> str:
    """Debian's docker-compose with an engine that answers; skip without (fail under CI=true)."""
    found = shutil.which("docker-compose")
    engine = found and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    if found and engine:
        return found
    why = (
        "docker-compose is not installed (apt-get install docker-compose)"
        if not found
        else "no Docker engine"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the compose test: {why}")
    pytest.skip(why)


@dataclass
class Stack:
    """A compose project of this test: its commands, token and the dashboard's address on this host."""

    compose: list[str]
    env: dict[str, str]
    token: str
    base_url: str = ""

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.compose, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=REPO, check=False)  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)}: {done.stderr[-3000:]}\n{self.logs()}")
        return done

    def logs(self) -> str:
        done = subprocess.run([*self.compose, "logs", "--no-color", "--tail", "60"], env=self.env,
                              capture_output=True, text=True, timeout=60, cwd=REPO, check=False)  # fmt: skip
        return done.stdout[-6000:]

    def get(self, path: str, *, token: bool = True) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        try:
            with urllib.request.urlopen(
                urllib.request.Request(self.base_url + path, headers=headers), timeout=30
            ) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)


def health(container: str) -> str:
    done = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", container],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    compose = compose_or_skip()
    built = build()
    assert built.image == APP_IMAGE
    project = f"aartest{os.getpid()}"
    env = dict(os.environ, AAR_DB_PASSWORD=PASSWORD, AAR_WEB_TOKEN=secrets.token_hex(16),
               AAR_WEB_PUBLISH="127.0.0.1::8000", AAR_DEPLOY_IMAGE=built.image)  # fmt: skip
    stack = Stack([compose, "-p", project, "-f", str(REPO / "compose.yaml")], env, env["AAR_WEB_TOKEN"])
    try:
        stack.run("up", "-d", timeout=600)
        web = stack.run("ps", "-q", "web").stdout.strip()
        deadline = time.monotonic() + HEALTHY_WITHIN_S
        while health(web) != "healthy":
            assert time.monotonic() < deadline, f"web not healthy ({health(web)}):\n{stack.logs()}"
            time.sleep(2)
        stack.base_url = "http://" + stack.run("port", "web", "8000").stdout.strip()
        yield stack
    finally:
        stack.run("down", "-v", "--remove-orphans", timeout=300, check=False)


def test_a_queued_study_runs_in_the_worker_and_the_dashboard_shows_it(stack: Stack) -> None:
    assert stack.json("/api/health") == {"status": "ok", "store": "ok"}
    assert stack.get("/api/health", token=False)[0] == 401  # served beyond loopback: the token is required
    assert stack.run("port", "db", "5432", check=False).stdout.strip() in (
        "",
        ":0",
    )  # PostgreSQL not published
    queued = stack.run("exec", "-T", "worker", "aar", "run", "--enqueue", "--name", "compose-study", "--json",
                       "--sizes", TINY, "--seeds", "1", "--per-round", "1", "--max-experiments", "5",
                       "--deadline", "20m")  # fmt: skip
    study_id = json.loads(queued.stdout)["id"]
    assert json.loads(queued.stdout)["status"] == "queued"
    deadline = time.monotonic() + FINISHED_WITHIN_S
    # Finished, then its report (the study is marked finished first, so that the report says so).
    while not ((study := stack.json(f"/api/studies/{study_id}")["summary"]["study"])["report_sha256"]):
        assert study["status"] in ("queued", "running", "finished"), f"study {study}:\n{stack.logs()}"
        assert time.monotonic() < deadline, f"study still {study['status']}:\n{stack.logs()}"
        time.sleep(3)
    assert study["status"] == "finished"
    view = stack.json(f"/api/studies/{study_id}")
    experiments = [stack.json(f"/api/experiments/{row['id']}") for row in view["experiments"]["rows"]]
    assert experiments, view
    # The method jobs ran under bubblewrap inside the worker (the naive baseline runs in-process).
    ran = [
        (e["detail"]["experiment"]["sandbox_kind"], e["detail"]["experiment"]["status"]) for e in experiments
    ]
    assert ("bwrap", "ok") in ran and {kind for kind, _ in ran} <= {"bwrap", "in-process"}, ran
    assert any(e["code"] and "def " in e["code"] for e in experiments)
    # The report the worker wrote, read back through the web container.
    status, report = stack.get(f"/studies/{study_id}/report")
    assert status == 200 and b"compose-study" in report
    sha = view["summary"]["study"]["report_sha256"]
    assert sha and stack.get(f"/api/artifacts/{sha}")[0] == 200
    shown = stack.run("exec", "-T", "worker", "aar", "show", "compose-study").stdout
    assert ", finished):" in shown.splitlines()[0], shown
