"""User data (`--task custom:PATH`): a JSONL or CSV file with `text`, `label`, optional `id` and `group`.

Rows that share a `group` (e.g. one question with several candidate answers) always land in the same
split, so a question never has a twin in `weak_train` while it is scored in `dev` or `test`; rows without
one stand alone.

Every problem is reported as one line naming the file, the row and what is wrong; nothing is loaded
half-way. Labels may be 0/1, true/false, yes/no or positive/negative.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from aar.errors import DataError
from aar.w2s.tasks import Example

LABEL_WORDS = {
    "1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "positive": 1, "negative": 0,
}  # fmt: skip


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(row number, record) pairs; row numbers are 1-based lines (JSONL) or data rows (CSV)."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        out = []
        for n, line in enumerate(io.StringIO(_text(path)), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"not valid JSON ({exc.msg})", row=n) from None
            if not isinstance(record, dict):
                raise DataError(path, "each line must be a JSON object", row=n)
            out.append((n, record))
        return out
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(
            io.StringIO(_text(path), newline=""), delimiter="\t" if suffix == ".tsv" else ","
        )
        return [(n, dict(r)) for n, r in enumerate(reader, start=1)]
    raise DataError(path, f"unsupported file type {suffix or '(none)'}; use .jsonl or .csv")


def _text(path: Path) -> str:
    """The file as text: UTF-8 (a BOM is dropped); a binary file is one DataError naming the bad byte."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            path,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8 JSONL or CSV",
        ) from None
    if "\x00" in text:
        raise DataError(path, "contains NUL bytes: a binary file, not UTF-8 JSONL or CSV text")
    return text


def _label(value: Any, path: Path, row: int) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    word = str(value).strip().lower()
    if word in LABEL_WORDS:
        return LABEL_WORDS[word]
    raise DataError(path, f"label {value!r} is not binary (use 0/1, true/false, yes/no)", row=row)


def _example(record: dict[str, Any], path: Path, row: int) -> Example:
    missing = [c for c in ("text", "label") if c not in record or record[c] is None]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)}", row=row)
    text = str(record["text"]).strip()
    if not text:
        raise DataError(path, "empty text", row=row)
    raw_id = record.get("id")
    ex_id = (
        str(raw_id).strip()
        if raw_id not in (None, "")
        else "h" + hashlib.sha256(text.encode()).hexdigest()[:12]
    )
    raw_group = record.get("group")
    group = str(raw_group).strip() if raw_group not in (None, "") else None
    return Example(ex_id, text, _label(record["label"], path, row), group=group or None)


def load_custom(path: Path) -> list[Example]:
    """Load and validate a user data file; raises DataError naming the file, row and problem."""
    if not path.is_file():
        raise DataError(path, "no such file")
    rows = _rows(path)
    if not rows:
        raise DataError(path, "no examples")
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for n, record in rows:
        ex = _example(record, path, n)
        if ex.id in seen:
            what = "duplicate id" if "id" in record and record["id"] not in (None, "") else "duplicate text"
            raise DataError(path, f"{what} {ex.id!r} (first seen at row {seen[ex.id]})", row=n)
        seen[ex.id] = n
        examples.append(ex)
    if len({ex.label for ex in examples}) < 2:
        raise DataError(path, "every example has the same label; a binary task needs both")
    return examples
