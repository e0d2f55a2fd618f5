"""Auxiliary confidence loss (Burns et al. 2023): mix the weak labels with the strong model's own
hardened predictions, thresholded adaptively so the hardened labels keep the weak labels' class balance;
the mixing weight alpha warms up linearly over the first `aux_warmup` of training."""

import torch

SPACE = {"aux_alpha": {"low": 0.25, "high": 1.0}, "aux_warmup": {"low": 0.0, "high": 0.5}}


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    alpha_max = float(ctx.hparams.get("aux_alpha", 0.75))
    warmup = float(ctx.hparams.get("aux_warmup", 0.2))
    alpha = alpha_max * min(1.0, progress / warmup) if warmup > 0 else alpha_max
    p = torch.softmax(logits, dim=1)[:, 1].detach()
    prior = float(weak_p.mean())
    threshold = torch.quantile(p, 1 - prior) if 0 < prior < 1 else torch.tensor(0.5)
    hard = (p >= threshold).float()
    target_p = (1 - alpha) * weak_p + alpha * hard
    target = torch.stack([1 - target_p, target_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)
