"""`aar exp run` and `aar baseline` place their baseline jobs on a device slot in the sandbox and charge
them to the manual study's ledger (issue 10); cached baselines charge nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlmodel import select

from aar.config import Settings
from aar.store import BudgetCharge, open_store

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
MANUAL = "manual:rotten_tomatoes:static64→minilm-l6:probe"


def aar(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aar", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )


def charges(study: str) -> list[BudgetCharge]:
    store = open_store(Settings())
    try:
        with store.session() as session:
            from aar.store import find_study

            study_id = find_study(session=session, ref=study).id
            return list(session.exec(select(BudgetCharge).where(BudgetCharge.study_id == study_id)).all())
    finally:
        store.close()


@pytest.mark.parametrize(
    "sandbox",
    [pytest.param("local", marks=pytest.mark.slow), pytest.param("docker", marks=pytest.mark.docker)],
)
def test_exp_run_charges_its_baseline_jobs_and_cached_ones_nothing(fresh_baselines, sandbox: str):
    args = ["exp", "run", "--method", "naive", "--seeds", "1", "--sizes", TINY, "--sandbox", sandbox]
    out = aar(*args, *(["--unsafe-local"] if sandbox == "local" else []))
    assert out.returncode == 0, out.stderr
    rows = charges(MANUAL)
    baselines = [r for r in rows if (r.key or "").startswith("baseline:")]
    assert sorted(r.what_for.split(",")[0] for r in baselines) == [
        "baseline: ceiling minilm-l6",
        "baseline: weak model static64",
    ]
    assert all(r.kind == "device_seconds" and r.amount > 0 for r in baselines)
    method = [r for r in rows if r.kind == "device_seconds" and r not in baselines]
    assert len(method) == 1  # the method job's own device-seconds, apart from the baselines'

    out = aar("baseline", "--seeds", "1", "--sizes", TINY, "--sandbox", sandbox, "--json")
    assert out.returncode == 0, out.stderr
    naive = [r for r in charges(MANUAL) if (r.key or "").startswith("baseline:")][len(baselines) :]
    assert [r.what_for for r in naive] == [
        "baseline: naive static64→minilm-l6, seeds [0]"
    ]  # weak, ceiling cached
