"""`aar resume STUDY --deadline … --max-experiments …` through the real `aar` command (issue 11).

A stopped study is resumed with a new budget: bad values are refused in one line before anything is
touched, good ones are written to the study's row (`aar show`), logged (`aar log`) and govern the
resumed run (its round-2 budget line). SQLite, and PostgreSQL where a server is configured.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.store.conftest import pg_url  # noqa: F401  (the fixture: a fresh schema on the test server)
from tests.test_cli_status import LOCAL, SMALL, Study, aar, shown


@pytest.fixture
def env(tmp_path: Path, shared_cache: Path) -> dict[str, str]:
    """A fresh results folder (SQLite) with the shared embedding cache."""
    return dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache))


def refused(out, message: str) -> None:  # type: ignore[no-untyped-def]
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    said = " ".join(out.stderr.split())
    assert message in said and "Traceback" not in said, out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_resume_with_a_new_deadline_and_experiment_budget(
    env: dict[str, str], backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        env["AAR_DATABASE_URL"] = request.getfixturevalue("pg_url")
    study = Study(env, "--name", "nb", *SMALL, *LOCAL, "--deadline", "10m")
    study.wait_for("propose")
    assert aar(env, "stop", "nb").returncode == 0
    assert study.finish() == 130, study.output()[-3000:]
    before = shown(env, "nb")["budget_limits"]

    refused(aar(env, "resume", "nb", "--deadline", "0s"), "--deadline 0s leaves no time")
    refused(aar(env, "resume", "nb", "--deadline", "soon"), "bad duration 'soon'")
    refused(aar(env, "resume", "nb", "--max-usd", "-1"), "--max-usd")
    refused(
        aar(env, "resume", "nb", "--max-experiments", "4"),
        "--max-experiments 4 is too small: the study used 0; needs at least 5",
    )
    assert shown(env, "nb")["budget_limits"] == before  # nothing written by a refused resume
    assert shown(env, "nb")["status"] == "stopped"

    asked = time.time()
    resumed = aar(env, "resume", "nb", "--deadline", "30m", "--max-experiments", "6")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    out = " ".join(resumed.stdout.split())
    assert "resumed with a new budget: deadline" in out and "experiments 6 (was 5)" in out
    assert "experiments: 1 used of 6" in out  # the resumed run's own budget: a second round
    limits = shown(env, "nb")["budget_limits"]
    assert limits["experiments"] == 6 and asked + 1790 < limits["deadline"] < time.time() + 1800
    assert before["deadline"] < limits["deadline"] - 1000
    log = " ".join(aar(env, "log", "nb").stdout.split())
    assert "resumed with a new budget: deadline" in log and "experiments 6 (was 5)" in log

    refused(aar(env, "resume", "nb", "--deadline", "1h"), "is finished; a new budget applies only")
