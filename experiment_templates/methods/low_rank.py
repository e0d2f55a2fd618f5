"""Low-rank student: the linear head sees only the top `rank` principal directions of the strong model's
own features (PCA of w2s_train's inputs, no labels), so it can fit what the strong representation makes
salient but not the weak supervisor's idiosyncratic errors, which spread over the remaining directions.
Labels are the weak ensemble's mean (`rank_labels = "ensemble"`: the weak model and the host's resampled
weak supervisors, as `weak_ensemble`) or the weak model's alone (`"weak"`).

Sources: Dong et al. 2025, "Discrepancies are Virtue: Weak-to-Strong Generalization through the Lens of
Intrinsic Dimension" (https://arxiv.org/abs/2502.05075): the strong student's low intrinsic dimension is
what filters the weak labels' variance: in the weak and strong subspaces' discrepancy it shrinks by
dim(strong subspace) / N.
Needs frozen embeddings (`ctx.embeddings`: probe template). It trains its own head with the template's
optimizer settings (AdamW, `lr`, `weight_decay`, `epochs`, `batch_size`, cosine schedule); the PGR curve
is over epochs.
"""

import math

import numpy as np
import torch

SPACE = {"rank": {"choices": [8, 16, 32, 64, 128]}, "rank_labels": {"choices": ["ensemble", "weak"]}}


def basis(train: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, top-`rank` principal directions [dim, rank], their scales) of `train`'s rows, label-free."""
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    directions = vt[: max(1, min(rank, len(vt)))].T
    scale = ((train - mean) @ directions).std(axis=0) + 1e-6
    return mean, directions, scale


def project(x: np.ndarray, mean: np.ndarray, directions: np.ndarray, scale: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((((x - mean) @ directions) / scale).astype(np.float32))


def labels(ctx) -> np.ndarray:
    weak = ctx.weak_p()
    if str(ctx.hparams.get("rank_labels", "ensemble")) == "weak":
        return weak
    return np.concatenate([weak[:, None], ctx.weak_members()], axis=1).mean(axis=1).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    hp = ctx.hparams
    fitted = basis(ctx.embeddings("w2s_train"), int(hp.get("rank", 32)))
    x, x_eval = project(ctx.embeddings("w2s_train"), *fitted), project(ctx.embeddings("eval"), *fitted)
    y = torch.from_numpy(labels(ctx))
    torch.manual_seed(ctx.seed)
    head = torch.nn.Linear(x.shape[1], 2)
    opt = torch.optim.AdamW(head.parameters(), lr=float(hp.get("lr", 0.003)),
                            weight_decay=float(hp.get("weight_decay", 0.1)))  # fmt: skip
    epochs, batch = int(hp.get("epochs", 10)), int(hp.get("batch_size", 32))
    steps = max(1, epochs * math.ceil(len(x) / batch))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    order = torch.Generator().manual_seed(ctx.seed)
    ctx.log(event="low_rank", rank=x.shape[1], labels_positive=float((y > 0.5).float().mean()))
    for epoch in range(epochs):
        for idx in torch.randperm(len(x), generator=order).split(batch):
            opt.zero_grad()
            loss(head(x[idx]), y[idx], epoch / epochs, ctx).mean().backward()
            opt.step()
            schedule.step()
        with torch.no_grad():
            ctx.write_predictions(epoch + 1, torch.softmax(head(x_eval), dim=1)[:, 1].numpy())
    with torch.no_grad():
        ctx.write_predictions("final", torch.softmax(head(x_eval), dim=1)[:, 1].numpy())
