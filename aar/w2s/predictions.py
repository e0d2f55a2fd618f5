"""The one host-side reader of a job's predictions: bytes in, checked probabilities out.

The job is untrusted, so its files are read as bytes from regular files only (never following a link),
within size caps; each non-blank line must be a JSON object with a string `id` and a `p` that is a JSON
number (not a bool, not a string), finite and in [0, 1]; the ids must be exactly the expected set, each
once. Every decode, overflow, nesting or schema problem raises `InvalidOutput` with a one-line reason,
and nothing else ever escapes (the host must not fall over on hostile output). Nothing the job says
about its own scores is read.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aar.errors import AgentError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024  # a prediction line is ~50 bytes; the cap bounds the parser's work per line
MAX_NUMBER_CHARS = 64  # longer numerals (a 400-digit p) are refused before Python builds them
MAX_BRACKETS = 4  # a valid line has exactly one `{` outside strings; more is refused before parsing
MAX_STEPS = 1000
MAX_REASON_CHARS = 300
_STEP_FILE = re.compile(r"^step_(\d{1,9})\.jsonl$")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class InvalidOutput(AgentError):
    """The job's output breaks the contract; `reason` says how, in one line."""

    def __init__(self, reason: str) -> None:
        one_line = " ".join(reason.split())
        if len(one_line) > MAX_REASON_CHARS:
            one_line = one_line[: MAX_REASON_CHARS - 3] + "..."
        super().__init__(one_line)
        self.reason = one_line


@dataclass(frozen=True)
class SeedPredictions:
    """P(label=1) per expected id (in `ids` order): the final choice and every eval step."""

    final: np.ndarray
    steps: dict[int, np.ndarray]


# ---- one line ----------------------------------------------------------------------------------------


def _number(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidOutput(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return float(text)  # a float of a numeral string never overflows: 1e400 becomes inf, refused below


def _constant(text: str) -> float:
    raise InvalidOutput(f"{text} is not a probability")


def _check_nesting(line: bytes) -> None:
    """Refuse deep nesting before `json.loads` sees it (the decoder recurses, and would overflow)."""
    if line.count(b"{") + line.count(b"[") <= MAX_BRACKETS:
        return  # fast path: nesting depth is at most the number of openers
    outside = _JSON_STRING.sub(b"", line)
    if outside.count(b"{") + outside.count(b"[") > MAX_BRACKETS:
        raise InvalidOutput('nested objects or arrays; expected a flat {"id": ..., "p": ...}')


def parse_line(line: bytes) -> tuple[str, float]:
    """One prediction line as (id, p).

    Raises:
        InvalidOutput: the line is not `{"id": "<string>", "p": <number in [0, 1]>}`.
    """
    if len(line) > MAX_LINE_BYTES:
        raise InvalidOutput(f"a line of {len(line)} bytes (at most {MAX_LINE_BYTES})")
    _check_nesting(line)
    try:
        row: Any = json.loads(
            line.decode("utf-8"), parse_float=_number, parse_int=_number, parse_constant=_constant
        )
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidOutput(f"not UTF-8 JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(row, dict) or "id" not in row or "p" not in row:
        raise InvalidOutput("expected an object with 'id' and 'p'")
    key, p = row["id"], row["p"]
    if not isinstance(key, str):
        raise InvalidOutput(f"id must be a string, got {type(key).__name__}")
    if isinstance(p, bool) or not isinstance(p, float) or not math.isfinite(p) or not 0.0 <= p <= 1.0:
        raise InvalidOutput(f"p must be a number in [0, 1], got {_short(p)}")
    return key, p


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---- one file ----------------------------------------------------------------------------------------


def parse_predictions(
    data: bytes, expected_ids: Collection[str], *, name: str = "predictions"
) -> dict[str, float]:
    """Checked predictions for exactly `expected_ids` from a file's bytes.

    Raises:
        InvalidOutput: with `name`, the line and the reason, on the first problem.
    """
    want = {str(i) for i in expected_ids}
    got: dict[str, float] = {}
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            key, p = parse_line(line)
        except InvalidOutput as exc:
            raise InvalidOutput(f"{name}, line {lineno}: {exc.reason}") from None
        if key not in want:
            raise InvalidOutput(f"{name}, line {lineno}: unexpected id {_short(key)}")
        if key in got:
            raise InvalidOutput(f"{name}, line {lineno}: duplicate id {_short(key)}")
        got[key] = p
    if len(got) != len(want):
        missing = sorted(want - set(got))
        raise InvalidOutput(
            f"{name}: {len(missing)} expected ids have no prediction (e.g. {', '.join(map(_short, missing[:3]))})"
        )
    return got


def read_regular_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes: regular files only (lstat, then opened without following links), at most `max_bytes`.

    Raises:
        InvalidOutput: missing, not a regular file, or over the cap.
    """
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidOutput(f"{path.name} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a symlink" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode) else "special"
        )
        raise InvalidOutput(f"{path.name} is not a regular file ({kind}; symlinks and devices are refused)")
    if st.st_size > max_bytes:
        raise InvalidOutput(f"{path.name} is {st.st_size} bytes, over the cap of {max_bytes}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:  # swapped for a link or a fifo since the lstat
        raise InvalidOutput(f"{path.name} could not be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InvalidOutput(f"{path.name} is not a regular file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidOutput(f"{path.name} is over the cap of {max_bytes} bytes")
    return data


def read_predictions(
    path: Path, expected_ids: Collection[str], *, max_bytes: int = MAX_FILE_BYTES
) -> dict[str, float]:
    """Checked predictions (id -> p) from a file written by untrusted code.

    Raises:
        InvalidOutput: with the reason, when any check fails.
    """
    return parse_predictions(read_regular_bytes(path, max_bytes), expected_ids, name=path.name)


def read_prediction_file(path: Path, ids: Sequence[str]) -> np.ndarray:
    """Predictions for exactly `ids`, in that order."""
    got = read_predictions(path, ids)
    return np.array([got[str(i)] for i in ids], dtype=np.float64)


def read_seed_predictions(seed_out: Path, ids: Sequence[str]) -> SeedPredictions:
    """`final.jsonl` and every `step_<n>.jsonl` of one seed's output folder."""
    pred_dir = seed_out / "predictions"
    if pred_dir.is_symlink() or not pred_dir.is_dir():
        raise InvalidOutput(f"{seed_out.name}/predictions is missing or not a folder")
    steps: dict[int, np.ndarray] = {}
    for name in sorted(os.listdir(pred_dir)):
        if (match := _STEP_FILE.match(name)) is not None:
            if len(steps) >= MAX_STEPS:
                raise InvalidOutput(f"over {MAX_STEPS} step files")
            steps[int(match.group(1))] = read_prediction_file(pred_dir / name, ids)
    return SeedPredictions(read_prediction_file(pred_dir / "final.jsonl", ids), dict(sorted(steps.items())))
