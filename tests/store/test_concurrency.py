"""Several workers writing one PostgreSQL store at once lose nothing and do nothing twice."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import func, select

from aar.store import (
    ExperimentCreate,
    Score,
    Store,
    StudyCreate,
    budget_used,
    create_experiment,
    create_study,
    get_study,
    open_store,
    status_counts,
)

WORKERS = Path(__file__).with_name("workers.py")
pytestmark = pytest.mark.postgres


def _queue(store: Store, study_id: int, count: int) -> list[int]:
    numbers = []
    for _ in range(count):
        with store.session() as session:
            experiment_in = ExperimentCreate(template="probe")
            numbers.append(
                create_experiment(session=session, study_id=study_id, experiment_in=experiment_in).number
            )
    return numbers


def test_concurrent_workers_lose_nothing(pg_url: str, tmp_path: Path) -> None:
    store = open_store(url=pg_url, results_dir=tmp_path)
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name="busy", goal="many workers"))
    assert study.id is not None

    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(lambda _: _queue(store, study.id or 0, 15), range(4)))
    numbers = sorted(n for batch in batches for n in batch)
    assert numbers == list(range(1, 61)), "every experiment got its own number"

    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), "drain", pg_url, str(tmp_path), str(study.id)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    claimed = [int(i) for worker in workers for i in worker.communicate(timeout=300)[0].split()]
    assert all(worker.returncode == 0 for worker in workers)
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 60, "each claimed exactly once"

    with store.session() as session:
        assert status_counts(session=session, study_id=study.id) == {"ok": 60}
        assert session.exec(select(func.count()).select_from(Score)).one() == 60
        assert budget_used(session=session, study_id=study.id) == {
            "device_seconds": 120.0,
            "experiments": 60.0,
        }
        assert get_study(session=session, study_id=study.id).experiment_counter == 60
    store.close()
