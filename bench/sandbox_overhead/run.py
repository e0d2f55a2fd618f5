"""Per-job overhead of the sandboxes: the same tiny experiment bare, in bwrap and in Docker.

    python bench/sandbox_overhead/run.py --runs 5

Writes a Markdown table to bench/sandbox_overhead/README.md. "bare" is a plain `subprocess.run` of the
command on host paths; the sandboxes add their setup, limits, /out staging and copy back.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aar.sandbox.base import Job, Sandbox
from aar.sandbox.bwrap import BwrapSandbox
from aar.sandbox.docker import DockerSandbox

HERE = Path(__file__).resolve().parent
EXPERIMENTS = {
    # python start-up only: isolates what the sandbox itself costs
    "noop": "import sys\n",
    # import torch, train a linear head on 2,000 x 64 features for 200 steps, write predictions
    "tiny-torch": """
import json, os, sys
import torch
torch.manual_seed(0); torch.set_num_threads(1)
x = torch.randn(2000, 64); y = (x[:, 0] > 0).float()
head = torch.nn.Linear(64, 1); opt = torch.optim.Adam(head.parameters(), lr=0.01)
for _ in range(200):
    opt.zero_grad()
    torch.nn.functional.binary_cross_entropy_with_logits(head(x).squeeze(1), y).backward()
    opt.step()
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(f"{out}/seed_0/predictions", exist_ok=True)
with open(f"{out}/seed_0/predictions/final.jsonl", "w") as f:
    for i, p in enumerate(torch.sigmoid(head(x[:100])).squeeze(1).tolist()):
        f.write(json.dumps({"id": str(i), "p": p}) + "\\n")
""",
}


def make_job(root: Path, script: str, index: int) -> Job:
    code, data = root / "code", root / "data"
    code.mkdir(parents=True, exist_ok=True)
    data.mkdir(exist_ok=True)
    (code / "runner.py").write_text(script)
    for path in (root, code, data, code / "runner.py"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return Job(code, data, root / f"out{index}", timeout_s=300, memory_mb=2048, trusted=True)


def time_bare(job: Job) -> float:
    job.out_dir.mkdir()
    argv = [
        sys.executable,
        str(job.code_dir / "runner.py"),
        "--data",
        str(job.data_dir),
        "--out",
        str(job.out_dir),
    ]
    started = time.monotonic()
    subprocess.run(argv, check=True, env={"PATH": os.environ["PATH"], "HOME": "/tmp"})
    return time.monotonic() - started


def time_sandbox(sandbox: Sandbox, job: Job) -> float:
    started = time.monotonic()
    result = sandbox.run(job)
    elapsed = time.monotonic() - started
    if not result.ok:
        raise SystemExit(f"{sandbox.name} failed: {result}")
    return elapsed


def measure(runs: int) -> dict[str, dict[str, list[float]]]:
    runners: dict[str, object] = {"bare": None, "bwrap": BwrapSandbox(), "docker": DockerSandbox()}
    times: dict[str, dict[str, list[float]]] = {}
    root = Path(tempfile.mkdtemp(prefix="aar-bench-", dir="/tmp"))
    root.chmod(0o755)
    try:
        for exp, script in EXPERIMENTS.items():
            times[exp] = {name: [] for name in runners}
            for i in range(runs + 1):  # run 0 warms the page cache and is dropped
                for name, sandbox in runners.items():
                    job = make_job(root / exp / name, script, i)
                    t = time_bare(job) if sandbox is None else time_sandbox(sandbox, job)  # type: ignore[arg-type]
                    if i:
                        times[exp][name].append(t)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return times


def table(times: dict[str, dict[str, list[float]]], runs: int) -> str:
    lines = [
        "| experiment | runner | median s | min s | overhead vs bare s | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for exp, by_runner in times.items():
        bare = statistics.median(by_runner["bare"])
        for name, ts in by_runner.items():
            med = statistics.median(ts)
            lines.append(
                f"| {exp} | {name} | {med:.2f} | {min(ts):.2f} | {med - bare:+.2f} | {med / bare:.2f}x |"
            )
    return "\n".join(lines) + f"\n\n{runs} timed runs per cell (after one warm-up run), medians.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", default=str(HERE / "README.md"))
    args = parser.parse_args()
    times = measure(args.runs)
    body = table(times, args.runs)
    print(body)
    Path(args.write).write_text(README.format(table=body, raw=json.dumps(times, indent=1)))


README = """# Sandbox overhead

Command (from the repository root, as root, with `dockerd` running and `aar sandbox build` done):

    python bench/sandbox_overhead/run.py --runs 5

The same experiment run bare (`subprocess.run`), under `BwrapSandbox` and under `DockerSandbox`
(image `aar-sandbox:cpu`, host environment bind-mounted read-only). Machine: 2 CPU cores, no GPU.

{table}
Target (issue 3): Docker adds ≤ 1 s per job and ≤ 3 % of a probe-template experiment. The fixed cost is
the container's create/start/wait/remove plus the per-job tmpfs for /out; a probe-template job embeds
and trains for minutes, so the same fixed cost is a small fraction of it.

<details><summary>raw seconds</summary>

```
{raw}
```
</details>
"""

if __name__ == "__main__":
    main()
