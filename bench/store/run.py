"""Benchmark the results store: a study with 10,000 experiments and 1,000,000 curve points.

Times the bulk insert and each view query (median of several runs, each in a fresh session) on SQLite
and, when a server URL is given, PostgreSQL; prints a Markdown table. Target: every view ≤ 200 ms.

    python bench/store/run.py [--experiments 10000] [--points 1000000] [--postgres-url URL]

The PostgreSQL URL defaults to $AAR_TEST_POSTGRES_URL (see .ci/setup_postgres.sh); the run uses a
private schema there and drops it afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlmodel import Session

from aar.store import (
    BudgetCharge,
    CurvePointBase,
    Experiment,
    HypothesisCreate,
    Score,
    Store,
    StudyCreate,
    add_curve_points,
    best_so_far,
    budget_burn,
    create_hypothesis,
    create_study,
    experiment_detail,
    hypothesis_tree,
    list_studies,
    open_store,
    study_summary,
)
from aar.store.engine import parse_url

log = logging.getLogger("bench.store")
STATUSES = ["ok"] * 17 + ["failed", "timeout", "oom"]
TARGET_MS = 200.0


def populate(store: Store, *, experiments: int, points: int, seed: int = 0) -> tuple[int, list[int]]:
    """Insert one study of `experiments` experiments and `points` curve points; return its ids."""
    rng = random.Random(seed)
    with store.session() as session:
        study = create_study(
            session=session,
            study_in=StudyCreate(name="bench", goal="benchmark", budget_limits={"device_seconds": 1e7}),
        )
        assert study.id is not None
        hypotheses = [_hypothesis(session, study.id, i) for i in range(100)]
        study.experiment_counter = experiments
    rows = [
        _experiment_row(study.id, number, rng.choice(hypotheses), rng) for number in range(1, experiments + 1)
    ]
    with store.session() as session:
        session.exec(insert(Experiment), params=rows)
    with store.session() as session:
        ids = [int(i) for i in session.exec(text("SELECT id FROM experiment ORDER BY number")).scalars()]  # type: ignore[call-overload]
    _results(store, study.id, ids, points_per_experiment=points // experiments, rng=rng)
    return study.id, ids


def _hypothesis(session: Session, study_id: int, i: int) -> int:
    hypothesis_in = HypothesisCreate(text=f"hypothesis {i}", parent_id=None)
    hypothesis = create_hypothesis(session=session, study_id=study_id, hypothesis_in=hypothesis_in)
    assert hypothesis.id is not None
    return hypothesis.id


def _experiment_row(study_id: int, number: int, hypothesis_id: int, rng: random.Random) -> dict[str, Any]:
    return {
        "study_id": study_id,
        "number": number,
        "hypothesis_id": hypothesis_id,
        "template": "probe",
        "config": {"lr": rng.choice([1e-4, 3e-4, 1e-3])},
        "seed": number,
        "status": rng.choice(STATUSES),
        "device_seconds": 60.0,
    }


def _results(
    store: Store, study_id: int, ids: list[int], *, points_per_experiment: int, rng: random.Random
) -> None:
    """Curve points for every experiment, a test PGR with CI, and a device-seconds charge each."""
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        with store.session() as session:
            for experiment_id in batch:
                curve = [
                    CurvePointBase(
                        step=s, split=("val", "test")[s % 2], accuracy=0.7, auroc=0.8, pgr=rng.random()
                    )
                    for s in range(points_per_experiment)
                ]
                add_curve_points(session=session, experiment_id=experiment_id, points=curve)
            session.exec(insert(Score), params=[_score(i, rng) for i in batch])
            session.exec(insert(BudgetCharge), params=[_charge(study_id, i) for i in batch])


def _score(experiment_id: int, rng: random.Random) -> dict[str, Any]:
    pgr = rng.random()
    return {"experiment_id": experiment_id, "split": "test", "metric": "pgr", "value": pgr,
            "ci_low": pgr - 0.05, "ci_high": pgr + 0.05}  # fmt: skip


def _charge(study_id: int, experiment_id: int) -> dict[str, Any]:
    return {"study_id": study_id, "kind": "device_seconds", "amount": 60.0,
            "what_for": f"experiment {experiment_id}", "experiment_id": experiment_id}  # fmt: skip


def time_views(store: Store, study_id: int, ids: list[int], *, repeat: int) -> dict[str, float]:
    """Median milliseconds of each view query, each run in a fresh session."""
    rng = random.Random(1)
    views: dict[str, Callable[[Session], object]] = {
        "studies list": lambda s: list_studies(session=s),
        "study summary": lambda s: study_summary(session=s, study_id=study_id),
        "best-so-far curve": lambda s: best_so_far(session=s, study_id=study_id),
        "experiment detail": lambda s: experiment_detail(session=s, experiment_id=rng.choice(ids)),
        "hypothesis tree": lambda s: hypothesis_tree(session=s, study_id=study_id),
        "budget burn": lambda s: budget_burn(session=s, study_id=study_id),
    }
    timings = {}
    for name, view in views.items():
        samples = []
        for _ in range(repeat + 1):
            with store.session() as session:
                started = time.perf_counter()
                view(session)
                samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples[1:])  # the first run warms caches
    return timings


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A private schema on the server for this run, dropped afterwards."""
    base = parse_url(url)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def bench(url: str, results: Path, args: argparse.Namespace) -> dict[str, float]:
    """Populate a fresh store at `url` and time it."""
    store = open_store(url=url, results_dir=results)
    try:
        started = time.perf_counter()
        study_id, ids = populate(store, experiments=args.experiments, points=args.points)
        timings = {"insert (s)": time.perf_counter() - started}
        if store.engine.dialect.name == "postgresql":
            # Autovacuum would do this within a minute; a benchmark should not wait for it.
            with store.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        return timings | time_views(store, study_id, ids, repeat=args.repeat)
    finally:
        store.close()


def table(columns: dict[str, dict[str, float]]) -> str:
    """The results as a Markdown table."""
    names = list(next(iter(columns.values())))
    lines = ["| query | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for name in names:
        unit = "" if name.endswith("(s)") else " ms"
        cells = [f"{values[name]:.1f}{unit}" for values in columns.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres-url", default=os.environ.get("AAR_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    columns = {}
    with tempfile.TemporaryDirectory() as tmp:
        log.info("SQLite …")
        columns["SQLite"] = bench(f"sqlite:///{tmp}/bench.db", Path(tmp), args)
        if args.postgres_url:
            log.info("PostgreSQL …")
            with postgres_schema(args.postgres_url) as url:
                columns["PostgreSQL"] = bench(url, Path(tmp), args)
    print(table(columns))
    slow = [f"{db}: {name}" for db, values in columns.items() for name, ms in values.items()
            if not name.endswith("(s)") and ms > TARGET_MS]  # fmt: skip
    if slow:
        log.warning("over the %.0f ms target: %s", TARGET_MS, ", ".join(slow))


if __name__ == "__main__":
    main()
