"""Weak-label denoising by the strong model's neighbours: in the strong backbone's own embedding space
(cosine similarity of its frozen features), each weak label is mixed with the mean weak label of its
`knn_k` nearest w2s_train neighbours, then the student trains on the smoothed labels. Where the strong
representation clusters the classes, an isolated wrong weak label is outvoted by its neighbours.

Sources: Bahri, Jiang & Gupta 2020, "Deep k-NN for Noisy Labels" (https://arxiv.org/abs/2004.12289);
the neighbourhood-expansion argument for weak-to-strong generalization in Lang, Sontag & Vijayaraghavan
2024 (https://arxiv.org/abs/2405.16043). Needs frozen embeddings (`ctx.embeddings`: probe template).
"""

import numpy as np
import torch

SPACE = {"knn_k": {"choices": [5, 10, 20, 50]}, "knn_mix": {"low": 0.25, "high": 1.0}}


def smooth(ctx, weak_p: np.ndarray, k: int, mix: float) -> np.ndarray:
    """(1 - mix) * own weak label + mix * the mean weak label of its `k` neighbours in the strong embedding."""
    return ((1 - mix) * weak_p + mix * ctx.neighbour_mean(weak_p, k)).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    weak = ctx.weak_p()
    k, mix = int(ctx.hparams.get("knn_k", 20)), float(ctx.hparams.get("knn_mix", 0.5))
    labels = smooth(ctx, weak, k, mix)
    ctx.log(event="denoise", flipped=float(((labels > 0.5) != (weak > 0.5)).mean()))
    result = ctx.fit(labels)
    ctx.write_predictions("final", result.eval_preds[result.history[-1]["step"]])
