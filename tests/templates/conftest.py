"""Tiny Qwen-shaped models built from configs (2 layers, MiniLM's tokenizer) and job folders for them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.conftest import TEMPLATES

WORDS = [
    "the",
    "a",
    "film",
    "movie",
    "plot",
    "actor",
    "great",
    "bad",
    "dull",
    "witty",
    "scene",
    "story",
    "long",
    "short",
    "funny",
    "sad",
    "music",
    "ending",
]


def make_tiny_qwen(out: Path, family: str) -> Path:
    """A 2-layer Qwen2 or Qwen3 sequence classifier (random weights) with MiniLM's tokenizer, saved to `out`."""
    from transformers import (
        AutoTokenizer,
        Qwen2Config,
        Qwen2ForSequenceClassification,
        Qwen3Config,
        Qwen3ForSequenceClassification,
    )

    from aar.w2s.embed import minilm_dir

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    shape: dict[str, Any] = dict(
        vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, num_labels=2,
        pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    if family == "qwen2":
        model: Any = Qwen2ForSequenceClassification(Qwen2Config(**shape))
    else:
        model = Qwen3ForSequenceClassification(Qwen3Config(head_dim=8, **shape))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen2"), "qwen2")


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen3"), "qwen3")


def texts(n: int, seed: int) -> list[str]:
    """`n` texts of 2 to 40 words (lengths spread out, so batches could pad a lot)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 41)))) for _ in range(n)]


def write_job(root: Path, model: Path, n: int = 40, seeds: tuple[int, ...] = (0,)) -> Path:
    """A job folder (the experiment contract) with `n` training texts; dev rows also appear in eval."""
    rng = np.random.default_rng(1)
    train, dev, test = texts(n, 2), texts(12, 3), texts(10, 4)
    rows = {
        "w2s_train": [
            {"id": f"t{i}", "text": t, "weak_p": float(rng.uniform()), "weak_members": []}
            for i, t in enumerate(train)
        ],
        "dev": [{"id": f"d{i}", "text": t, "weak_p": float(rng.uniform())} for i, t in enumerate(dev)],
    }
    rows["eval"] = [{"id": r["id"], "text": r["text"]} for r in rows["dev"]]
    rows["eval"] += [{"id": f"e{i}", "text": t} for i, t in enumerate(test)]
    for seed in seeds:
        for split, split_rows in rows.items():
            path = root / f"seed_{seed}" / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in split_rows))
    config = {"template": "finetune", "seeds": list(seeds), "models": {"strong": {"path": str(model)}}}
    (root / "config.json").write_text(json.dumps(config))
    return root


def finetune_modules() -> tuple[ModuleType, ModuleType]:
    """The template's `common` and finetune `runner` modules, imported as the sandbox would."""
    import importlib.util

    path = TEMPLATES / "finetune" / "runner.py"
    spec = importlib.util.spec_from_file_location("aar_test_finetune_runner", path)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return sys.modules["common"], runner
