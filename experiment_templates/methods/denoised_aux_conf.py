"""A combination: aux-conf (Burns et al. 2023, https://arxiv.org/abs/2312.09390) trained over
ensemble-denoised weak labels. The labels are first the weak ensemble's mean (the host's weak supervisor
and its resampled members, as in weak_ensemble), then smoothed with their `knn_k` nearest neighbours in
the strong backbone's embedding space (as in knn_denoise, after Bahri et al. 2020,
https://arxiv.org/abs/2004.12289); the student then mixes them with its own hardened predictions,
thresholded at a label-free prior (`prior`, as in aux_conf). Needs frozen embeddings (probe template).
"""

import numpy as np
import torch

SPACE = {
    "aux_alpha": {"low": 0.25, "high": 1.0},
    "knn_k": {"choices": [5, 10, 20, 50]},
    "knn_mix": {"low": 0.0, "high": 1.0},
    "prior": {"choices": ["weak_rate", "calibrated_mean", "fixed"]},
    "prior_value": {"low": 0.1, "high": 0.9},
}


def denoised_labels(ctx) -> np.ndarray:
    """The weak ensemble's mean label, mixed with its neighbours' mean by `knn_mix`."""
    ensemble = np.concatenate([ctx.weak_p()[:, None], ctx.weak_members()], axis=1).mean(axis=1)
    k, mix = int(ctx.hparams.get("knn_k", 20)), float(ctx.hparams.get("knn_mix", 0.5))
    smoothed = ctx.neighbour_mean(ensemble, k)
    return ((1 - mix) * ensemble + mix * smoothed).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    alpha_max = float(ctx.hparams.get("aux_alpha", 0.75))
    warmup = float(ctx.hparams.get("aux_warmup", 0.2))
    alpha = alpha_max * min(1.0, progress / warmup) if warmup > 0 else alpha_max
    p = torch.softmax(logits, dim=1)[:, 1].detach()
    prior = ctx.class_prior()
    threshold = torch.quantile(p, 1 - prior) if 0 < prior < 1 else torch.tensor(0.5)
    target_p = (1 - alpha) * weak_p + alpha * (p >= threshold).float()
    target = torch.stack([1 - target_p, target_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    result = ctx.fit(denoised_labels(ctx), loss_fn=loss)
    ctx.write_predictions("final", result.eval_preds[result.history[-1]["step"]])
