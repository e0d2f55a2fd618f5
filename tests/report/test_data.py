"""Aggregation behind the report: arms, PGR intervals, the primary split, integrity flags."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aar.report.data import integrity_flags, load_runs, method_rows, pgr_interval, primary_split
from aar.report.gather import gather
from aar.store import Store
from tests.report.seed import Seeded


def test_method_rows_pool_an_arms_seeds(store: Store, seeded: Seeded) -> None:
    with store.session() as session:
        runs = load_runs(session=session, study_id=seeded.study_id)
    rows = {row.method: row for row in method_rows(runs, "dev")}
    assert list(rows) == ["aux_conf_tuned", "aux_conf", "naive"]
    naive = rows["naive"]
    assert naive.pgr.mean == pytest.approx(0.10)
    assert naive.pgr.n == 3 and naive.seeds == [0, 1, 2]
    assert naive.pgr.lo is not None and naive.pgr.lo <= 0.10 <= (naive.pgr.hi or 0)
    assert naive.weak == pytest.approx(0.63) and naive.ceiling == pytest.approx(0.76)
    assert rows["aux_conf"].method_runs == 3  # the failed aux_conf run does not count


def test_a_single_run_keeps_its_recorded_ci(store: Store, seeded: Seeded) -> None:
    with store.session() as session:
        runs = load_runs(session=session, study_id=seeded.study_id)
    one = [r for r in runs if r.method == "naive"][:1]
    interval = pgr_interval(one, "dev")
    assert (interval.mean, interval.lo, interval.hi) == pytest.approx((0.10, 0.05, 0.15))


def test_primary_split_prefers_dev(store: Store, seeded: Seeded) -> None:
    with store.session() as session:
        runs = load_runs(session=session, study_id=seeded.study_id)
    assert primary_split(runs) == "dev"
    assert primary_split([]) == "test"


def test_flags_come_from_configs_and_numbers(store: Store, seeded: Seeded) -> None:
    with store.session() as session:
        runs = load_runs(session=session, study_id=seeded.study_id)
    runs[0].scores[("dev", "pgr")] = replace(runs[0].scores[("dev", "pgr")], value=1.3)
    messages = [f.message for f in integrity_flags(runs, method_rows(runs, "dev"), "dev")]
    assert any("exceeds 1" in m for m in messages)
    assert any("shuffle ablation" in m for m in messages)


def test_gather_reads_curves_and_winner_code(store: Store, seeded: Seeded) -> None:
    data = gather(store, seeded.name)
    assert data.winner is not None and data.winner.method == "aux_conf_tuned"
    assert data.winner_code is not None and "tuned" in data.winner_code
    assert set(data.curves) == {"naive", "aux_conf", "aux_conf_tuned"}
    assert data.curves["naive"][-1] == (3, pytest.approx(0.10))
    assert [(t.run.method, t.run.role, t.pgr, t.shuffled_pgr) for t in data.tests] == [
        ("aux_conf_tuned", "final", 0.44, 0.05)
    ]
