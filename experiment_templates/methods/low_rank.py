"""Low-rank student: the linear head sees only the top `rank` principal directions of the strong model's
own features (PCA of w2s_train's inputs, no labels), so it can fit what the strong representation makes
salient but not the weak supervisor's idiosyncratic errors, which spread over the remaining directions.
Labels are the weak ensemble's mean (`rank_labels = "ensemble"`: the weak model and the host's resampled
weak supervisors, as `weak_ensemble`) or the weak model's alone (`"weak"`). Then `rank_rounds` rounds of
self-training in that subspace: the student's predictions on w2s_train, hardened at the label-free class
prior's quantile (`prior`, as in aux_conf), become the next student's labels. In a few salient
directions the classes separate, so the hardened labels move to the strong model's own boundary.

Sources: Dong et al. 2025, "Discrepancies are Virtue: Weak-to-Strong Generalization through the Lens of
Intrinsic Dimension" (https://arxiv.org/abs/2502.05075): the strong student's low intrinsic dimension is
what filters the weak labels' variance: in the weak and strong subspaces' discrepancy it shrinks by
dim(strong subspace) / N. Self-training with hardened pseudo-labels: Lang, Sontag & Vijayaraghavan 2024,
"Theoretical Analysis of Weak-to-Strong Generalization" (https://arxiv.org/abs/2405.16043), and Burns et
al. 2023 (https://arxiv.org/abs/2312.09390), Sec. 4.3.2 (hardening at a prior's threshold).
Needs frozen embeddings (`ctx.embeddings`: probe template). It trains its own head with the template's
optimizer settings (AdamW, `lr`, `weight_decay`, `epochs`, `batch_size`, cosine schedule); the PGR curve
is over the last student's epochs.
"""

import math

import numpy as np
import torch

SPACE = {
    "rank": {"choices": [4, 8, 16, 32, 64, 128]},
    "rank_labels": {"choices": ["ensemble", "weak"]},
    "rank_rounds": {"choices": [0, 1, 2, 3]},
    "prior": {"choices": ["weak_rate", "calibrated_mean", "fixed"]},
    "prior_value": {"low": 0.1, "high": 0.9},
}


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


def harden(p: np.ndarray, prior: float) -> np.ndarray:
    """1 for the top `prior` share of `p`, else 0 (threshold at its (1 - prior) quantile; 0.5 at 0 or 1)."""
    threshold = np.quantile(p, 1 - prior) if 0 < prior < 1 else 0.5
    return (p >= threshold).astype(np.float32)


def fit_head(ctx, x: torch.Tensor, y: torch.Tensor, x_eval: torch.Tensor | None = None) -> torch.nn.Linear:
    """A fresh linear head on `x` with soft labels `y`; with `x_eval`, eval predictions after each epoch."""
    hp = ctx.hparams
    torch.manual_seed(ctx.seed)
    head = torch.nn.Linear(x.shape[1], 2)
    opt = torch.optim.AdamW(head.parameters(), lr=float(hp.get("lr", 0.003)),
                            weight_decay=float(hp.get("weight_decay", 0.1)))  # fmt: skip
    epochs, batch = int(hp.get("epochs", 10)), int(hp.get("batch_size", 32))
    steps = max(1, epochs * math.ceil(len(x) / batch))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    order = torch.Generator().manual_seed(ctx.seed)
    for epoch in range(epochs):
        for idx in torch.randperm(len(x), generator=order).split(batch):
            opt.zero_grad()
            loss(head(x[idx]), y[idx], epoch / epochs, ctx).mean().backward()
            opt.step()
            schedule.step()
        if x_eval is not None:
            ctx.write_predictions(epoch + 1, predict(head, x_eval))
    return head


@torch.no_grad()
def predict(head: torch.nn.Linear, x: torch.Tensor) -> np.ndarray:
    return torch.softmax(head(x), dim=1)[:, 1].numpy()


def train(ctx) -> None:
    fitted = basis(ctx.embeddings("w2s_train"), int(ctx.hparams.get("rank", 32)))
    x, x_eval = project(ctx.embeddings("w2s_train"), *fitted), project(ctx.embeddings("eval"), *fitted)
    y, prior = labels(ctx), ctx.class_prior()
    ctx.log(event="low_rank", rank=x.shape[1], labels_positive=float((y > 0.5).mean()))
    for r in range(int(ctx.hparams.get("rank_rounds", 1))):
        hard = harden(predict(fit_head(ctx, x, torch.from_numpy(y)), x), prior)
        ctx.log(event="relabel", round=r, changed=float(((hard > 0.5) != (y > 0.5)).mean()))
        y = hard
    ctx.write_predictions("final", predict(fit_head(ctx, x, torch.from_numpy(y), x_eval), x_eval))
