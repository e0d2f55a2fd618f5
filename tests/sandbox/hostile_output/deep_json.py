"""HOSTILE OUTPUT: p is 200,000 nested arrays."""

import json


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}).encode() for row in ctx.data["eval"]]
    lines[0] = b'{"id": %s, "p": %s}' % (
        json.dumps(ctx.data["eval"][0]["id"]).encode(),
        b"[" * 200_000 + b"]" * 200_000,
    )
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "final.jsonl").write_bytes(b"\n".join(lines) + b"\n")
