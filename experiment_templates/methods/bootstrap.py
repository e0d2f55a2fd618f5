"""Bootstrapping through an intermediate rung: train the intermediate model on the weak labels, relabel
w2s_train with its (hopefully better) predictions, then train the strong model on those labels."""

import torch

REQUIRES = {"intermediate": True}
SPACE = {"relabel_mix": {"low": 0.0, "high": 0.5}}


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    labels = ctx.weak_p()
    for role in [r for r in ctx.roles if r.startswith("intermediate")]:
        mid = ctx.fit(labels, role=role, record=False)
        relabeled = ctx.predict(mid.model, "w2s_train", role=role)
        mix = float(ctx.hparams.get("relabel_mix", 0.0))
        labels = (1 - mix) * relabeled + mix * ctx.weak_p()
        ctx.log(event="relabel", role=role, agreement=float(((labels > 0.5) == (ctx.weak_p() > 0.5)).mean()))
    result = ctx.fit(labels)
    ctx.write_predictions("final", result.eval_preds[result.history[-1]["step"]])
