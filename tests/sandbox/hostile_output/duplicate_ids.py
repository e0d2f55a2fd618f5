"""HOSTILE OUTPUT: the first id twice."""

import json


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}).encode() for row in ctx.data["eval"]]
    lines.append(lines[0])
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "final.jsonl").write_bytes(b"\n".join(lines) + b"\n")
