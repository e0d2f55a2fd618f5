"""HOSTILE OUTPUT: p is the JSON literal true."""

import json


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}).encode() for row in ctx.data["eval"]]
    lines[0] = json.dumps({"id": ctx.data["eval"][0]["id"], "p": True}).encode()
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "final.jsonl").write_bytes(b"\n".join(lines) + b"\n")
