"""HOSTILE OUTPUT: p is a 400-digit number."""

import json


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}).encode() for row in ctx.data["eval"]]
    lines[0] = b'{"id": %s, "p": %s}' % (json.dumps(ctx.data["eval"][0]["id"]).encode(), b"9" * 400)
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "final.jsonl").write_bytes(b"\n".join(lines) + b"\n")
