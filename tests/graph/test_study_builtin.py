"""The builtin researcher end to end on the offline testbed, budgets, and resume after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import select

from aar.store import BudgetCharge, Experiment, Hypothesis, Score, Study, open_store
from tests.graph.conftest import SIZES, SharedStudy


def experiments(store, study_id: int) -> list[Experiment]:
    with store.session() as session:
        return list(session.exec(select(Experiment).where(Experiment.study_id == study_id)).all())


def test_builtin_study_end_to_end(dev_study: SharedStudy):
    outcome, store, events = dev_study.outcome, dev_study.store, dev_study.events
    assert outcome.stop_reason and outcome.report_path and Path(outcome.report_path).is_file()
    for node in (
        "plan",
        "propose",
        "implement",
        "audit",
        "run",
        "evaluate",
        "analyze",
        "decide",
        "finalize",
        "report",
    ):
        assert node in events.nodes()
    rows = experiments(store, outcome.study_id)
    naive = next(e for e in rows if e.config.get("role") == "baseline")
    with store.session() as session:
        scores = {(s.experiment_id, s.split, s.metric): s.value for s in session.exec(select(Score)).all()}
        study = session.get(Study, outcome.study_id)
        hypotheses = session.exec(select(Hypothesis).where(Hypothesis.study_id == outcome.study_id)).all()
    assert study.status == "finished" and study.stop_reason == outcome.stop_reason
    assert (naive.id, "dev", "pgr") in scores
    # The study's best is the top dev PGR the store holds among the ranked runs (the naive baseline and
    # every search run that finished with non-degenerate predictions), not merely "at least naive".
    not_ranked = {h.id for h in hypotheses if "not ranked" in (h.finding or "")}
    ranked = {
        e.id: scores[(e.id, "dev", "pgr")]
        for e in rows
        if e.config.get("role") in ("baseline", "search") and e.status == "ok"
        and (e.id, "dev", "pgr") in scores and e.hypothesis_id not in not_ranked
    }  # fmt: skip
    assert len(ranked) >= 3, ranked  # naive and at least two search runs compete
    top = max(ranked.values())
    assert outcome.best["dev_pgr"] == pytest.approx(top)
    assert outcome.best["experiment_id"] in {i for i, v in ranked.items() if v == top}
    assert all(h.finding for h in hypotheses if h.status != "proposed")
    finals = [e for e in rows if e.config.get("role") == "final"]
    assert finals and all((e.id, "test", "pgr") in scores or e.status != "ok" for e in finals)
    assert "integrity_flags" in finals[0].config
    # every experiment's PGR the report shows is the store's number
    report = Path(outcome.report_path).read_text()
    for e in finals:
        if (e.id, "test", "pgr") in scores:
            assert f"{scores[(e.id, 'test', 'pgr')]:.3f}" in report


def test_budget_stops_cleanly_and_never_overruns(dev_study: SharedStudy):
    outcome, store, config = dev_study.outcome, dev_study.store, dev_study.config
    assert config.per_round == 3 and config.max_experiments % config.per_round  # the last round is cut
    assert outcome.stop_reason.startswith("budget")
    with store.session() as session:
        charged = session.exec(
            select(BudgetCharge).where(
                BudgetCharge.study_id == outcome.study_id, BudgetCharge.kind == "experiments"
            )
        ).all()
        study = session.get(Study, outcome.study_id)
    assert len(charged) <= config.max_experiments + 1  # never overrun by more than one job
    assert study.status == "finished" and study.report_sha256  # a budget end finishes the study
    assert study.stop_reason and study.stop_reason.startswith("budget")


def test_blind_mode_hides_ground_truth_from_the_researcher(blind_study: SharedStudy):
    seen, analyzed = blind_study.seen, blind_study.analyzed
    assert blind_study.config.feedback == "blind" and seen and analyzed
    shown = [o for view in seen for o in [*view.history, view.naive, view.best] if o is not None] + analyzed
    for o in shown:
        assert (
            o.dev_pgr is None and o.dev_pgr_lo is None and not o.dev_pgr_by_seed and o.verdict_vs_naive == ""
        )
    assert any(o.signals.get("confidence") is not None for o in analyzed)  # label-free signals remain


@pytest.mark.slow
def test_resume_after_kill_9(results_env: Path):
    env = {**os.environ, "AAR_RESULTS_DIR": str(results_env)}
    cmd = [sys.executable, "-m", "aar"]
    args = ["run", "--name", "k9", "--sizes", SIZES, "--seeds", "2", "--per-round", "2", "--max-experiments", "8",
            "--sandbox", "local", "--unsafe-local"]  # fmt: skip
    proc = subprocess.Popen([*cmd, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = open_store(url=None, results_dir=results_env)
    deadline = time.time() + 600
    while time.time() < deadline:
        rows = [e for e in _all(store) if e.config.get("role") == "search" and e.status == "ok"]
        if rows:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.5)
    before = {e.id: (e.status, e.device_seconds) for e in _all(store) if e.status == "ok"}
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    out = subprocess.run([*cmd, "resume", "k9"], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    after = _all(store)
    for exp_id, state in before.items():  # nothing finished was lost or redone
        assert next(e for e in after if e.id == exp_id).status == state[0]
    search = [e for e in after if e.config.get("role") == "search" and e.status == "ok"]
    assert len({e.hypothesis_id for e in search}) == len(search)  # no hypothesis ran twice
    with store.session() as session:
        keys = [c.key for c in session.exec(select(BudgetCharge)).all() if c.key]
        study = session.exec(select(Study).where(Study.name == "k9")).one()
    assert len(keys) == len(set(keys)) and study.status in ("finished", "stopped")
    store.close()


def _all(store) -> list[Experiment]:
    with store.session() as session:
        return list(session.exec(select(Experiment)).all())
