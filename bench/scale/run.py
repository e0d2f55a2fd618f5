"""The same experiments on 1 local worker vs 2 Ray workers: wall time ratio and identical results.

    python bench/scale/run.py --experiments 24

Runs a fixed list of library-method configurations (probe template, static64→MiniLM-L6, Rotten
Tomatoes) twice: one at a time on the local executor (one slot), then on a throwaway Ray cluster on this
machine (a head with no CPUs for jobs and two one-CPU worker nodes, two jobs in flight). Jobs are
CPU-bound with one torch thread each; both sides use the same sandbox (`--sandbox`, default the local
runner: library code only). Writes bench/scale/README.md with the date, the wall times, their ratio and
whether every configuration's scores are identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aar.config import REPO_ROOT, Settings
from aar.executors.local_cluster import local_cluster
from aar.executors.ray_cluster import NodeSandbox, RayExecutor
from aar.sandbox import select_sandbox
from aar.scheduler import Limits, sandbox_runner
from aar.w2s.baselines import ceiling, weak_labels
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template

HERE = Path(__file__).resolve().parent
TEMPLATES = REPO_ROOT / "experiment_templates"
# (method, hparams) cycled to the number of experiments asked for; lr varies so configurations differ.
GRID: list[tuple[str, dict[str, Any]]] = [
    (method, {"lr": lr, "epochs": 2})
    for lr in (0.001, 0.002, 0.003, 0.005, 0.01, 0.02)
    for method in ("naive", "weak_ensemble", "bootstrap", "product")
]


def specs(setup: Setup, count: int, seeds: list[int]) -> list[ExperimentSpec]:
    """The first `count` configurations of GRID (cycled), one torch thread each."""
    out = []
    for i in range(count):
        method, hparams = GRID[i % len(GRID)]
        path = TEMPLATES / "methods" / f"{method}.py"
        out.append(ExperimentSpec(setup, path, method, seeds, dict(hparams), eval_splits=("dev",), threads=1))
    return out


def scores(result: ExperimentResult) -> str:
    """A configuration's result as compared across executors: status, error and per-seed dev scores."""
    data = result.to_json()
    return json.dumps([result.status, result.error, data["per_seed"]], sort_keys=True)


def run_local(todo: list[ExperimentSpec], sandbox: str) -> tuple[float, list[ExperimentResult]]:
    choice = select_sandbox(sandbox, unsafe_local=True)
    runner = sandbox_runner(choice.sandbox, choice.kind, Limits(cpus=1.0), trusted=choice.kind == "local")
    started = time.monotonic()
    results = [run_experiment(spec, runner) for spec in todo]
    return time.monotonic() - started, results


def run_ray(
    todo: list[ExperimentSpec], sandbox: str, workers: int
) -> tuple[float, list[ExperimentResult], int]:
    with local_cluster(head_cpus=0, worker_cpus=(1,) * workers):
        executor = RayExecutor(NodeSandbox(sandbox, unsafe_local=True), num_cpus=1)
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda s: run_experiment(s, executor.runner_for(())), todo))
        took = time.monotonic() - started
    return took, results, len(set(executor.placements))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--sizes", default="weak_train=200,w2s_train=800,dev=200,test=400")
    parser.add_argument("--sandbox", default="local", help="local | bwrap | docker (both executors)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", default=str(HERE / "README.md"))
    args = parser.parse_args()
    setup = Setup("rotten_tomatoes", parse_pair("static64→minilm-l6"), get_template("probe", TEMPLATES),
                  sizes=SplitSizes.parse(args.sizes), cache_dir=Settings().cache_dir)  # fmt: skip
    seeds = list(range(args.seeds))
    for seed in seeds:  # embeddings and baselines once, before either clock starts
        weak_labels(setup, seed), ceiling(setup, seed)
    todo = specs(setup, args.experiments, seeds)
    load_before = os.getloadavg()[0]
    local_s, local = run_local(todo, args.sandbox)
    ray_s, remote, nodes = run_ray(todo, args.sandbox, args.workers)
    same = sum(scores(a) == scores(b) for a, b in zip(local, remote, strict=True))
    ok = sum(r.status == "ok" for r in remote)
    row = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "experiments": len(todo),
        "seeds": args.seeds, "sizes": args.sizes, "sandbox": args.sandbox, "cores": os.cpu_count(),
        "local_1_worker_s": round(local_s, 1), f"ray_{args.workers}_workers_s": round(ray_s, 1),
        "ratio": round(ray_s / local_s, 2), "identical": f"{same}/{len(todo)}", "ray_ok": ok, "ray_nodes_used": nodes,
        "load_1m_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }  # fmt: skip
    print(json.dumps(row, indent=1))
    Path(args.write).write_text(README.format(row=json.dumps(row, indent=1), **row))


README = """# Scale: 1 local worker vs 2 Ray workers

Command (from the repository root, Ray installed: `pip install -e '.[ray]'`):

    python bench/scale/run.py --experiments 24

The same experiments (library methods × learning rates, probe template, static64→MiniLM-L6 on Rotten
Tomatoes, one torch thread per job) run one at a time on the local executor, then on a throwaway Ray
cluster on this machine: a head that runs no jobs and two one-CPU worker nodes (`ray start`), two jobs in
flight; each job's /code, /data and /out go through Ray's object store and the host scores every job.

Target (issue 13): wall time ratio ≤ 0.6, identical results per configuration.

Last run ({date}): {experiments} experiments, {seeds} seed(s), sizes `{sizes}`, sandbox `{sandbox}`,
{cores} cores: local {local_1_worker_s} s, Ray {ratio}× of that; identical results {identical}.

```
{row}
```

`load_1m_before_after` is the machine's 1-minute load average before and after (other work on it
slows both sides, not always equally). On this machine the two Ray workers share 2 cores with the head's processes (GCS, raylet), this
benchmark's host process and whatever else runs, so the ratio here is noisy; on two real nodes the
jobs do not compete for cores.
"""

if __name__ == "__main__":
    main()
