"""A throwaway Ray cluster on this machine: a head and worker nodes, each a `ray start --block` process
in its own process group, so it can be ended (or one node killed) without touching any other Ray.

For the executor's tests and bench/scale; a real cluster is started by its operator (README, "The Ray
executor").
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ray

from aar.errors import InfraError
from aar.executors.ray_cluster import RaySettings, connect

# Lost nodes detected in seconds (Ray's default is about 30 s); no usage reporting.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # A throwaway cluster on 127.0.0.1 runs without token auth. Left unset, Ray turns token auth on as
    # soon as ~/.ray/auth_token exists (any earlier `ray.init()` on this host writes one), and a worker
    # started with `ray start --address` then fails to join: "InvalidAuthToken: ... missing".
    "RAY_AUTH_MODE": "disabled",
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}
OBJECT_STORE_BYTES = 100 * 1024 * 1024
START_TIMEOUT_S = 180.0


@dataclass
class LocalCluster:
    """The running cluster: its address, its processes, and the node id of each (head first)."""

    address: str
    temp: Path
    head: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    head_id: str = ""
    worker_ids: list[str] = field(default_factory=list)

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker node `index` and everything it started (a node lost mid-job)."""
        os.killpg(self.workers[index].pid, signal.SIGKILL)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_start(args: list[str], cpus: int, log: Path) -> subprocess.Popen[bytes]:
    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    command = [ray_bin, "start", "--block", "--disable-usage-stats", "--num-cpus", str(cpus)]
    command += ["--object-store-memory", str(OBJECT_STORE_BYTES), "--node-ip-address", "127.0.0.1", *args]
    jobs = log.parent / "jobs"  # the nodes' job folders (TMPDIR): a killed node's go with the cluster
    jobs.mkdir(mode=0o755, exist_ok=True)
    env = {**os.environ, **RAY_ENV, "TMPDIR": str(jobs)}
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def alive_nodes() -> list[str]:
    """Ids of the nodes the cluster sees alive."""
    return sorted(str(n["NodeID"]) for n in ray.nodes() if n["Alive"])


def _wait(ready: bool, deadline: float, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if ready:
        return True
    if time.monotonic() > deadline or proc.poll() is not None:
        tail = log.read_text(errors="replace")[-1000:] if log.exists() else ""
        raise InfraError(f"local Ray node did not start: {' '.join(tail.split())[-300:]}")
    time.sleep(1)
    return False


@contextmanager
def local_cluster(head_cpus: int = 1, worker_cpus: tuple[int, ...] = (1,)) -> Iterator[LocalCluster]:
    """Start a head (`head_cpus` CPUs) and one worker node per entry of `worker_cpus`, connect this
    process to it, and tear everything down (processes, temp folder) when the block ends.

    Raises:
        InfraError: a node did not come up within START_TIMEOUT_S.
    """
    saved_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = RAY_ENV["RAY_AUTH_MODE"]  # this process connects as its nodes do
    temp = Path(tempfile.mkdtemp(prefix="aar-ray-", dir="/tmp"))  # short: Ray's socket paths must fit
    temp.chmod(0o755)  # job folders below it must be reachable by a sandbox's user
    address = f"127.0.0.1:{free_port()}"
    port = address.split(":")[1]
    head_args = ["--head", "--port", port, "--temp-dir", str(temp), "--include-dashboard=false"]
    cluster = LocalCluster(address, temp, _ray_start(head_args, head_cpus, temp / "head.log"))
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not _wait(_try_connect(address), deadline, cluster.head, temp / "head.log"):
            pass
        cluster.head_id = ray.get_runtime_context().get_node_id()
        for i, cpus in enumerate(worker_cpus):
            log = temp / f"worker{i}.log"
            cluster.workers.append(_ray_start(["--address", address], cpus, log))
            while not _wait(len(alive_nodes()) >= i + 2, deadline, cluster.workers[-1], log):
                pass
            known = {cluster.head_id, *cluster.worker_ids}
            cluster.worker_ids.append(next(n for n in alive_nodes() if n not in known))
        yield cluster
    finally:
        ray.shutdown()
        for proc in (*cluster.workers, cluster.head):
            _stop(proc)
        _unmount_below(temp)
        shutil.rmtree(temp, ignore_errors=True)
        if saved_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_mode


def _unmount_below(root: Path) -> None:
    """Lazily unmount what a killed node left mounted under `root` (a job's size-capped /out tmpfs)."""
    mounts = Path("/proc/self/mounts")
    lines = mounts.read_text().splitlines() if mounts.exists() else []
    for point in sorted({line.split()[1] for line in lines if len(line.split()) > 1}, reverse=True):
        if point.startswith(f"{root}/"):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def _try_connect(address: str) -> bool:
    try:
        connect(RaySettings(address=address))
    except InfraError:
        return False
    return True
