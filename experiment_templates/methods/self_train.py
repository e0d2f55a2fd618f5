"""Strong-model self-training rounds: train on the weak labels, then relabel the examples the strong
model is most confident about with its own hardened predictions (the rest keep their weak labels) and
train a fresh student on the corrected labels; repeat for `st_rounds` rounds.

Sources: pseudo-label correction in Lang, Sontag & Vijayaraghavan 2024, "Theoretical Analysis of
Weak-to-Strong Generalization" (https://arxiv.org/abs/2405.16043), the student corrects weak labels where
it is confident; and the bootstrapping / self-training variants of Burns et al. 2023
(https://arxiv.org/abs/2312.09390). Hardening thresholds at the (1 - prior) quantile of the student's
predictions so the relabelled set keeps a label-free class prior (`prior`, as in aux_conf).
"""

import numpy as np
import torch

SPACE = {
    "st_rounds": {"choices": [1, 2, 3]},
    "st_frac": {"low": 0.2, "high": 0.9},
    "prior": {"choices": ["weak_rate", "calibrated_mean", "fixed"]},
    "prior_value": {"low": 0.1, "high": 0.9},
}


def relabel(strong_p: np.ndarray, weak_p: np.ndarray, prior: float, frac: float) -> np.ndarray:
    """Weak labels, with the `frac` most confident examples replaced by the student's hardened label."""
    threshold = np.quantile(strong_p, 1 - prior) if 0 < prior < 1 else 0.5
    eps = 1e-6
    q, t = np.clip(strong_p, eps, 1 - eps), min(max(threshold, eps), 1 - eps)
    margin = np.abs(np.log(q / (1 - q)) - np.log(t / (1 - t)))
    confident = np.zeros(len(margin), dtype=bool)
    confident[np.argsort(-margin, kind="stable")[: round(frac * len(margin))]] = True
    hard = (strong_p >= threshold).astype(np.float32)
    return np.where(confident, hard, weak_p).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    weak = ctx.weak_p()
    labels, prior = weak, ctx.class_prior()
    frac = float(ctx.hparams.get("st_frac", 0.5))
    for r in range(int(ctx.hparams.get("st_rounds", 2))):
        student = ctx.fit(labels, record=False)
        labels = relabel(ctx.predict(student.model, "w2s_train"), weak, prior, frac)
        ctx.log(event="relabel", round=r, changed=float(((labels > 0.5) != (weak > 0.5)).mean()))
    result = ctx.fit(labels)
    ctx.write_predictions("final", result.eval_preds[result.history[-1]["step"]])
