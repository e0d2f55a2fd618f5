from pathlib import Path

import numpy as np
import pytest

from aar.w2s import embed
from aar.w2s.ladder import LADDER

REAL_EMBEDDER = embed.load_embedder  # the unpatched one (embed_calls replaces it in the module)
TEXTS = ["a wonderful, moving film", "a dull and lifeless mess", "the plot holds together"]


@pytest.fixture()
def embed_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The batch sizes the real embedder is called with, in order (each call of each loaded embedder)."""
    calls: list[int] = []

    def counting(rung, cache_dir):
        inner = REAL_EMBEDDER(rung, cache_dir)
        return lambda texts: calls.append(len(texts)) or inner(texts)

    monkeypatch.setattr(embed, "load_embedder", counting)
    return calls


@pytest.mark.parametrize(("rung", "dim"), [("static64", 64), ("minilm-l3", 384), ("minilm-l6", 384)])
def test_offline_rungs_embed(tmp_path: Path, rung: str, dim: int):
    vectors = embed.load_embedder(LADDER[rung], tmp_path)(TEXTS)
    assert vectors.shape == (3, dim) and np.isfinite(vectors).all()
    # similar texts are closer than dissimilar ones (a real model, not noise)
    cos = vectors @ vectors.T / np.outer(np.linalg.norm(vectors, axis=1), np.linalg.norm(vectors, axis=1))
    assert cos[0, 1] < 0.999


def test_cache_embeds_each_id_once(tmp_path: Path, embed_calls: list[int]):
    calls = embed_calls
    rung = LADDER["static64"]
    first = embed.embed_cached(rung, "fp", ["a", "b"], TEXTS[:2], tmp_path)
    again = embed.embed_cached(rung, "fp", ["b", "a"], TEXTS[1::-1], tmp_path)
    assert calls == [2]
    np.testing.assert_allclose(first[::-1], again)
    embed.embed_cached(rung, "fp", ["a", "c"], [TEXTS[0], TEXTS[2]], tmp_path)
    assert calls == [2, 1]  # only the new id


@pytest.mark.slow
def test_mpnet_reassembles_from_parts(tmp_path: Path):
    vectors = embed.load_embedder(LADDER["mpnet"], tmp_path)(TEXTS)
    assert vectors.shape == (3, 768)
    assert (tmp_path / "models" / "all-mpnet-base-v2" / ".complete").exists()


@pytest.mark.slow
def test_smollm2_gguf_loads_through_transformers(tmp_path: Path):
    vectors = embed.load_embedder(LADDER["smollm2-135m"], tmp_path)(TEXTS[:2])
    assert vectors.shape == (2, 576) and np.isfinite(vectors).all()


class Stop(Exception):
    pass


def test_a_check_stops_embedding_between_batches_and_keeps_what_was_done(
    tmp_path: Path, embed_calls: list[int]
):
    """The study's deadline reaches the in-process embedding between batches: it stops there, the batches
    already embedded stay cached, and the next call embeds only the rest."""
    calls = embed_calls
    rung, ids, texts = (
        LADDER["static64"],
        [f"t{i}" for i in range(10)],
        [TEXTS[i % 3] + str(i) for i in range(10)],
    )
    checks = [0]

    def deadline_after_two_batches() -> None:
        checks[0] += 1
        if checks[0] > 2:  # the check before the model, then before batch 2; stop before batch 3
            raise Stop

    with pytest.raises(Stop):
        embed.embed_cached(rung, "fp", ids, texts, tmp_path, batch=3, check=deadline_after_two_batches)
    assert calls == [3, 3]  # stopped between batches, not after all of them
    full = embed.embed_cached(rung, "fp", ids, texts, tmp_path, batch=3)
    assert calls == [3, 3, 3, 1]  # only the 4 texts not embedded before the stop
    np.testing.assert_allclose(full, REAL_EMBEDDER(rung, tmp_path)(texts), atol=1e-6)
