"""Every job on the device pool (issue 10): a study's trusted baseline jobs (weak model and its ensemble,
ceiling, naive) run on a pool slot in the study's sandbox, are charged to its ledger as device-seconds
(shown apart from method jobs'), cost nothing once cached, and stop at the study's deadline."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlmodel import select

from aar.budget import describe_lines
from aar.config import REPO_ROOT, Settings
from aar.graph.study import start_study
from aar.store import BudgetCharge, Store, study_summary
from tests.graph.conftest import Events, study_config

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
SPIN = '''"""The library's naive method, spinning: a baseline job that never ends (the deadline must stop it)."""

import torch

SPACE: dict = {}


def loss(logits, weak_p, progress, ctx):
    spin = torch.zeros(1)
    while True:
        spin = spin + 1
'''


def baseline_charges(store: Store, study_id: int) -> list[BudgetCharge]:
    with store.session() as session:
        rows = session.exec(select(BudgetCharge).where(BudgetCharge.study_id == study_id)).all()
    return [r for r in rows if (r.key or "").startswith("baseline:")]


def small_study(name: str, **overrides: object):
    return study_config(
        name, sizes=TINY, seeds=1, per_round=1, finalists=0, max_rounds=1, max_experiments=4, **overrides
    )


@pytest.mark.slow  # 5 baseline jobs and 2 method jobs in subprocesses: ~80 s on a loaded 2-core box
def test_baseline_jobs_are_charged_as_device_seconds_and_cached_ones_cost_nothing(fresh_baselines, store):
    settings = Settings()
    outcome = start_study(small_study("baselines"), settings, store, display=Events())
    charges = baseline_charges(store, outcome.study_id)
    kinds = {c.what_for.split(",")[0] for c in charges}
    assert {
        "baseline: weak model static64",
        "baseline: ceiling minilm-l6",
        "baseline: naive static64→minilm-l6",
    } <= kinds
    assert all(c.kind == "device_seconds" and c.amount > 0 for c in charges)
    with store.session() as session:
        summary = study_summary(session=session, study_id=outcome.study_id)
    text = " ".join(describe_lines(summary.budget, now=time.time(), ended=True))  # as `aar show` says it
    total = sum(c.amount for c in charges)
    assert f"baselines {total:,.0f}, method jobs" in text, text
    report = Path(outcome.report_path or "").read_text()
    assert f"(baselines {total:,.0f}, method jobs" in report

    again = start_study(small_study("baselines-again"), settings, store, display=Events())
    assert again.status == "finished" and baseline_charges(store, again.study_id) == []  # all cached


@pytest.mark.slow  # runs to its 25 s deadline
def test_a_deadline_during_the_baselines_ends_the_study_there_with_its_report(
    fresh_baselines, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The weak model's job would never end: it is killed at the study's deadline (its wall-clock limit
    clamped to the time left) and the study ends `budget: deadline`, finished, with its report."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "experiment_templates", templates)
    (templates / "methods" / "naive.py").write_text(SPIN)
    monkeypatch.setenv("AAR_TEMPLATES_DIR", str(templates))
    seconds = 25
    config = small_study("baseline-deadline", deadline=time.time() + seconds)
    outcome = start_study(config, Settings(), store, display=(events := Events()))
    late = time.time() - (config.deadline or 0)
    assert late < 15, f"ended {late:.0f}s past the deadline"
    assert outcome.status == "finished" and outcome.stop_reason == "budget: deadline"
    assert outcome.report_path and Path(outcome.report_path).is_file()
    assert any("baselines stopped" in message for _, message in events.lines)
    (killed,) = baseline_charges(store, outcome.study_id)  # the killed job is charged, nothing ran after it
    assert killed.what_for.startswith("baseline: weak model") and killed.amount > seconds / 2
