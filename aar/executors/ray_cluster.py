"""The Ray executor: each experiment job is a Ray task on a cluster node, run in that node's sandbox.

Job folders travel through Ray's object store as {relative path: bytes}, never through a shared host
path: the host packs /code and /data, the task unpacks them into a fresh folder on its node and runs the
job exactly as the local executor does (`aar.scheduler.sandbox_runner`, with the sandbox the node itself
selects: Docker, bwrap, or the local runner for trusted library code), then returns /out packed the same
way. The host unpacks it into the job's out folder, where the core's strict reader reads the predictions
and the host scores them; nothing a node says about the job's scores is used.

A node lost mid-job (its raylet or worker died, or the job's result went with it) ends the job
`interrupted`; the study's runtime runs it once more (`aar.graph.runtime.Runtime.run`).

Settings (environment): AAR_RAY_ADDRESS (a cluster's address, e.g. `10.0.0.5:6379`; empty: attach to
the Ray this machine runs, else start a local one), AAR_RAY_NUM_CPUS (CPUs per job, default 1),
AAR_RAY_NUM_GPUS (GPUs per job; default 1 when the cluster has any GPU, else 0).
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from pydantic_settings import BaseSettings, SettingsConfigDict

from aar.errors import InfraError, UserError

try:
    import ray
    from ray import exceptions as rex
except ImportError as exc:  # an optional extra: a user error (one line), not a traceback
    raise UserError("--executor ray needs Ray: pip install 'ray>=2.40' (aar's 'ray' extra)") from exc
from aar.sandbox import select_sandbox
from aar.sandbox.base import Sandbox
from aar.sandbox.local import LocalSandbox
from aar.scheduler import DevicePool, Limits, RunnerFactory, sandbox_runner
from aar.w2s.experiment import JobRunner
from aar.w2s.jobs import JobOutcome

log = logging.getLogger(__name__)
Files = dict[str, bytes]  # a job folder: relative POSIX path -> content (regular files only)
# A node lost mid-job: the job did not end by itself, so it is `interrupted` and runs once more.
LOST_NODE: tuple[type[Exception], ...] = (
    rex.NodeDiedError,
    rex.WorkerCrashedError,
    rex.LocalRayletDiedError,
    rex.ObjectLostError,  # incl. OwnerDiedError, ObjectReconstructionFailedError, ObjectFetchTimedOutError
)
INTERRUPTED = "interrupted"


class RaySettings(BaseSettings):
    """Where the cluster is and what each job asks of it (AAR_RAY_ADDRESS, AAR_RAY_NUM_CPUS, ...)."""

    model_config = SettingsConfigDict(env_prefix="AAR_RAY_", extra="ignore")

    address: str = ""  # "" = attach to this machine's Ray (RAY_ADDRESS or a running one), else start one
    num_cpus: float = 1.0
    num_gpus: float | None = None  # None = 1 when the cluster has a GPU, else 0


@dataclass(frozen=True)
class NodeSandbox:
    """What the study asks of a node's sandbox; each node chooses its own (the host's may not exist there)."""

    kind: str | None = None  # docker | bwrap | local | None (auto: AAR_SANDBOX on the node, docker, bwrap)
    unsafe_local: bool = False
    local_fallback: bool = False  # builtin studies: trusted library code runs locally when no sandbox exists


@dataclass(frozen=True)
class NodeResult:
    """What a task sends back: the sandbox's outcome, the job's /out (when ok) and where it ran."""

    outcome: JobOutcome
    out: Files
    node_id: str
    host: str


# ---- job folders through the object store ----------------------------------------------------------


def pack(root: Path) -> Files:
    """Every regular file under `root`, by relative POSIX path (a folder holds only files and folders).

    Raises:
        InfraError: a link or special file (the sandboxes never copy those back).
    """
    files: Files = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise InfraError(f"cannot send {path.relative_to(root)}: not a regular file")
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def unpack(files: Files, root: Path) -> None:
    """Write `files` under `root` (created if needed); a path that would leave `root` is refused.

    Raises:
        InfraError: an absolute path, `..`, or an empty name.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts):
            raise InfraError(f"refused job file path {name!r}")
        target = root.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# ---- on the node -------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _node_sandbox(request: NodeSandbox) -> tuple[Sandbox, str, bool]:
    """The sandbox this node uses for the study (chosen once per worker process): (sandbox, kind, trusted)."""
    try:
        choice = select_sandbox(request.kind, unsafe_local=request.unsafe_local)
    except (InfraError, UserError):
        if not request.local_fallback:
            raise
        return LocalSandbox(), "local", True
    return choice.sandbox, choice.kind, False


def run_on_node(code: Files, data: Files, request: NodeSandbox, limits: Limits) -> NodeResult:
    """The Ray task: unpack the job into a fresh folder, run it in this node's sandbox on the GPUs Ray
    assigned, and return its /out (only an `ok` job's: the host reads nothing else)."""
    devices = tuple(str(g) for g in ray.get_gpu_ids())
    sandbox, kind, trusted = _node_sandbox(request)
    with tempfile.TemporaryDirectory(prefix="aar-ray-job-") as tmp:
        root = Path(tmp)
        unpack(code, root / "code")
        unpack(data, root / "data")
        (root / "out").mkdir()
        runner = sandbox_runner(sandbox, kind, limits, devices, trusted=trusted)
        outcome = runner(root / "code", root / "data", root / "out")
        out = pack(root / "out") if outcome.status == "ok" else {}
    return NodeResult(outcome, out, ray.get_runtime_context().get_node_id(), socket.gethostname())


@cache
def _remote() -> Any:
    """`run_on_node` as a Ray task, never retried by Ray (a lost node is ours to handle: `job_error`)."""
    return ray.remote(max_retries=0, retry_exceptions=False)(run_on_node)


# ---- on the host -------------------------------------------------------------------------------------


def connect(settings: RaySettings) -> None:
    """Attach to the cluster at AAR_RAY_ADDRESS (else this machine's Ray, else start a local one).

    Raises:
        InfraError: no cluster answers at the address (one line).
    """
    if ray.is_initialized():
        return
    try:
        if settings.address:
            ray.init(address=settings.address, log_to_driver=False, configure_logging=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = settings.address or "local"
        raise InfraError(
            f"cannot reach the Ray cluster ({where}): {' '.join(str(exc).split())[:200]}"
        ) from exc


def job_gpus(settings: RaySettings) -> float:
    """GPUs per job: AAR_RAY_NUM_GPUS, else one when the cluster has any GPU."""
    if settings.num_gpus is not None:
        return settings.num_gpus
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0


@dataclass
class RayExecutor:
    """Job runners that send each job to the cluster as a task with the CPUs/GPUs it needs.

    `placements` lists, per finished job, the id of the node that ran it (for the study's log and tests).
    """

    request: NodeSandbox
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    placements: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def runner_for(self, devices: tuple[str, ...], timeout_s: float = Limits.timeout_s) -> JobRunner:
        """A runner for one job (`devices` is the host slot's and is ignored: Ray assigns the node's)."""
        limits = Limits(timeout_s=timeout_s, cpus=self.num_cpus)

        def run(code: Path, data: Path, out: Path) -> JobOutcome:
            return self.run_job(code, data, out, limits)

        return run

    def run_job(self, code: Path, data: Path, out: Path, limits: Limits) -> JobOutcome:
        """Send the job, wait for it, and unpack its /out into `out`; a lost node ends it `interrupted`."""
        task = _remote().options(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        started = time.monotonic()
        try:
            result: NodeResult = ray.get(task.remote(pack(code), pack(data), self.request, limits))
        except Exception as exc:  # mapped by `job_error` (or re-raised there)
            return job_error(exc, time.monotonic() - started)
        with self._lock:
            self.placements.append(result.node_id)
        if result.outcome.status == "ok":
            out.mkdir(parents=True, exist_ok=True)
            unpack(result.out, out)
        return result.outcome


def job_error(exc: Exception, seconds: float) -> JobOutcome:
    """How a failed Ray task ends the job: a lost node -> `interrupted`; Ray's memory monitor -> `oom`;
    cancelled -> `killed`. An exception the task itself raised is raised here (an InfraError stops the
    study for `aar resume`); any other Ray fault is an InfraError.

    Raises:
        InfraError: the cluster failed in a way that is not the job's nor a lost node's.
        Exception: what the task raised on its node (its original type).
    """
    cause = exc.cause if isinstance(exc, rex.RayTaskError) and isinstance(exc.cause, Exception) else exc
    line = " ".join(str(cause).split())[:300]
    if isinstance(cause, LOST_NODE):
        log.warning("ray: job interrupted, its node was lost: %s", line)
        why = f"interrupted: its Ray node was lost ({type(cause).__name__}: {line})"
        return JobOutcome(INTERRUPTED, None, seconds, why, "ray")
    if isinstance(cause, rex.OutOfMemoryError):
        return JobOutcome("oom", None, seconds, f"Ray's memory monitor killed the job: {line}", "ray")
    if isinstance(cause, rex.TaskCancelledError):
        return JobOutcome("killed", None, seconds, "the Ray task was cancelled", "ray")
    if isinstance(cause, rex.RayError):
        raise InfraError(f"Ray: {type(cause).__name__}: {line}") from exc
    raise cause


class RayPlacement(NamedTuple):
    """What a study runs its jobs through on a cluster."""

    runner_for: RunnerFactory
    pool: DevicePool  # `parallel` slots: jobs in flight at once (Ray places them by CPUs/GPUs)
    executor: RayExecutor
    where: str  # one line for the terminal: the cluster and what each job asks of it


def ray_executor(
    request: NodeSandbox, settings: RaySettings | None = None, parallel: int = 1
) -> RayPlacement:
    """Connect to the cluster; return the runner factory, a pool of `parallel` slots (jobs in flight at
    once: Ray places them on nodes by their CPUs/GPUs), the executor and a line saying where jobs run."""
    settings = settings or RaySettings()
    connect(settings)
    executor = RayExecutor(request, settings.num_cpus, job_gpus(settings))
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = ray.cluster_resources().get("CPU", 0)
    where = (
        f"executor: ray ({settings.address or 'local'}; {len(nodes)} node(s), {cpus:g} CPU(s); "
        f"each job {executor.num_cpus:g} CPU, {executor.num_gpus:g} GPU, in its node's sandbox)"
    )
    factory: RunnerFactory = executor.runner_for
    return RayPlacement(factory, DevicePool([()] * max(1, parallel)), executor, where)
