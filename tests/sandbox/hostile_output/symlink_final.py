"""HOSTILE OUTPUT: final.jsonl is a symlink to a valid file elsewhere (the host must not follow it)."""

import json
import os


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}) for row in ctx.data["eval"]]
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "elsewhere.jsonl").write_text("\n".join(lines) + "\n")
    os.symlink(ctx.out_dir / "elsewhere.jsonl", folder / "final.jsonl")
