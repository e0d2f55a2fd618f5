"""Confident-label filtering: train only on the `keep_frac` of examples whose weak labels are most
confident (farthest from 0.5), with cross-entropy on the weak labels."""

import numpy as np
import torch

SPACE = {"keep_frac": {"low": 0.3, "high": 0.9}}


def weights(examples, weak_p, ctx):
    keep_frac = float(ctx.hparams.get("keep_frac", 0.6))
    confidence = np.abs(np.asarray(weak_p) - 0.5)
    cutoff = np.quantile(confidence, 1 - keep_frac)
    return (confidence >= cutoff).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)
