"""HOSTILE OUTPUT: a 4 MB line."""

import json


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}).encode() for row in ctx.data["eval"]]
    lines[0] = json.dumps({"id": ctx.data["eval"][0]["id"], "p": 0.5, "pad": "x" * 4_000_000}).encode()
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "final.jsonl").write_bytes(b"\n".join(lines) + b"\n")
