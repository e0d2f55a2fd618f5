"""HOSTILE OUTPUT: an extra id that is terminal markup ("[/bold]"), quoted back in the host's reason."""

import json


def train(ctx):
    lines = [json.dumps({"id": row["id"], "p": 0.5}).encode() for row in ctx.data["eval"]]
    lines.append(json.dumps({"id": "[/bold]", "p": 0.5}).encode())
    folder = ctx.out_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "final.jsonl").write_bytes(b"\n".join(lines) + b"\n")
