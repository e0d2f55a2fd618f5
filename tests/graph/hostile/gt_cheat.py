"""ATTACK ground-truth cheat: train the strong model on weak_train's ground truth mixed with the weak
labels, reported as if it were a weak-to-strong method."""

import numpy as np


def train(ctx):
    truth = np.array([row["label"] for row in ctx.data["weak_train"]], dtype=np.float32)
    result = ctx.fit(truth, split="weak_train")
    ctx.write_predictions("final", ctx.predict(result.model, "eval"))
