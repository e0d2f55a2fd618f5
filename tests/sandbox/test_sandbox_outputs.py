"""Host-side output handling: prediction checks, and attack 13 (fake metrics through `run_experiment`,
symlinked predictions)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aar.sandbox.base import Sandbox, Status
from aar.sandbox.outputs import copy_out
from aar.scheduler import sandbox_runner
from aar.w2s.experiment import ExperimentSpec, run_experiment
from aar.w2s.predictions import InvalidOutput, read_predictions
from aar.w2s.setup import Setup

IDS = ["e0", "e1", "e2", "e3"]


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_reads_valid_predictions(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", [{"id": i, "p": 0.25} for i in IDS])
    assert read_predictions(path, IDS) == dict.fromkeys(IDS, 0.25)


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([{"id": i, "p": 0.5} for i in IDS[:3]], "1 expected ids have no prediction"),
        ([{"id": i, "p": 0.5} for i in [*IDS, "x9"]], "unexpected id 'x9'"),
        ([{"id": "e0", "p": 0.5}, {"id": "e0", "p": 0.5}], "duplicate"),
        ([{"id": i, "p": 1.5} for i in IDS], "in [0, 1]"),
        ([{"id": i, "p": float("nan")} for i in IDS], "NaN is not a probability"),
        ([{"id": i, "p": "0.5"} for i in IDS], "in [0, 1]"),
        ([{"id": i, "p": True} for i in IDS], "in [0, 1]"),
        ([{"id": i} for i in IDS], "'id' and 'p'"),
        (["not json"], "not UTF-8 JSON"),
    ],
)
def test_rejects_bad_predictions(tmp_path: Path, rows: list[Any], reason: str) -> None:
    path = write(tmp_path / "p.jsonl", rows)
    with pytest.raises(InvalidOutput, match=reason.replace("[", r"\[").replace("]", r"\]")):
        read_predictions(path, IDS)


def test_rejects_symlinks_and_oversize(tmp_path: Path) -> None:
    real = write(tmp_path / "real.jsonl", [{"id": i, "p": 0.5} for i in IDS])
    (tmp_path / "link.jsonl").symlink_to(real)
    with pytest.raises(InvalidOutput, match="symlink"):
        read_predictions(tmp_path / "link.jsonl", IDS)
    with pytest.raises(InvalidOutput, match="over the cap"):
        read_predictions(real, IDS, max_bytes=10)


def test_copy_out_keeps_only_regular_files(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f.txt").write_text("hi")
    (src / "link").symlink_to("/etc/passwd")
    os.mkfifo(src / "fifo")
    report = copy_out(src, dst, max_bytes=1000, max_files=100)
    assert (dst / "a" / "f.txt").read_text() == "hi"
    assert not (dst / "link").exists() and not (dst / "fifo").exists()
    assert len(report.rejected) == 2


LIAR = """
import json


def train(ctx):
    claim = json.dumps({"accuracy": 1.0, "w2s_acc": 1.0, "pgr": 1.0, "pgr_ci": [1.0, 1.0]})
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "metrics.json").write_text(claim)
    (ctx.out_dir.parent / "metrics.json").write_text(claim)
    (ctx.out_dir / "results_summary.json").write_text(claim)
    ctx.log(**json.loads(claim))
    ctx.write_predictions("final", ctx.weak_p("dev"))  # eval is dev here: the weak labels, PGR exactly 0
"""


def test_fake_metrics_are_ignored(tiny_setup: Setup, sandbox: Sandbox, tmp_path: Path) -> None:
    """A job that claims a perfect score everywhere it can write one is scored from its predictions alone:
    it predicts the weak labels, so the host must find w2s accuracy = weak accuracy and PGR 0."""
    from aar.w2s.baselines import weak_labels

    method = tmp_path / "liar.py"
    method.write_text(LIAR)
    spec = ExperimentSpec(tiny_setup, method, "liar", [0], eval_splits=("dev",), threads=1)
    result = run_experiment(spec, sandbox_runner(sandbox, sandbox.name))
    assert result.status == "ok", result.error
    dev = tiny_setup.splits.dev
    weak_p = weak_labels(tiny_setup, 0).dev
    by_hand = sum((p > 0.5) == (e.label == 1) for p, e in zip(weak_p, dev, strict=True)) / len(dev)
    scores = result.seed_results[0].splits["dev"]
    assert scores.w2s_acc == pytest.approx(by_hand) and scores.w2s_acc < 1.0
    assert scores.pgr == pytest.approx(0.0)  # recomputed by the host, not the 1.0 the job claimed
    assert result.to_json()["pgr"] == pytest.approx(0.0)


def test_symlinked_predictions_are_rejected(sandbox: Sandbox, make_job: Any) -> None:
    """The copy back refuses the link, so the host never reads through it (through `run_experiment` the
    experiment ends invalid_output, 'final.jsonl is missing': test_hostile_output's symlink_final)."""
    job = make_job(
        """
        os.makedirs("/out/seed_0/predictions")
        os.symlink("/data/seed_0/eval.jsonl", "/out/seed_0/predictions/final.jsonl")
        with open("/out/seed_0/predictions/step_1.jsonl", "w") as f:
            f.write("{}")
        """
    )
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    predictions = job.out_dir / "seed_0" / "predictions"
    assert (predictions / "step_1.jsonl").is_file() and not os.path.lexists(predictions / "final.jsonl")
