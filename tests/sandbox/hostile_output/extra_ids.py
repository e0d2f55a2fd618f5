"""HOSTILE OUTPUT: an id the host did not ask for."""

import json


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}).encode() for row in ctx.data["eval"]]
    lines.append(json.dumps({"id": "not-an-eval-id", "p": 0.5}).encode())
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "final.jsonl").write_bytes(b"\n".join(lines) + b"\n")
