"""A one-seed study on PostgreSQL reaches its report and resumes (one seed gives NaN CIs; issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from aar.config import REPO_ROOT
from tests.store.conftest import pg_url  # noqa: F401  (the fixture: a fresh schema on the test server)

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"


def _aar(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aar", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_one_seed_study_on_postgres_reaches_its_report_and_resumes(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    shared_cache: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AAR_")} | {
        "AAR_DATABASE_URL": pg_url,
        "AAR_RESULTS_DIR": str(tmp_path / "results"),
        "AAR_CACHE": str(shared_cache),
        "COLUMNS": "400",
    }
    args = ["run", "--name", "one-seed", "--sizes", TINY, "--seeds", "1", "--per-round", "2",
            "--max-experiments", "6", "--deadline", "10m", "--sandbox", "local", "--unsafe-local"]  # fmt: skip
    run = _aar(*args, env=env)
    assert "Traceback" not in run.stderr and "NaN" not in run.stderr, run.stderr[-3000:]
    reports = list((tmp_path / "results" / "reports").glob("study-*.html"))
    assert reports, run.stdout[-2000:] + run.stderr[-2000:]
    resumed = _aar("resume", "one-seed", env=env)
    assert "Traceback" not in resumed.stderr, resumed.stderr[-3000:]
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            status = connection.execute(text("SELECT status, report_sha256 FROM study")).one()
            # One seed: finalists' integrity details carry CIs that are NaN before they reach the store.
            configs = connection.execute(text("SELECT CAST(config AS TEXT) FROM experiment")).scalars().all()
    finally:
        engine.dispose()
    assert status.report_sha256 and status.status != "active"
    assert configs and not any("NaN" in c or "Infinity" in c for c in configs)
