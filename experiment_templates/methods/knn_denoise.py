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


def neighbour_mean(emb: np.ndarray, labels: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Mean of `labels` over each row's `k` nearest other rows by cosine similarity of `emb`."""
    x = torch.nn.functional.normalize(torch.as_tensor(emb, dtype=torch.float32), dim=1)
    y = torch.as_tensor(labels, dtype=torch.float32)
    k = max(1, min(k, len(x) - 1))
    out = []
    for start in range(0, len(x), chunk):
        sim = x[start : start + chunk] @ x.T
        rows = torch.arange(start, min(start + chunk, len(x)))
        sim[rows - start, rows] = -2.0  # never your own neighbour
        out.append(y[sim.topk(k, dim=1).indices].mean(dim=1))
    return torch.cat(out).numpy()


def smooth(emb: np.ndarray, weak_p: np.ndarray, k: int, mix: float) -> np.ndarray:
    """(1 - mix) * own weak label + mix * neighbours' mean weak label."""
    return ((1 - mix) * weak_p + mix * neighbour_mean(emb, weak_p, k)).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    weak = ctx.weak_p()
    k, mix = int(ctx.hparams.get("knn_k", 20)), float(ctx.hparams.get("knn_mix", 0.5))
    labels = smooth(ctx.embeddings("w2s_train"), weak, k, mix)
    ctx.log(event="denoise", flipped=float(((labels > 0.5) != (weak > 0.5)).mean()))
    result = ctx.fit(labels)
    ctx.write_predictions("final", result.eval_preds[result.history[-1]["step"]])
