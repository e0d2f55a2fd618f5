"""The study queue: `aar run --enqueue` writes a queued study, workers claim each exactly once, and
`aar worker --once` runs it as `aar run` would (the dashboard and `aar show` say `queued` meanwhile)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aar.config import Settings, StudyConfig
from aar.deploy.queue import NO_ENTRY, QUEUE_NODE, claim, enqueue
from aar.store import StudyCreate, create_study, find_study, list_events, open_store
from aar.store.states import StudyStateError, begin_study_run, claim_queued_study, queue_study
from aar.web import create_app

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"


def config(name: str) -> StudyConfig:
    return StudyConfig(name=name, goal="raise PGR", sizes=TINY, seeds=1, per_round=1, finalists=1,
                       sandbox="local", unsafe_local=True, max_experiments=3)  # fmt: skip


def queued_rows(url: str, tmp_path: Path, count: int) -> list[int]:
    """`count` queued study rows (as `queue_study` leaves them), oldest first."""
    store = open_store(url=url, results_dir=tmp_path)
    ids = []
    try:
        for i in range(count):
            with store.session() as session:
                study = create_study(session=session, study_in=StudyCreate(name=f"q{i}", goal="g"))
                queue_study(session=session, study_id=int(study.id or 0))
                ids.append(int(study.id or 0))
    finally:
        store.close()
    return ids


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_workers_racing_for_the_queue_each_study_is_claimed_once_oldest_first(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'aar.db'}" if backend == "sqlite" else str(request.getfixturevalue("pg_url"))
    )
    ids = queued_rows(url, tmp_path, 12)
    store = open_store(url=url, results_dir=tmp_path)

    def drain(worker: int) -> list[int]:
        taken = []
        while True:
            with store.session() as session:
                study = claim_queued_study(session=session, worker=f"w{worker}")
            if study is None:
                return taken
            assert study.status == "running" and study.worker == f"w{worker}" and study.heartbeat_at
            taken.append(int(study.id or 0))

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            batches = list(pool.map(drain, range(4)))
    finally:
        store.close()
    claimed = sorted(i for batch in batches for i in batch)
    assert claimed == ids, "every queued study claimed exactly once"
    assert all(batch == sorted(batch) for batch in batches), "each worker took the oldest first"


def test_enqueue_checks_the_config_keeps_it_and_starts_the_deadline_when_claimed(
    settings: Settings, tmp_path: Path
) -> None:
    store = open_store(settings)
    try:
        study_id = enqueue(config("later"), settings, store, deadline_s=600)
        with store.session() as session:
            study = find_study(session=session, ref="later")
            assert (study.status, study.heartbeat_at, study.worker) == ("queued", None, None)
            assert "deadline" not in study.budget_limits  # not counting while it waits
            (entry,) = list_events(session=session, study_id=study_id)
            with pytest.raises(StudyStateError, match="queued; a worker"):
                begin_study_run(session=session, study_id=study_id)  # `aar resume` of a queued study
        assert entry.node == QUEUE_NODE and entry.data["config"]["sizes"] == TINY
        claimed = claim(store, now=1000.0)
        assert claimed is not None and claimed.study_id == study_id
        assert claimed.config.deadline == 1600.0 and claimed.config.sizes == TINY
        with store.session() as session:
            assert find_study(session=session, ref="later").budget_limits["deadline"] == 1600.0
        assert claim(store) is None  # the queue is empty now
    finally:
        store.close()


def test_a_queued_row_without_its_entry_is_failed_and_skipped(settings: Settings, tmp_path: Path) -> None:
    store = open_store(settings)
    try:
        (orphan,) = queued_rows(store.url, tmp_path, 1)
        assert claim(store) is None
        with store.session() as session:
            study = find_study(session=session, ref=str(orphan))
        assert (study.status, study.stop_reason) == ("failed", NO_ENTRY)
    finally:
        store.close()


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Settings:
    monkeypatch.setenv("AAR_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("AAR_CACHE", str(shared_cache))
    return Settings()


def aar(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aar", *args], capture_output=True, text=True, env=env, timeout=900
    )


@pytest.mark.slow
def test_enqueue_shows_queued_then_a_worker_runs_it_to_the_end(tmp_path: Path, shared_cache: Path) -> None:
    env = dict(
        os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache), COLUMNS="300"
    )
    queued = aar("run", "--enqueue", "--name", "queued-one", "--sizes", TINY, "--seeds", "1", "--per-round", "1",
                 "--max-experiments", "5", "--sandbox", "local", "--unsafe-local", "--deadline", "30m", env=env)  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    assert "queued study queued-one" in queued.stdout
    show = aar("show", "queued-one", env=env)
    assert ", queued):" in show.stdout.splitlines()[0], show.stdout
    store = open_store(Settings(results_dir=tmp_path / "results"))
    try:
        client = TestClient(create_app(store))
        assert client.get("/api/health").json() == {"status": "ok", "store": "ok"}
        (row,) = client.get("/api/studies").json()
        assert row["status"] == "queued"
        started = time.monotonic()
        worker = aar("worker", "--once", env=env)
        assert worker.returncode == 0, worker.stderr[-3000:] + worker.stdout[-3000:]
        assert "worker: running study queued-one" in worker.stdout
        assert "worker: stopped after 1 study(ies)" in worker.stdout
        (row,) = client.get("/api/studies").json()
        assert row["status"] == "finished", row
        study = client.get(f"/api/studies/{row['id']}").json()
        assert study["summary"]["study"]["report_sha256"], "the report is an artifact the dashboard serves"
        assert time.monotonic() - started < 600
    finally:
        store.close()


def test_sigterm_stops_an_idle_worker_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"))
    worker = subprocess.Popen([sys.executable, "-m", "aar", "worker", "--poll", "0.2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "results" / "aar.db").exists():  # the store is open: the worker is polling
            assert worker.poll() is None and time.monotonic() < deadline, worker.stderr
            time.sleep(0.2)
        time.sleep(1.0)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "worker: SIGTERM; stopping" in out and "worker: stopped after 0 study(ies)" in out


def test_aar_stop_cancels_a_queued_study_so_no_worker_runs_it(tmp_path: Path) -> None:
    env = dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), COLUMNS="300")
    queued = aar("run", "--enqueue", "--name", "q-cancel", "--sizes", TINY, "--seeds", "1", "--per-round", "1",
                 "--max-experiments", "5", "--sandbox", "local", "--unsafe-local", env=env)  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    stop = aar("stop", "q-cancel", env=env)
    assert stop.returncode == 0 and "was queued: cancelled" in stop.stdout, stop.stdout + stop.stderr
    worker = aar("worker", "--once", env=env)
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert "running study q-cancel" not in worker.stdout
    store = open_store(Settings(results_dir=tmp_path / "results"))
    try:
        with store.session() as session:
            study = find_study(session=session, ref="q-cancel")
            assert (study.status, study.stop_reason) == (
                "stopped",
                "cancelled before a worker took it (aar stop)",
            )
            assert claim_queued_study(session=session) is None
    finally:
        store.close()
    again = aar("stop", "q-cancel", env=env)  # nothing left to stop: one line, exit 2
    assert again.returncode == 2 and "not running (it is stopped)" in again.stderr
