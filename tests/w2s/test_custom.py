import json
from pathlib import Path

import pytest

from aar.errors import DataError
from aar.w2s.custom import load_custom


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_and_csv_load(tmp_path: Path):
    rows = [{"id": "a", "text": "good", "label": 1}, {"id": "b", "text": "bad", "label": "no"}]
    assert [e.label for e in load_custom(write_jsonl(tmp_path / "d.jsonl", rows))] == [1, 0]
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\ngood,true\nbad,false\n")
    examples = load_custom(csv)
    assert [e.label for e in examples] == [1, 0]
    assert examples[0].id != examples[1].id  # ids derived from the text when absent


@pytest.mark.parametrize(
    ("rows", "row", "problem"),
    [
        ([{"text": "x", "label": 1}, {"text": "y"}], 2, "missing column(s) label"),
        ([{"text": "x", "label": 1}, {"label": 0}], 2, "missing column(s) text"),
        ([{"text": "x", "label": 1}, {"text": "y", "label": 2}], 2, "not binary"),
        ([{"text": "x", "label": 1}, {"text": "  ", "label": 0}], 2, "empty text"),
        ([{"id": 1, "text": "x", "label": 1}, {"id": 1, "text": "y", "label": 0}], 2, "duplicate id '1'"),
    ],
)
def test_bad_rows_name_file_row_and_problem(tmp_path: Path, rows: list, row: int, problem: str):
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError) as info:
        load_custom(path)
    message = str(info.value)
    assert str(path) in message and f"row {row}" in message and problem in message
    assert "\n" not in message


def test_whole_file_problems(tmp_path: Path):
    with pytest.raises(DataError, match="same label"):
        load_custom(
            write_jsonl(tmp_path / "one.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": 1}])
        )
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported file type"):
        load_custom(tmp_path / "x.txt")
    with pytest.raises(DataError, match="no such file"):
        load_custom(tmp_path / "missing.jsonl")
    (tmp_path / "broken.jsonl").write_text('{"text": "a", "label": 1}\n{oops\n')
    with pytest.raises(DataError, match="row 2: not valid JSON"):
        load_custom(tmp_path / "broken.jsonl")
