"""Host-side output handling: prediction checks, and attack 13 (fake metrics, symlinked predictions)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aar.sandbox.base import Sandbox, Status
from aar.sandbox.outputs import PredictionError, copy_out, read_predictions

IDS = ["e0", "e1", "e2", "e3"]
LABELS = {"e0": 1, "e1": 0, "e2": 1, "e3": 0}  # held by the host only


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
    with pytest.raises(PredictionError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        read_predictions(path, IDS)


def test_rejects_symlinks_and_oversize(tmp_path: Path) -> None:
    real = write(tmp_path / "real.jsonl", [{"id": i, "p": 0.5} for i in IDS])
    (tmp_path / "link.jsonl").symlink_to(real)
    with pytest.raises(PredictionError, match="symlink"):
        read_predictions(tmp_path / "link.jsonl", IDS)
    with pytest.raises(PredictionError, match="over the cap"):
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


def accuracy(preds: dict[str, float]) -> float:
    """The host's own score: predictions against labels only it holds."""
    return sum((preds[i] > 0.5) == bool(y) for i, y in LABELS.items()) / len(LABELS)


def test_fake_metrics_are_ignored(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(
        """
        os.makedirs("/out/seed_0/predictions")
        open("/out/metrics.json", "w").write(json.dumps({"accuracy": 1.0, "pgr": 1.0}))
        with open("/out/seed_0/predictions/final.jsonl", "w") as f:
            for i in range(4):
                f.write(json.dumps({"id": f"e{i}", "p": 0.9}) + "\\n")
        """,
        expected={"seed_0/predictions/*.jsonl": IDS},
    )
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    preds = read_predictions(job.out_dir / "seed_0/predictions/final.jsonl", IDS)
    assert accuracy(preds) == 0.5  # recomputed by the host, not the 1.0 the job claimed


def test_symlinked_predictions_are_rejected(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(
        """
        os.makedirs("/out/seed_0/predictions")
        os.symlink("/data/seed_0/eval.jsonl", "/out/seed_0/predictions/final.jsonl")
        """,
        expected={"seed_0/predictions/*.jsonl": IDS},
    )
    result = sandbox.run(job)
    assert result.status is Status.INVALID_OUTPUT, result
    assert "symlink" in result.reason
