"""The Ray executor on a real two-node cluster on this machine (a head and a second worker process, one
CPU each): jobs run on both nodes and score exactly as on the local executor, hostile output is refused
by the host's strict reader as locally, and a node killed mid-job ends its job `interrupted`, which the
study's runtime runs once more on the node that is left.

One cluster per module (Ray starts slowly); the lost-node test kills the worker, so it runs last.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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

ray = pytest.importorskip("ray")
from aar.executors.ray_cluster import (  # noqa: E402 - only once Ray is known to be installed
    NodeSandbox,
    RayExecutor,
    RaySettings,
    connect,
    pack,
    unpack,
)

pytestmark = pytest.mark.slow
TINY = SplitSizes(weak_train=48, w2s_train=96, dev=32, test=32)
TEMPLATES = REPO_ROOT / "experiment_templates"
HOSTILE = Path(__file__).parents[1] / "sandbox" / "hostile_output"
LOCAL = NodeSandbox("local", unsafe_local=True)
# Faster lost-node detection than Ray's default (about 30 s), and no usage reporting.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


@dataclass
class Cluster:
    address: str
    head: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    head_id: str
    worker_id: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`ray start ... --block` in its own process group (so the test can end it, and only it)."""
    command = [shutil.which("ray") or "ray", "start", "--block", "--disable-usage-stats", "--num-cpus", "1"]
    command += ["--object-store-memory", str(100 * 1024 * 1024), *args]
    env = {**os.environ, **RAY_ENV}
    return subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _alive_nodes() -> list[str]:
    return sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A Ray head and a second worker node (1 CPU each), attached through AAR_RAY_ADDRESS."""
    temp = Path(tempfile.mkdtemp(prefix="aar-ray-", dir="/tmp"))  # short: Ray's socket paths must fit
    address = f"127.0.0.1:{_free_port()}"
    head = _ray_start(["--head", "--port", address.split(":")[1], "--node-ip-address", "127.0.0.1",
                       "--temp-dir", str(temp), "--include-dashboard=false"], temp / "head.log")  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 120
        connected = False
        while not connected:
            try:
                connect(RaySettings(address=address))
                connected = True
            except InfraError:
                if time.monotonic() > deadline or head.poll() is not None:
                    raise
                time.sleep(2)
        head_id = ray.get_runtime_context().get_node_id()
        worker = _ray_start(["--address", address, "--node-ip-address", "127.0.0.1"], temp / "worker.log")
        while len(_alive_nodes()) < 2:
            assert time.monotonic() < deadline and worker.poll() is None, (temp / "worker.log").read_text()
            time.sleep(1)
        (worker_id,) = set(_alive_nodes()) - {head_id}
        yield Cluster(address, head, worker, head_id, worker_id)
    finally:
        ray.shutdown()
        for proc in (worker, head):
            if proc is not None:
                _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


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


def test_jobs_run_on_both_nodes_and_score_as_on_the_local_executor(cluster: Cluster, shared_cache: Path):
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
    assert sorted(set(executor.placements)) == sorted({cluster.head_id, cluster.worker_id})
    for r, here in zip(remote, local, strict=True):
        assert (r.status, r.error) == (here.status, here.error)
        assert _scores(r) == _scores(here)
    assert [r.status for r in remote] == ["ok", "ok", "invalid_output"]
    assert remote[0].seed_results[0].splits["dev"].pgr is not None


def test_a_lost_node_interrupts_its_job_which_runs_once_more(
    cluster: Cluster, settings: Settings, store, tmp_path: Path
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
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(12)\n" + (TEMPLATES / "methods" / "naive.py").read_text())
    spec = ExperimentSpec(rt.smoke_setup, slow, "slow", [0], {"epochs": 1}, eval_splits=("dev",), threads=1)

    killed = threading.Event()

    def kill_worker_once_both_run() -> None:
        deadline = time.monotonic() + 60
        while ray.available_resources().get("CPU", 0) > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(cluster.worker.pid, signal.SIGKILL)
        killed.set()

    killer = threading.Thread(target=kill_worker_once_both_run)
    killer.start()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: rt.run(spec), range(2)))
    killer.join()
    assert killed.is_set()
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    requeued = [m for _, m in events.lines if "requeued once" in m]
    assert len(requeued) == 1 and "interrupted: its Ray node was lost" in requeued[0], events.lines
    assert executor.placements == [cluster.head_id, cluster.head_id]
