"""Benchmark the dashboard and the report on the store benchmark's 10,000-experiment study.

Seeds the study with `bench/store/run.py`'s bulk insert (10,000 experiments, 1,000,000 curve points),
names each experiment's method, then times each page and API response in-process (server-side: the
ASGI app through FastAPI's test client, no network) as the median of several runs, and the report's
generation. Prints a Markdown table. Target: pages and API ≤ 200 ms.

    python bench/web/run.py [--experiments 10000] [--points 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from fastapi.testclient import TestClient
from sqlalchemy import bindparam, update

from aar.report import write_report
from aar.store import Experiment, Store, open_store
from aar.web import create_app

log = logging.getLogger("bench.web")
TARGET_MS = 200.0
METHODS = ["naive", "aux_conf", "bootstrap", "confident_filter", "weak_ensemble"]


def store_bench() -> ModuleType:
    """bench/store/run.py, loaded by path (bench/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "store" / "run.py"
    spec = importlib.util.spec_from_file_location("bench_store_run", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def name_methods(store: Store, ids: list[int], *, seed: int = 0) -> None:
    """Give every experiment a method name and hyperparameters, as the agent records them."""
    rng = random.Random(seed)
    rows = [
        {"eid": i, "cfg": {"method": rng.choice(METHODS), "hparams": {"lr": rng.choice([1e-4, 3e-4, 1e-3])}}}
        for i in ids
    ]
    statement = update(Experiment).where(Experiment.id == bindparam("eid")).values(config=bindparam("cfg"))
    with store.session() as session:
        session.connection().execute(statement, rows)


def median_ms(call: Callable[[], object], repeat: int) -> float:
    """Median wall time of `call` in milliseconds, after one warm-up call."""
    call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def endpoints(study_id: int, ids: list[int]) -> dict[str, Callable[[], str]]:
    """The URLs to time; experiment pages pick a random experiment each call."""
    rng = random.Random(1)
    s = f"/studies/{study_id}"
    return {
        "page: studies list": lambda: "/",
        "page: study (sorted by PGR)": lambda: s,
        "page: study (by number, page 100)": lambda: f"{s}?sort=number&order=asc&page=100",
        "page: experiments table (live refresh)": lambda: f"{s}/experiments-table",
        "page: experiment (code, diffs)": lambda: f"/experiments/{rng.choice(ids)}",
        "page: agent log": lambda: f"{s}/log",
        "api: studies": lambda: "/api/studies",
        "api: study": lambda: f"/api{s}",
        "api: progress (polled)": lambda: f"/api{s}/progress",
        "api: experiments sorted by PGR": lambda: f"/api{s}/experiments?sort=pgr",
        "api: experiment": lambda: f"/api/experiments/{rng.choice(ids)}",
        "api: best so far (10k points)": lambda: f"/api{s}/best_so_far",
        "api: budget burn (10k charges)": lambda: f"/api{s}/budget_burn",
        "plot: best so far": lambda: f"{s}/plots/best_so_far.svg",
        "plot: PGR by method": lambda: f"{s}/plots/pgr_by_method.svg",
        "plot: PGR curves": lambda: f"{s}/plots/pgr_curves.svg",
        "plot: budget burn": lambda: f"{s}/plots/budget_burn.svg",
    }


def time_app(store: Store, study_id: int, ids: list[int], repeat: int) -> dict[str, float]:
    """Median milliseconds of every page and API response."""
    client = TestClient(create_app(store))

    def fetch(url: Callable[[], str]) -> Callable[[], object]:
        def call() -> object:
            response = client.get(url())
            assert response.status_code == 200, (response.status_code, response.text[:200])
            return response

        return call

    return {name: median_ms(fetch(url), repeat) for name, url in endpoints(study_id, ids).items()}


def time_reports(store: Store, out: Path) -> dict[str, float]:
    """Seconds to write the HTML and the Markdown report (one run each)."""
    timings = {}
    for fmt in ("html", "md"):
        started = time.perf_counter()
        write_report(store, "bench", fmt=fmt, out=out / f"bench.{fmt}")  # type: ignore[arg-type]
        timings[f"report: {fmt} (s)"] = time.perf_counter() - started
    return timings


def table(timings: dict[str, float]) -> str:
    """The timings as a Markdown table, flagging plain pages and API calls over the target."""
    lines = ["| request | median | within 200 ms |", "| --- | ---: | :---: |"]
    for name, value in timings.items():
        if name.endswith("(s)"):
            lines.append(f"| {name} | {value:.2f} s | |")
        else:
            verdict = "" if name.startswith("plot") else ("yes" if value <= TARGET_MS else "**no**")
            lines.append(f"| {name} | {value:.1f} ms | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(url=f"sqlite:///{tmp}/bench.db", results_dir=Path(tmp))
        try:
            log.info("seeding %d experiments, %d curve points …", args.experiments, args.points)
            study_id, ids = store_bench().populate(store, experiments=args.experiments, points=args.points)
            name_methods(store, ids)
            log.info("timing …")
            timings = time_app(store, study_id, ids, args.repeat) | time_reports(store, Path(tmp))
        finally:
            store.close()
    print(table(timings))


if __name__ == "__main__":
    main()
