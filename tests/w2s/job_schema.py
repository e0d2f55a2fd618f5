"""What a method job's /data may hold, checked file by file (used by the job-data and sandbox tests)."""

from __future__ import annotations

import json
from pathlib import Path

from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template
from tests.conftest import TEMPLATES

TINY = SplitSizes(weak_train=48, w2s_train=96, dev=32, test=32)

# Keys each split's rows may carry; none is a label.
ROW_KEYS = {
    "weak_train": {"id", "text"},
    "w2s_train": {"id", "text", "weak_p", "weak_members"},
    "dev": {"id", "text", "weak_p"},
    "eval": {"id", "text"},
}


def tiny_setup(cache: Path) -> Setup:
    """Rotten Tomatoes with tiny splits on the probe template (static64 -> MiniLM-L6): seconds per job."""
    pair, template = parse_pair("static64→minilm-l6"), get_template("probe", TEMPLATES)
    return Setup("rotten_tomatoes", pair, template, sizes=TINY, cache_dir=cache)


def check_job_data(data: Path, *, weak_train_inputs: bool) -> None:
    """Fail unless `data` holds only the contract's files, no row has a label, and weak_train (inputs only,
    with its features) is there exactly when the method asked for it."""
    config = json.loads((data / "config.json").read_text())
    assert not _keys(config) & {"label", "labels"}, config
    seeds = sorted(p for p in data.iterdir() if p.is_dir())
    assert seeds and all(p.name.startswith("seed_") for p in seeds), seeds
    allowed_files = {f"{split}.jsonl" for split in ROW_KEYS} | {"features"}
    for seed in seeds:
        assert {p.name for p in seed.iterdir()} <= allowed_files, sorted(seed.iterdir())
        assert (seed / "weak_train.jsonl").exists() == weak_train_inputs
        for split, keys in ROW_KEYS.items():
            path = seed / f"{split}.jsonl"
            for line in path.read_text().splitlines() if path.exists() else []:
                row = json.loads(line)
                assert set(row) == keys, f"{path}: {sorted(row)}"
        for role in (seed / "features").iterdir() if (seed / "features").exists() else []:
            names = {p.name for p in role.iterdir()}
            want = {f"{s}.npy" for s in ROW_KEYS if s != "weak_train" or weak_train_inputs}
            assert names == want, f"{role}: {sorted(names)}"


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()
