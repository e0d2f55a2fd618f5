import json
import os
from pathlib import Path

import pytest

from aar.w2s.predictions import InvalidOutput, read_prediction_file, read_seed_predictions

IDS = ["a", "b", "c"]


def write(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def good_rows():
    return [{"id": i, "p": 0.5} for i in IDS]


def test_reads_in_expected_order(tmp_path: Path):
    path = write(tmp_path / "p.jsonl", [{"id": "c", "p": 1}, {"id": "a", "p": 0}, {"id": "b", "p": 0.25}])
    assert list(read_prediction_file(path, IDS)) == [0, 0.25, 1]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        (good_rows()[:2], "have no prediction"),
        ([*good_rows(), {"id": "zzz", "p": 0.1}], "unexpected id"),
        ([*good_rows(), {"id": "a", "p": 0.1}], "duplicate id"),
        ([{"id": "a", "p": 1.5}, *good_rows()[1:]], "not a probability"),
        ([{"id": "a"}, *good_rows()[1:]], "expected"),
    ],
)
def test_contract_violations(tmp_path: Path, rows: list, reason: str):
    with pytest.raises(InvalidOutput, match=reason):
        read_prediction_file(write(tmp_path / "p.jsonl", rows), IDS)


def test_symlinks_are_refused(tmp_path: Path):
    real = write(tmp_path / "elsewhere.jsonl", good_rows())
    pred_dir = tmp_path / "seed_0" / "predictions"
    pred_dir.mkdir(parents=True)
    os.symlink(real, pred_dir / "final.jsonl")
    with pytest.raises(InvalidOutput, match="not a regular file"):
        read_seed_predictions(tmp_path / "seed_0", IDS)


def test_steps_and_final(tmp_path: Path):
    for name in ("step_10.jsonl", "step_2.jsonl", "final.jsonl", "notes.txt"):
        write(tmp_path / "seed_0" / "predictions" / name, good_rows())
    preds = read_seed_predictions(tmp_path / "seed_0", IDS)
    assert list(preds.steps) == [2, 10] and len(preds.final) == 3
