"""Probe template runner (fixed): a linear or small-MLP head on frozen, cached backbone features.

Usage: python runner.py --data /data --out /out   (see ../CONTRACT.md)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common


class ProbeBackend:
    """Features per role and split, standardized with label-free statistics of the training inputs."""

    def __init__(self, hparams: dict[str, Any], seed_dir: Path) -> None:
        self.hparams = hparams
        self.features: dict[str, dict[str, torch.Tensor]] = {}
        for role_dir in sorted((seed_dir / "features").iterdir()):
            raw = {s: np.load(role_dir / f"{s}.npy") for s in common.SPLITS if _present(role_dir, s)}
            mean, std = raw["w2s_train"].mean(0), raw["w2s_train"].std(0) + 1e-6
            # weak_train is given only to methods that ask for it (common.OPTIONAL_SPLITS): else no rows
            raw.setdefault("weak_train", np.zeros((0, raw["w2s_train"].shape[1]), dtype=np.float32))
            self.features[role_dir.name] = {
                s: torch.from_numpy((x - mean) / std).float() for s, x in raw.items()
            }

    def new_model(self, role: str, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        dim = self.features[role]["w2s_train"].shape[1]
        hidden = int(self.hparams.get("hidden", 0))
        if hidden <= 0:
            return nn.Linear(dim, 2)
        return nn.Sequential(
            nn.Dropout(float(self.hparams.get("dropout", 0.0))),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, 2),
        )

    def logits(self, model: nn.Module, role: str, split: str, idx: np.ndarray) -> torch.Tensor:
        return model(self.features[role][split][torch.as_tensor(idx)])

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.parameters())

    def embeddings(self, role: str, split: str) -> np.ndarray:
        """The standardized frozen features of `role` on `split` (what the head sees), for kNN methods."""
        return self.features[role][split].numpy()


def _present(role_dir: Path, split: str) -> bool:
    return split not in common.OPTIONAL_SPLITS or (role_dir / f"{split}.npy").exists()


def main(argv: list[str] | None = None) -> None:
    args = common.parse_args(argv)
    method = args.method or Path(__file__).resolve().parent / "method.py"
    common.run_job(args.data, args.out, method, ProbeBackend)


if __name__ == "__main__":
    main()
