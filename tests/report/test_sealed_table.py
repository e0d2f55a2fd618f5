"""The sealed-test table: finalists best first, then the naive baseline's test score as the reference row."""

from __future__ import annotations

from pathlib import Path

from aar.report import write_report
from aar.report.gather import gather
from aar.store import Experiment, Store
from tests.report.seed import Seeded, finish_ok, queue, seed_study

NAIVE_TEST_PGR = 0.123


def _baseline(store: Store, seeded: Seeded) -> int:
    """The naive baseline as the graph records it: role `baseline`, scored on dev and the sealed test."""
    config = {"method": "naive", "template": "probe", "hparams": {}, "seeds": [0, 1, 2], "role": "baseline"}
    experiment_id = queue(store, seeded.study_id, None, None, config, 0)
    finish_ok(store, experiment_id, 0.1, test_pgr=NAIVE_TEST_PGR)
    return experiment_id


def test_naive_test_score_is_the_reference_row(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    baseline = _baseline(store, seeded)
    tests = gather(store, seeded.name).tests
    assert [t.run.id for t in tests] == [*seeded.experiments["final"], baseline]
    assert [t.reference for t in tests] == [False, True]
    assert tests[-1].pgr == NAIVE_TEST_PGR and tests[-1].weak_accuracy == 0.63
    for fmt, name in (("md", "r.md"), ("html", "r.html")):
        text = write_report(store, seeded.name, fmt=fmt, out=tmp_path / name).read_text()  # type: ignore[arg-type]
        assert "(baseline: reference)" in text and f"{NAIVE_TEST_PGR:.3f}" in text


def test_without_finalists_the_baseline_is_not_listed_as_a_result(store: Store, tmp_path: Path) -> None:
    seeded = seed_study(store, "no-finals")
    with store.session() as session:  # drop the finalist rerun: only search runs and the baseline remain
        for experiment_id in seeded.experiments["final"] + seeded.experiments["ablation"]:
            row = session.get(Experiment, experiment_id)
            assert row is not None
            row.config = {**row.config, "role": "search"}
            session.add(row)
    baseline = _baseline(store, seeded)
    tests = gather(store, seeded.name).tests
    assert [(t.run.id, t.reference) for t in tests if t.run.id == baseline] == [(baseline, True)]
    assert sum(t.run.id == baseline for t in tests) == 1
