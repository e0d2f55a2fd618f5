"""Issue 9: hostile method files, run as real method jobs in Docker and under bwrap, find no labels.

The jobs are built by the host exactly as for an experiment (`build_job`) and run straight through the
sandbox (not through the static audit, which would turn some of them away first); the host scores what
they predict. `hostile/label_hunter.py` searches the whole filesystem for a corpus; with the old setup
(the full venv mounted) it found Rotten Tomatoes and scored accuracy 1.000.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aar.sandbox.base import Sandbox
from aar.scheduler import sandbox_runner
from aar.w2s.experiment import ExperimentSpec, build_job, score_seed
from aar.w2s.predictions import read_seed_predictions
from aar.w2s.setup import Setup
from tests.w2s import job_schema
from tests.w2s.job_schema import check_job_data

HOSTILE = Path(__file__).parent / "hostile"


@pytest.fixture(scope="module")
def tiny_setup(shared_cache: Path) -> Setup:
    return job_schema.tiny_setup(shared_cache)


def run_method(setup: Setup, method: Path, sandbox: Sandbox, kind: str, root: Path) -> dict[str, Any]:
    """Run `method` as a one-seed dev-only job in `sandbox`; its log, its dev accuracy, and the job's /data."""
    spec = ExperimentSpec(setup, method, method.stem, [0], eval_splits=("dev",))
    code, data, out = build_job(spec, root)
    outcome = sandbox_runner(sandbox, kind)(code, data, out)
    assert outcome.status == "ok", outcome.stderr_tail
    log = [json.loads(line) for line in (out / "seed_0" / "log.jsonl").read_text().splitlines()]
    preds = read_seed_predictions(out / "seed_0", [e.id for e in setup.splits.dev])
    accuracy = score_seed(spec, 0, preds).splits["dev"].w2s_acc
    return {"log": log[0], "accuracy": accuracy, "data": data}


@pytest.mark.parametrize("kind", [pytest.param("docker", marks=pytest.mark.docker),
                                  pytest.param("bwrap", marks=pytest.mark.bwrap)])  # fmt: skip
def test_a_label_hunting_method_finds_nothing_and_scores_like_chance(
    request: pytest.FixtureRequest,
    tiny_setup: Setup,
    workdir: Path,
    kind: str,
) -> None:
    sandbox = request.getfixturevalue(f"{kind}_sandbox")
    run = run_method(tiny_setup, HOSTILE / "label_hunter.py", sandbox, kind, workdir / "job")
    assert run["log"]["found"] == [] and run["log"]["matched"] == 0
    assert run["accuracy"] < 0.75  # a seeded coin flip on 32 examples; a leak gives 1.000


@pytest.mark.parametrize("kind", [pytest.param("docker", marks=pytest.mark.docker),
                                  pytest.param("bwrap", marks=pytest.mark.bwrap)])  # fmt: skip
@pytest.mark.parametrize("requires", [False, True])
def test_a_method_reading_data_finds_no_ground_truth(
    request: pytest.FixtureRequest,
    tiny_setup: Setup,
    workdir: Path,
    kind: str,
    requires: bool,
) -> None:
    method = workdir / ("reader_inputs.py" if requires else "weak_train_reader.py")
    head = 'REQUIRES = {"weak_train_inputs": True}\n' if requires else ""
    method.write_text(head + (HOSTILE / "weak_train_reader.py").read_text())
    sandbox = request.getfixturevalue(f"{kind}_sandbox")
    run = run_method(tiny_setup, method, sandbox, kind, workdir / "job")
    log = run["log"]
    assert log["labelled_rows"] == 0
    assert any(f.endswith("weak_train.jsonl") for f in log["files"]) == requires
    assert log["weak_train_rows"] == (len(tiny_setup.splits.weak_train) if requires else 0)
    assert log["weak_train_keys"] == (["id", "text"] if requires else [])
    check_job_data(run["data"], weak_train_inputs=requires)
