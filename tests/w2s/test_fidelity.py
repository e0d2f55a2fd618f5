"""Low-fidelity experiments (issue 12.4, multi-fidelity search): the host picks the w2s_train rows,
deterministically from the split seed, the same for every low-fidelity run; dev and eval stay whole."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aar.w2s.baselines import weak_labels
from aar.w2s.experiment import ExperimentSpec, build_job, run_experiment
from aar.w2s.fidelity import cost, describe, w2s_subset
from aar.w2s.templates import resolve_method
from tests.conftest import TEMPLATES


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_the_subset_is_deterministic_nested_and_from_the_split_seed() -> None:
    a, again = w2s_subset(900, 1 / 3, split_seed=0), w2s_subset(900, 1 / 3, split_seed=0)
    assert len(a) == 300 and np.array_equal(a, again) and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, np.arange(300))  # spread over the split, not its first rows
    assert not np.array_equal(a, w2s_subset(900, 1 / 3, split_seed=1))  # another split, other rows
    assert set(w2s_subset(900, 1 / 9, 0)) <= set(a)  # rungs nest
    assert np.array_equal(w2s_subset(900, 1.0, 0), np.arange(900))
    with pytest.raises(ValueError, match="fraction"):
        w2s_subset(900, 0.0, 0)


def test_cost_and_mark() -> None:
    assert cost(2, 3, 1 / 3) == pytest.approx(2 / 9) and cost(3, 3, 1.0) == 1.0
    assert describe(2, 1 / 3) == "rung 0: 2 seeds, 1/3 w2s_train"


def spec(setup, method: str, seeds: list[int], fraction: float) -> ExperimentSpec:
    return ExperimentSpec(
        setup, resolve_method(method, TEMPLATES), method, seeds, eval_splits=("dev",), w2s_fraction=fraction
    )


def test_the_host_writes_the_same_subset_for_every_low_fidelity_job(probe_setup, tmp_path: Path) -> None:
    low_a = build_job(spec(probe_setup, "naive", [0, 1], 1 / 3), tmp_path / "a")[1]
    low_b = build_job(spec(probe_setup, "aux_conf", [0], 1 / 3), tmp_path / "b")[1]
    full = build_job(spec(probe_setup, "naive", [0], 1.0), tmp_path / "c")[1]
    w2s = probe_setup.splits.w2s_train
    want = [w2s[i].id for i in w2s_subset(len(w2s), 1 / 3, probe_setup.split_seed)]
    got = [r["id"] for r in rows(low_a / "seed_0" / "w2s_train.jsonl")]
    assert got == want and len(got) == round(len(w2s) / 3)
    assert [r["id"] for r in rows(low_b / "seed_0" / "w2s_train.jsonl")] == want  # every method, same rows
    assert [r["id"] for r in rows(low_a / "seed_1" / "w2s_train.jsonl")] == want  # every seed, same rows
    assert len(rows(full / "seed_0" / "w2s_train.jsonl")) == len(w2s)
    # weak labels and features stay row-aligned with the ids kept; dev and eval are never subsampled
    weak = weak_labels(probe_setup, 0).w2s_train[w2s_subset(len(w2s), 1 / 3, probe_setup.split_seed)]
    assert np.allclose([r["weak_p"] for r in rows(low_a / "seed_0" / "w2s_train.jsonl")], weak, atol=1e-6)
    feats = np.load(low_a / "seed_0" / "features" / "strong" / "w2s_train.npy")
    full_feats = np.load(full / "seed_0" / "features" / "strong" / "w2s_train.npy")
    assert np.array_equal(feats, full_feats[w2s_subset(len(w2s), 1 / 3, probe_setup.split_seed)])
    for split in ("dev", "eval"):
        assert rows(low_a / "seed_0" / f"{split}.jsonl") == rows(full / "seed_0" / f"{split}.jsonl")
    assert json.loads((low_a / "config.json").read_text())["seeds"] == [0, 1]


def test_a_low_fidelity_run_is_scored_on_the_whole_dev_split(probe_setup) -> None:
    result = run_experiment(spec(probe_setup, "naive", [0, 1], 1 / 3))
    assert result.status == "ok" and [r.seed for r in result.seed_results] == [0, 1]
    dev = result.seed_results[0].splits["dev"]
    assert len(dev.correct["w2s"]) == len(probe_setup.splits.dev)
