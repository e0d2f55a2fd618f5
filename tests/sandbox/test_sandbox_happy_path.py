"""A small real experiment (torch, seeded) gives the same predictions and score in every sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aar.sandbox.base import Job, Status
from aar.sandbox.local import LocalSandbox
from aar.w2s.predictions import read_predictions

RUNNER = """
import argparse, json, os
import numpy as np, torch
parser = argparse.ArgumentParser(); parser.add_argument("--data"); parser.add_argument("--out")
args = parser.parse_args()
torch.manual_seed(0); torch.set_num_threads(1)
d = np.load(os.path.join(args.data, "seed_0", "features.npz"))
x, weak_p, x_eval = (torch.tensor(d[k], dtype=torch.float32) for k in ("x", "weak_p", "x_eval"))
head = torch.nn.Linear(x.shape[1], 1)
opt = torch.optim.SGD(head.parameters(), lr=0.5)
for _ in range(50):
    opt.zero_grad()
    torch.nn.functional.binary_cross_entropy_with_logits(head(x).squeeze(1), weak_p).backward()
    opt.step()
p = torch.sigmoid(head(x_eval).squeeze(1)).tolist()
ids = [json.loads(line)["id"] for line in open(os.path.join(args.data, "seed_0", "eval.jsonl"))]
os.makedirs(os.path.join(args.out, "seed_0", "predictions"))
with open(os.path.join(args.out, "seed_0", "predictions", "final.jsonl"), "w") as f:
    for i, pi in zip(ids, p):
        f.write(json.dumps({"id": i, "p": pi}) + "\\n")
"""


def _experiment(root: Path) -> tuple[Job, dict[str, int]]:
    rng = np.random.default_rng(0)
    w = rng.normal(size=8)
    x, x_eval = rng.normal(size=(200, 8)), rng.normal(size=(50, 8))
    weak_p = 1 / (1 + np.exp(-(x @ w + rng.normal(scale=2.0, size=200))))
    labels = {f"e{i}": int(v > 0) for i, v in enumerate(x_eval @ w)}
    (root / "code").mkdir(parents=True)
    (root / "code" / "runner.py").write_text(RUNNER)
    seed = root / "data" / "seed_0"
    seed.mkdir(parents=True)
    np.savez(seed / "features.npz", x=x, weak_p=weak_p, x_eval=x_eval)
    (seed / "eval.jsonl").write_text("".join(json.dumps({"id": i}) + "\n" for i in labels))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    job = Job(root / "code", root / "data", root / "out", timeout_s=120, memory_mb=1024, trusted=True)
    return job, labels


def _score(job: Job, labels: dict[str, int]) -> float:
    preds = read_predictions(job.out_dir / "seed_0/predictions/final.jsonl", labels)
    return sum((preds[i] > 0.5) == bool(y) for i, y in labels.items()) / len(labels)


@pytest.mark.parametrize(
    "kind",
    [
        "local",
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
    ],
)
def test_same_score_in_every_sandbox(kind: str, workdir: Path, request: pytest.FixtureRequest) -> None:
    sandbox = LocalSandbox() if kind == "local" else request.getfixturevalue(f"{kind}_sandbox")
    job, labels = _experiment(workdir / kind)
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    reference, _ = _experiment(workdir / "reference")
    assert LocalSandbox().run(reference).ok
    assert _score(job, labels) == _score(reference, labels) > 0.6
    got = read_predictions(job.out_dir / "seed_0/predictions/final.jsonl", labels)
    want = read_predictions(reference.out_dir / "seed_0/predictions/final.jsonl", labels)
    assert all(abs(got[i] - want[i]) < 1e-6 for i in labels)
