"""Job folders (the host side of the experiment contract) and running trusted jobs.

`write_job_data` writes exactly what a job may see, and never a ground-truth label: weak labels for
`w2s_train` and `dev`, bare inputs for `eval`, and `weak_train` inputs (id, text) only when the seed
carries them (a method that declares `REQUIRES = {"weak_train_inputs": True}`, or a trusted baseline job,
whose "weak labels" are themselves the ground truth it trains on). Trusted jobs (weak supervisor,
ceiling, naive) run the fixed template runner through a `TrustedRunner` when the setup carries one (a
device-pool slot, in the study's sandbox, charged to its ledger: `aar.scheduler.trusted_runner`), else in
this process; untrusted method code always runs through a sandbox.

`stage_models` makes the job's config name its models by where the job will find them: for a sandboxed job
`/models/<role>` (the host folder each role resolves to is mounted there read-only), for a local job the
host folder itself.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aar.errors import InfraError
from aar.w2s.models import LOADABLE_KINDS, resolve_spec
from aar.w2s.tasks import Example

FEATURE_SPLITS = ("weak_train", "w2s_train", "dev", "eval")
MODELS_MOUNT = "/models"  # a sandboxed job finds role R's weights, read-only, at /models/R
_ROLE = re.compile(r"[A-Za-z0-9_]+")


@dataclass
class SeedData:
    """What one seed of a job may see."""

    seed: int
    weak_train: Sequence[Example] | None  # inputs only, never labels; None: the job gets no weak_train
    w2s_train: Sequence[Example]
    w2s_weak_p: np.ndarray
    dev: Sequence[Example]
    dev_weak_p: np.ndarray
    eval: Sequence[Example]
    w2s_members: np.ndarray | None = None
    # role -> split -> feature matrix, row-aligned with the split (probe template only)
    features: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def write_seed(seed_dir: Path, s: SeedData) -> None:
    """One seed's files: no row carries a label; weak_train (id, text) and its features only if given."""
    seed_dir.mkdir(parents=True, exist_ok=True)
    members = s.w2s_members if s.w2s_members is not None else np.zeros((len(s.w2s_train), 0))
    if s.weak_train is not None:
        _write_jsonl(seed_dir / "weak_train.jsonl", [{"id": e.id, "text": e.text} for e in s.weak_train])
    _write_jsonl(
        seed_dir / "w2s_train.jsonl",
        [
            {"id": e.id, "text": e.text, "weak_p": float(p), "weak_members": [float(m) for m in ms]}
            for e, p, ms in zip(s.w2s_train, s.w2s_weak_p, members, strict=True)
        ],
    )
    _write_jsonl(
        seed_dir / "dev.jsonl",
        [{"id": e.id, "text": e.text, "weak_p": float(p)} for e, p in zip(s.dev, s.dev_weak_p, strict=True)],
    )
    _write_jsonl(seed_dir / "eval.jsonl", [{"id": e.id, "text": e.text} for e in s.eval])
    splits = [x for x in FEATURE_SPLITS if x != "weak_train" or s.weak_train is not None]
    for role, feats in s.features.items():
        (seed_dir / "features" / role).mkdir(parents=True, exist_ok=True)
        for split in splits:
            np.save(seed_dir / "features" / role / f"{split}.npy", feats[split].astype(np.float32))


def write_job_data(data_dir: Path, config: dict[str, Any], seeds: Sequence[SeedData]) -> Path:
    """Write `/data` for a job: config.json and one folder per seed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.json").write_text(json.dumps({**config, "seeds": [s.seed for s in seeds]}, indent=1))
    for s in seeds:
        write_seed(data_dir / f"seed_{s.seed}", s)
    return data_dir


def stage_models(data_dir: Path, mount: str | None = MODELS_MOUNT) -> dict[str, Path]:
    """Resolve the models of the job's config.json to host folders and make the config name them.

    With `mount` (a sandboxed job), each role's `path` becomes `<mount>/<role>[/<inner>]` and the returned
    {role: host folder} is what the sandbox mounts there read-only; with `mount=None` (a local job) the
    path is the host folder itself and nothing is mounted. Roles of kinds no runner loads are left as they
    are. The job's config then names no package and no hub id a runner could try to fetch.

    Raises:
        ModelMissing, ModelNotCached: a model is not on this host (one line).
        InfraError: a role name that cannot be a folder name.
    """
    path = data_dir / "config.json"
    if not path.is_file():
        return {}  # a job without a config loads no model
    config = json.loads(path.read_text(encoding="utf-8"))
    mounts: dict[str, Path] = {}
    for role, spec in config.get("models", {}).items():
        if spec.get("kind") not in LOADABLE_KINDS:
            continue
        if not _ROLE.fullmatch(role):
            raise InfraError(f"model role {role!r} is not a plain name")
        folder = resolve_spec(spec)
        if mount is None:
            where = str(folder.path)
        else:
            mounts[role] = folder.root
            where = f"{mount}/{role}" + (f"/{folder.inner}" if folder.inner else "")
        spec.pop("package", None)
        spec["path"] = where
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return mounts


def run_trusted(
    runner: Path,
    data_dir: Path,
    out_dir: Path,
    method: Path,
    via: TrustedRunner | None = None,
    *,
    label: str = "trusted job",
) -> JobOutcome | None:
    """Run a fixed template runner with a trusted method: through `via` (the scheduler's device pool,
    `aar.scheduler.trusted_runner`; `label` says which baseline it is, for the ledger), returning its
    outcome, else in this process (None).

    Raises:
        InfraError: the job did not end ok (our own code failed: not the agent's mistake).
        Whatever `via` raises before or after the job (the study's deadline: `BudgetExceeded`).
    """
    if via is not None:
        outcome = via(runner, data_dir, out_dir, method, label=label)
        if outcome.status != "ok":
            tail = outcome.stderr_tail.strip().splitlines()[-1:] or [""]
            raise InfraError(f"{label} ({runner.parent.name} runner) ended {outcome.status}: {tail[0][:300]}")
        return outcome
    spec = importlib.util.spec_from_file_location(f"aar_runner_{runner.parent.name}", runner)
    if spec is None or spec.loader is None:
        raise InfraError(f"cannot load template runner {runner}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--data", str(data_dir), "--out", str(out_dir), "--method", str(method)])
    return None


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: `status` is ok | failed | timeout | ... (the sandbox's vocabulary)."""

    status: str
    exit_code: int | None
    seconds: float
    stderr_tail: str = ""
    sandbox: str = "local"


class TrustedRunner(Protocol):
    """Runs a trusted job somewhere else than this process (on a device slot, in a sandbox): the template's
    runner.py, its /data and /out folders and the library method.py; `label` names the job in the ledger
    ("weak model static64, seed 0"). `run_trusted(..., via=...)` takes one."""

    def __call__(self, runner: Path, data: Path, out: Path, method: Path, *, label: str) -> JobOutcome: ...
