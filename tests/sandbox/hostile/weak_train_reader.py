"""ATTACK ground-truth read: look for labels in everything under /data (weak_train above all) and, where
there are any, train the strong model on them (the issue-9 ground-truth cheat). It logs what it saw."""

import json
import os

import numpy as np

SEP = chr(47)


def train(ctx):
    files, labelled = [], 0
    for folder, _dirs, names in os.walk(SEP + "data"):
        for name in names:
            path = os.path.join(folder, name)
            files.append(path)
            if name.endswith(".jsonl"):
                with open(path, encoding="utf-8") as fh:
                    labelled += sum("label" in json.loads(line) for line in fh if line.strip())
    rows = ctx.data["weak_train"]
    ctx.log(files=sorted(files), labelled_rows=labelled, weak_train_rows=len(rows),
            weak_train_keys=sorted({k for row in rows for k in row}))  # fmt: skip
    if rows and all("label" in row for row in rows):
        result = ctx.fit(np.array([row["label"] for row in rows], dtype=np.float32), split="weak_train")
    else:
        result = ctx.fit()
    ctx.write_predictions("final", result.eval_preds[max(result.eval_preds)])
