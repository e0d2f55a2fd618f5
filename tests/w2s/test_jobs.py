"""Issue 9: a method job's /data holds no ground truth, and weak_train inputs only when the method asks."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from aar.w2s.experiment import ExperimentSpec, build_job
from aar.w2s.jobs import SeedData, run_trusted, write_job_data
from aar.w2s.setup import Setup
from aar.w2s.tasks import Example
from aar.w2s.templates import resolve_method
from tests.conftest import TEMPLATES
from tests.w2s import job_schema
from tests.w2s.job_schema import TINY, check_job_data

# Reports what the job sees of weak_train, then trains as naive does.
PEEK = """
REQUIRES_LINE
def loss(logits, weak_p, progress, ctx):
    if not ctx.log_rows:
        feats = ctx.backend.features["strong"]["weak_train"]
        ctx.log(weak_train_rows=len(ctx.data["weak_train"]), weak_train_features=int(feats.shape[0]),
                keys=sorted({k for row in ctx.data["weak_train"] for k in row}))
    import torch
    return torch.nn.functional.cross_entropy(logits, torch.stack([1 - weak_p, weak_p], 1), reduction="none")
"""


@pytest.fixture(scope="module")
def tiny_setup(shared_cache: Path) -> Setup:
    return job_schema.tiny_setup(shared_cache)


def peek_method(tmp_path: Path, requires: bool) -> Path:
    path = tmp_path / ("peek_inputs.py" if requires else "peek.py")
    line = 'REQUIRES = {"weak_train_inputs": True}' if requires else ""
    path.write_text(textwrap.dedent(PEEK.replace("REQUIRES_LINE", line)))
    return path


def test_write_seed_never_writes_a_label(tmp_path: Path) -> None:
    ex = [Example("a", "some text", 1), Example("b", "other text", 0)]
    seed = SeedData(0, ex, ex, np.array([0.9, 0.1]), ex, np.array([0.8, 0.2]), ex)
    write_job_data(tmp_path / "data", {"template": "probe"}, [seed])
    check_job_data(tmp_path / "data", weak_train_inputs=True)


def test_write_seed_without_weak_train_writes_neither_rows_nor_features(tmp_path: Path) -> None:
    ex = [Example("a", "some text", 1)]
    feats = {s: np.zeros((1, 3)) for s in ("weak_train", "w2s_train", "dev", "eval")}
    seed = SeedData(0, None, ex, np.array([0.9]), ex, np.array([0.8]), ex, None, {"strong": feats})
    write_job_data(tmp_path / "data", {"template": "probe"}, [seed])
    check_job_data(tmp_path / "data", weak_train_inputs=False)


@pytest.mark.parametrize("method", ["naive", "aux_conf", "bootstrap", "weak_ensemble"])
def test_library_method_jobs_get_no_weak_train(tiny_setup: Setup, tmp_path: Path, method: str) -> None:
    spec = ExperimentSpec(tiny_setup, resolve_method(method, TEMPLATES), method, [0, 1])
    _, data, _ = build_job(spec, tmp_path)
    check_job_data(data, weak_train_inputs=False)


@pytest.mark.parametrize("requires", [False, True])
def test_a_method_sees_weak_train_inputs_only_when_it_asks(
    tiny_setup: Setup, tmp_path: Path, requires: bool
) -> None:
    method = peek_method(tmp_path, requires)
    spec = ExperimentSpec(tiny_setup, method, method.stem, [0], eval_splits=("dev",))
    code, data, out = build_job(spec, tmp_path / "job")
    check_job_data(data, weak_train_inputs=requires)
    if requires:
        rows = [json.loads(x) for x in (data / "seed_0" / "weak_train.jsonl").read_text().splitlines()]
        assert [r["id"] for r in rows] == [e.id for e in tiny_setup.splits.weak_train]
    run_trusted(tiny_setup.template.runner, data, out, code / "method.py")  # common.py copes either way
    seen = json.loads((out / "seed_0" / "log.jsonl").read_text().splitlines()[0])
    n = TINY.weak_train if requires else 0
    assert (seen["weak_train_rows"], seen["weak_train_features"]) == (n, n)
    assert seen["keys"] == (["id", "text"] if requires else [])
    assert (out / "seed_0" / "predictions" / "final.jsonl").is_file()
