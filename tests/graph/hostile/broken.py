"""ATTACK broken output: predictions that are not probabilities (NaN and out-of-range values)."""

import numpy as np


def train(ctx):
    p = np.full(ctx.n("eval"), float("nan"))
    p[::2] = 1e308
    ctx.write_predictions("final", p)
