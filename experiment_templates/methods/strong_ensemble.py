"""An ensemble of strong students: `ens_members` students on the weak labels, each on its own bootstrap
resample of w2s_train (Poisson(1) example weights), their predictions averaged. Averaging students that
saw different resamples cancels part of what each one memorised of the weak labels' errors.

Sources: bagging (Breiman 1996, "Bagging Predictors", https://doi.org/10.1007/BF00058655) and deep
ensembles (Lakshminarayanan et al. 2017, https://arxiv.org/abs/1612.01474). The student's seed is fixed
by the runner, so members differ by their resample. The PGR curve is over the number of members.
"""

import numpy as np
import torch

SPACE = {"ens_members": {"choices": [3, 5, 8]}}


def member_weights(n: int, seed: int, member: int) -> np.ndarray:
    """Poisson(1) bootstrap weights for one member (an example drawn k times weighs k; 0 drops it)."""
    return np.random.default_rng([seed, 31, member]).poisson(1.0, n).astype(np.float32)


def loss(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx) -> torch.Tensor:
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def train(ctx) -> None:
    total = np.zeros(ctx.n("eval"), dtype=np.float64)
    members = int(ctx.hparams.get("ens_members", 5))
    for k in range(members):
        student = ctx.fit(weights=member_weights(ctx.n("w2s_train"), ctx.seed, k), record=False)
        total += ctx.predict(student.model, "eval")
        ctx.write_predictions(k + 1, total / (k + 1))
    ctx.write_predictions("final", total / members)
