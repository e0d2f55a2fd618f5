"""Weak-ensemble labels: train on the mean soft label of several weak supervisors (each trained by the
host on a different resample of weak_train) instead of the single weak model's labels. `ensemble_temp`
sharpens (< 1) or softens (> 1) the averaged label."""

import numpy as np
import torch

SPACE = {"ensemble_temp": {"low": 0.5, "high": 2.0}}


def _ensemble_labels(ctx) -> np.ndarray:
    members = np.concatenate([ctx.weak_p()[:, None], ctx.weak_members()], axis=1)
    p = members.mean(axis=1).clip(1e-4, 1 - 1e-4)
    temp = float(ctx.hparams.get("ensemble_temp", 1.0))
    logit = np.log(p / (1 - p)) / temp
    return (1 / (1 + np.exp(-logit))).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    result = ctx.fit(_ensemble_labels(ctx))
    ctx.write_predictions("final", result.eval_preds[result.history[-1]["step"]])
