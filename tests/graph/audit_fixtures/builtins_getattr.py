"""BYPASS getattr(__builtins__, ...): fetch open from the builtins table without naming it in a call."""

import numpy as np


def train(ctx):
    table = __builtins__
    fetch = getattr
    opener = table["op" + "en"] if isinstance(table, dict) else fetch(table, "op" + "en")
    size = len(opener(chr(47) + "etc" + chr(47) + "hostname").read())
    ctx.write_predictions("final", np.full(ctx.n("eval"), 0.5 + 0.0 * size))
