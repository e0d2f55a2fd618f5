"""The Ray executor on a real two-node cluster on this machine (a head and a second worker process, one
CPU each): jobs run on both nodes and score exactly as on the local executor, hostile output is refused
by the host's strict reader as locally, and a node killed mid-job ends its job `interrupted`, which the
study's runtime runs once more on the node that is left.

One cluster per module (Ray starts slowly); the lost-node test kills the worker, so it runs last.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aar.config import REPO_ROOT, Settings
from aar.errors import InfraError
from aar.graph.study import build_runtime
from aar.scheduler import local_runner_factory
from aar.store import StudyCreate, create_study
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template
from tests.graph.conftest import Events, study_config

# Ray is a dev dependency: under CI=true (bin/test's default) a missing Ray fails collection, never skips.
ray = importlib.import_module("ray") if os.environ.get("CI") == "true" else pytest.importorskip("ray")
from aar.executors.local_cluster import LocalCluster, local_cluster  # noqa: E402 - once Ray is there
from aar.executors.ray_cluster import NodeSandbox, RayExecutor, pack, unpack  # noqa: E402

pytestmark = pytest.mark.slow
TINY = SplitSizes(weak_train=48, w2s_train=96, dev=32, test=32)
TEMPLATES = REPO_ROOT / "experiment_templates"
HOSTILE = Path(__file__).parents[1] / "sandbox" / "hostile_output"
LOCAL = NodeSandbox("local", unsafe_local=True)
SLOW_S = 20  # how long the lost-node test's jobs sleep before training


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A Ray head and a second worker node, 1 CPU each, started by `ray start` (torn down after)."""
    with local_cluster(head_cpus=1, worker_cpus=(1,)) as c:
        yield c


def _spec(setup: Setup, method: Path, name: str) -> ExperimentSpec:
    return ExperimentSpec(setup, method, name, [0], {"epochs": 1}, eval_splits=("dev",), threads=1)


def _scores(result: ExperimentResult) -> list[dict[str, object]]:
    data = result.to_json()
    return [{k: v for k, v in row["dev"].items()} for row in data["per_seed"]]


def test_job_folders_cannot_leave_their_root(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_bytes(b"x")
    assert pack(tmp_path) == {"a/b/f.txt": b"x"}
    for bad in ("../escape", "/etc/passwd", "a/../../escape", ""):
        with pytest.raises(InfraError):
            unpack({bad: b"x"}, tmp_path / "out")
    (tmp_path / "link").symlink_to("/etc/passwd")
    with pytest.raises(InfraError):
        pack(tmp_path)


def test_jobs_run_on_both_nodes_and_score_as_on_the_local_executor(cluster: LocalCluster, shared_cache: Path):
    setup = Setup("rotten_tomatoes", parse_pair("static64→minilm-l6"), get_template("probe", TEMPLATES),
                  sizes=TINY, cache_dir=shared_cache, baseline_hparams={"epochs": 1})  # fmt: skip
    specs = [
        _spec(setup, TEMPLATES / "methods" / "naive.py", "naive"),
        _spec(setup, TEMPLATES / "methods" / "weak_ensemble.py", "weak_ensemble"),
        _spec(setup, HOSTILE / "nan.py", "hostile-nan"),
    ]
    executor = RayExecutor(LOCAL, num_cpus=1)
    with ThreadPoolExecutor(len(specs)) as pool:
        remote = list(pool.map(lambda s: run_experiment(s, executor.runner_for(())), specs))
    local = [run_experiment(s, local_runner_factory()(())) for s in specs]
    assert sorted(set(executor.placements)) == sorted({cluster.head_id, *cluster.worker_ids})
    for r, here in zip(remote, local, strict=True):
        assert (r.status, r.error) == (here.status, here.error)
        assert _scores(r) == _scores(here)
    assert [r.status for r in remote] == ["ok", "ok", "invalid_output"]
    assert remote[0].seed_results[0].splits["dev"].pgr is not None


def test_a_lost_node_interrupts_its_job_which_runs_once_more(
    cluster: LocalCluster, settings: Settings, store, tmp_path: Path
):
    """Two slow jobs fill both nodes; the worker node is killed: its job ends `interrupted` and the
    runtime requeues it once, on the head; both experiments finish ok."""
    config = study_config("ray-lost-node", sizes="weak_train=48,w2s_train=96,dev=32,test=32", seeds=1,
                          executor="ray", parallel=2)  # fmt: skip
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name=config.name, goal="g", task=config.task, pair=config.pair, policy="builtin"))  # fmt: skip
    events = Events()
    rt = build_runtime(config, settings, store, int(study.id or 0), events, None)
    assert rt.sandbox_kind == "ray" and rt.slots == 2
    executor = rt.runner_for.__self__  # type: ignore[attr-defined]
    started = tmp_path / "started"  # each job touches a file here when its method starts (local sandbox)
    started.mkdir()
    slow = tmp_path / "slow.py"
    slow.write_text(f"import pathlib, time\npathlib.Path({str(started)!r}, str(time.time())).touch()\n"
                    f"time.sleep({SLOW_S})\n" + (TEMPLATES / "methods" / "naive.py").read_text())  # fmt: skip
    spec = ExperimentSpec(rt.smoke_setup, slow, "slow", [0], {"epochs": 1}, eval_splits=("dev",), threads=1)
    killed: list[bool] = []  # [both jobs were running when the worker was killed]

    def kill_worker_once_both_run() -> None:
        deadline = time.monotonic() + 120
        while (
            len(marks := sorted(float(p.name) for p in started.iterdir())) < 2 and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        killed.append(len(marks) == 2 and time.time() - marks[0] < SLOW_S - 2)
        cluster.kill_worker(0)

    killer = threading.Thread(target=kill_worker_once_both_run)
    killer.start()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: rt.run(spec), range(2)))
    killer.join()
    assert killed == [True], "the two jobs did not run at the same time (one per node)"
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    requeued = [m for _, m in events.lines if "requeued once" in m]
    assert len(requeued) == 1 and "interrupted: its Ray node was lost" in requeued[0], events.lines
    assert executor.placements == [cluster.head_id, cluster.head_id]
