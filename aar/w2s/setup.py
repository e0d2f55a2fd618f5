"""An experiment setup (task, pair, template, splits) and the data it prepares: splits and features."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from aar.errors import UserError
from aar.w2s.cache import file_hash
from aar.w2s.embed import embed_cached, mpnet_dir
from aar.w2s.jobs import TrustedRunner
from aar.w2s.ladder import Pair, Rung
from aar.w2s.splits import Splits, SplitSizes, make_splits
from aar.w2s.tasks import Example, load_task, task_fingerprint
from aar.w2s.templates import Template

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class Setup:
    """Everything that defines the data side of an experiment; baselines are cached by its hash."""

    task: str
    pair: Pair
    template: Template
    sizes: SplitSizes = field(default_factory=SplitSizes.defaults)  # `split_sizes`: what the task fits
    split_seed: int = 0
    members: int = 4  # weak-ensemble members trained besides the main weak supervisor
    # How the weak supervisor is calibrated on its held-out part of weak_train (aar/w2s/calibration.py):
    # auto (lowest cross-validated log-loss) | temperature | isotonic | none (train on all of weak_train).
    calibration: str = "auto"
    cache_dir: Path = Path("results/cache")
    baseline_hparams: dict[str, Any] = field(default_factory=dict)
    progress: Progress | None = None
    # Where trusted baseline jobs run (a device-pool slot in the study's sandbox, charged to its ledger:
    # aar.scheduler.trusted_runner); None: in this process. Not part of the cache key: same results.
    trusted: TrustedRunner | None = None
    # Called between chunks of long host work (embedding); raises to stop it (the study's deadline, a
    # stop request). What was done before is kept in the cache.
    check: Callable[[], None] | None = None

    @cached_property
    def examples(self) -> list[Example]:
        return load_task(self.task)

    def variant(self, **changes: Any) -> Setup:
        """The same task with other sizes or baseline settings; its examples are loaded once and shared."""
        other = dataclasses.replace(self, **changes)
        if other.task == self.task:
            other.__dict__["examples"] = self.examples
        return other

    @cached_property
    def fingerprint(self) -> str:
        return task_fingerprint(self.examples)

    @cached_property
    def split_sizes(self) -> SplitSizes:
        """The sizes the splits get: `sizes`, or the defaults shrunk to fit a small task (logged once)."""
        return self.sizes.fitted(len(self.examples), self.task)

    @cached_property
    def splits(self) -> Splits:
        return make_splits(self.examples, self.split_sizes, self.split_seed, self.task)

    @property
    def hparams(self) -> dict[str, Any]:
        """Baseline hyperparameters: the template's defaults plus explicit baseline overrides."""
        return {**self.template.defaults, **self.baseline_hparams}

    @cached_property
    def code_version(self) -> str:
        """Hash of the fixed runner code, so a runner change invalidates cached baselines."""
        return file_hash(self.template.runner, self.template.dir.parent / "common.py")

    def key_parts(self) -> dict[str, Any]:
        return {
            "task": self.fingerprint, "sizes": self.split_sizes.as_dict(), "split_seed": self.split_seed,
            "template": self.template.name, "hparams": self.hparams, "code": self.code_version,
        }  # fmt: skip

    def features(self, rung: Rung) -> dict[str, np.ndarray]:
        """Cached frozen embeddings of every split (weak_train, w2s_train, dev, test) for one rung."""
        examples = self.splits.all_examples()
        progress = self.progress
        report = (lambda done, total: progress(f"embed {rung.name}", done, total)) if progress else None
        vectors = embed_cached(
            rung,
            self.fingerprint,
            [e.id for e in examples],
            [e.text for e in examples],
            self.cache_dir,
            report,
            check=self.check,
        )
        out, start = {}, 0
        for name in ("weak_train", "w2s_train", "dev", "test"):
            n = len(self.splits.get(name))
            out[name] = vectors[start : start + n]
            start += n
        return out

    def model_spec(self, rung: Rung) -> dict[str, str]:
        """How a template runner finds a rung's weights: a local path, an installed package, or a hub id."""
        spec = {"name": rung.name, "kind": rung.kind, "source": rung.source, "gguf_file": rung.gguf_file}
        if self.template.model_kinds and rung.kind not in self.template.model_kinds:
            raise UserError(
                f"template {self.template.name!r} cannot train {rung.name} ({rung.kind}); "
                f"it takes {', '.join(self.template.model_kinds)} models"
            )
        if rung.kind == "mpnet":
            spec["path"] = str(mpnet_dir(self.cache_dir))
        elif rung.kind in ("st", "gguf") and rung.offline:
            spec["package"] = rung.source.replace("-", "_")
        elif rung.kind in ("hf", "st") and Path(rung.source).exists():
            spec["path"] = str(Path(rung.source).resolve())
        return spec

    def labels(self, split: str) -> np.ndarray:
        """Ground truth of a split. Host only: never written into a job's data."""
        return np.array([e.label for e in self.splits.get(split)], dtype=int)
