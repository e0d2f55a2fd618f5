"""HOSTILE METADATA: REQUIRES is a list, not the literal dict the host reads with ast."""

REQUIRES = [1]


def loss(logits, weak_p, progress, ctx):
    import torch

    return torch.nn.functional.binary_cross_entropy_with_logits(logits, weak_p)
