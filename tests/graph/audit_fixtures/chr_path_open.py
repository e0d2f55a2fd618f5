"""BYPASS open via a name: the builtin open, never called by its own name, on a chr(47)-built path."""

import numpy as np


def train(ctx):
    reader = open
    slash = chr(47)
    rows = reader(slash + "data" + slash + "seed_0" + slash + "weak_train" + chr(46) + "jsonl").read()
    ctx.write_predictions("final", np.full(ctx.n("eval"), 0.5 + 0.0 * len(rows)))
