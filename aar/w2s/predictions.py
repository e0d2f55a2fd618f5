"""Host-side reading of a job's predictions: regular files only, size caps, schema, exact id set.

Anything else makes the output invalid with a reason; nothing the job says about its own scores is read.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_STEPS = 1000
_STEP_FILE = re.compile(r"^step_(\d{1,9})\.jsonl$")


class InvalidOutput(Exception):
    """The job's output breaks the contract; `reason` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SeedPredictions:
    """P(label=1) per expected id (in `ids` order): the final choice and every eval step."""

    final: np.ndarray
    steps: dict[int, np.ndarray]


def _regular_file(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise InvalidOutput(f"{path.name} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidOutput(f"{path.name} is not a regular file (symlinks and devices are refused)")
    if st.st_size > MAX_FILE_BYTES:
        raise InvalidOutput(f"{path.name} is {st.st_size} bytes, over the {MAX_FILE_BYTES} cap")


def read_prediction_file(path: Path, ids: Sequence[str]) -> np.ndarray:
    """Predictions for exactly `ids`, in that order."""
    _regular_file(path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8", errors="strict") as fh:
        text = fh.read(MAX_FILE_BYTES + 1)
    expected, got = set(ids), {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ex_id, p = str(row["id"]), float(row["p"])
        except (ValueError, KeyError, TypeError):
            raise InvalidOutput(f'{path.name}, line {n}: expected {{"id": ..., "p": number}}') from None
        if not (0.0 <= p <= 1.0) or math.isnan(p):
            raise InvalidOutput(f"{path.name}, line {n}: p={p} is not a probability")
        if ex_id not in expected:
            raise InvalidOutput(f"{path.name}, line {n}: unexpected id {ex_id!r}")
        if ex_id in got:
            raise InvalidOutput(f"{path.name}, line {n}: duplicate id {ex_id!r}")
        got[ex_id] = p
    if len(got) != len(expected):
        raise InvalidOutput(f"{path.name}: {len(expected) - len(got)} expected ids have no prediction")
    return np.array([got[i] for i in ids], dtype=np.float64)


def read_seed_predictions(seed_out: Path, ids: Sequence[str]) -> SeedPredictions:
    """`final.jsonl` and every `step_<n>.jsonl` of one seed's output folder."""
    pred_dir = seed_out / "predictions"
    if pred_dir.is_symlink() or not pred_dir.is_dir():
        raise InvalidOutput(f"{seed_out.name}/predictions is missing or not a folder")
    names = sorted(os.listdir(pred_dir))
    step_names = [n for n in names if _STEP_FILE.match(n)]
    if len(step_names) > MAX_STEPS:
        raise InvalidOutput(f"{len(step_names)} step files, over the {MAX_STEPS} cap")
    steps = {int(_STEP_FILE.match(n).group(1)): read_prediction_file(pred_dir / n, ids) for n in step_names}  # type: ignore[union-attr]
    return SeedPredictions(read_prediction_file(pred_dir / "final.jsonl", ids), dict(sorted(steps.items())))
