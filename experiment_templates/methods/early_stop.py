"""Early stopping by weak-label agreement on dev (label-free, so usable in blind mode): stand behind the
eval step whose dev predictions agree best with the weak labels, after a minimum of `min_progress`."""

import torch

SPACE = {"min_progress": {"low": 0.0, "high": 0.5}}


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def select_step(history, ctx):
    last = history[-1]["step"]
    min_step = float(ctx.hparams.get("min_progress", 0.25)) * last
    candidates = [h for h in history if h["step"] >= min_step] or history
    return max(candidates, key=lambda h: (h["dev_weak_agreement"], h["step"]))["step"]
