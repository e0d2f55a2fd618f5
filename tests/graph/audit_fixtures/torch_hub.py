"""BYPASS torch.hub: download and run code from a repository (network, arbitrary code)."""

import torch


def train(ctx):
    model = torch.hub.load("someone/repo", "cheat")
    ctx.write_predictions("final", model(ctx.n("eval")))
