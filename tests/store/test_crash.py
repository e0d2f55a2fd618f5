"""A writer killed with SIGKILL mid-write leaves a store that opens with every finished row intact."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlmodel import col, func, select

from aar.store import CurvePoint, Experiment, Score, open_store, recover_interrupted, study_summary

from .workers import POINTS

WORKERS = Path(__file__).with_name("workers.py")


def _kill_after(url: str, results: Path, finished: int) -> int:
    """Run the crash writer until `finished` experiments are committed, SIGKILL it, return the last."""
    writer = subprocess.Popen(
        [sys.executable, str(WORKERS), "crash", url, str(results)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    last = 0
    for line in writer.stdout:
        last = int(line)
        if last >= finished:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    return last


def test_sigkill_mid_write_loses_nothing_finished(shared_db_url: str, tmp_path: Path) -> None:
    last = _kill_after(shared_db_url, tmp_path, finished=5)
    store = open_store(url=shared_db_url, results_dir=tmp_path)
    try:
        with store.session() as session:
            if session.get_bind().dialect.name == "sqlite":
                assert session.exec(text("PRAGMA integrity_check")).scalar() == "ok"  # type: ignore[call-overload]
            recovered = recover_interrupted(session=session, study_id=1)
            assert len(recovered) <= 1
        with store.session() as session:
            ok = session.exec(select(Experiment).where(Experiment.status == "ok")).all()
            assert {e.number for e in ok} >= set(range(1, last + 1))
            for experiment in ok:
                points = select(func.count()).where(CurvePoint.experiment_id == experiment.id)
                scores = select(func.count()).where(col(Score.experiment_id) == experiment.id)
                assert (session.exec(points).one(), session.exec(scores).one()) == (POINTS, 1)
            summary = study_summary(session=session, study_id=1)
            assert "running" not in summary.counts
            assert summary.budget[0].used == len(ok)
    finally:
        store.close()
