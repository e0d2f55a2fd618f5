"""Product loss (EleutherAI w2s): the target is proportional to weak_p^alpha * strong_p^beta (strong
detached), so the student follows the weak labels where it is unsure and keeps its own view where it is
confident. beta warms up from 0 over the first `product_warmup` of training."""

import torch

SPACE = {"product_alpha": {"low": 0.5, "high": 1.0}, "product_beta": {"low": 0.25, "high": 1.0}}


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    a = float(ctx.hparams.get("product_alpha", 1.0))
    b_max = float(ctx.hparams.get("product_beta", 1.0))
    warmup = float(ctx.hparams.get("product_warmup", 0.2))
    b = b_max * min(1.0, progress / warmup) if warmup > 0 else b_max
    eps = 1e-6
    weak = torch.stack([1 - weak_p, weak_p], dim=1).clamp_min(eps)
    strong = torch.softmax(logits, dim=1).detach().clamp_min(eps)
    target = weak**a * strong**b
    target = target / target.sum(dim=1, keepdim=True)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)
