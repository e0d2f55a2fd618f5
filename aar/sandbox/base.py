"""What every sandbox shares: the job description, the result, the protocol, and small helpers."""

from __future__ import annotations

import collections
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from aar.errors import InfraError

# The container-side paths of the experiment contract (experiment_templates/CONTRACT.md).
CODE_MOUNT = "/code"
DATA_MOUNT = "/data"
OUT_MOUNT = "/out"
MODELS_MOUNT = "/models"  # role R's weights at /models/R, read-only (aar.w2s.jobs.stage_models)
DEFAULT_COMMAND: tuple[str, ...] = ("python", "/code/runner.py", "--data", DATA_MOUNT, "--out", OUT_MOUNT)
# Environment every sandbox gives the job: offline, no secrets, a writable HOME.
JOB_ENV: Mapping[str, str] = {
    "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "MPLCONFIGDIR": "/tmp",
    "LANG": "C.UTF-8",
}


class Status(StrEnum):
    """How a job ended. Only `ok` means the host may score its predictions."""

    OK = "ok"
    FAILED = "failed"  # non-zero exit
    TIMEOUT = "timeout"  # the host killed it at its wall-clock limit
    OOM = "oom"  # the kernel killed it at its memory limit
    KILLED = "killed"  # killed by a signal for another reason (pids limit, cancellation)


@dataclass(frozen=True)
class Job:
    """One sandboxed run: the experiment contract's three folders, a command and its limits.

    The sandbox only copies /out back; the host reads the predictions afterwards (`aar.w2s.predictions`).
    """

    code_dir: Path
    data_dir: Path
    out_dir: Path  # host folder the job's /out is copied back into; created fresh, must not exist or be empty
    command: tuple[str, ...] = DEFAULT_COMMAND
    timeout_s: float = 3600.0  # wall clock, enforced by the host
    memory_mb: int = 4096  # RAM; swap is not allowed on top
    cpus: float = 2.0
    pids: int = 256  # processes + threads
    shm_mb: int = 64
    tmp_mb: int = 256  # size-capped tmpfs at /tmp
    out_mb: int = 256  # cap on what the job may write under /out
    out_files: int = 4096  # cap on the number of files and folders under /out
    devices: tuple[str, ...] = ()  # GPU ids the scheduler assigned (index or UUID); empty for a CPU job
    models: Mapping[str, Path] = field(default_factory=dict)  # role -> host folder, mounted at /models/role
    trusted: bool = False  # True only for code aar itself wrote (weak/ceiling jobs, templates unchanged)
    name: str = "job"


@dataclass(frozen=True)
class ExecResult:
    """What a sandbox reports; it never raises for the job's own failure."""

    status: Status
    exit_code: int | None
    duration_s: float
    device_seconds: float
    stdout: str  # the last bytes only (see LOG_TAIL_BYTES)
    stderr: str
    out_dir: Path
    sandbox: str
    reason: str = ""  # why, when status is not ok

    @property
    def ok(self) -> bool:
        """True when the job exited 0 and its outputs passed the host's checks."""
        return self.status is Status.OK


@runtime_checkable
class Sandbox(Protocol):
    """Runs a `Job` and returns an `ExecResult`; raises only for infrastructure faults (`InfraError`)."""

    name: str

    def run(self, job: Job) -> ExecResult:
        """Run the job to completion (or its limits) and collect its /out into `job.out_dir`."""
        ...


LOG_TAIL_BYTES = 64_000


def model_mounts(job: Job) -> list[tuple[Path, str]]:
    """(host folder, container path) of each model the job mounts read-only, checked to be folders.

    Raises:
        InfraError: a role that is not a plain name, or a folder that does not exist.
    """
    mounts = []
    for role, folder in sorted(job.models.items()):
        if not role.replace("_", "").isalnum() or not folder.is_dir():
            raise InfraError(f"job {job.name}: cannot mount model {role!r} from {folder}")
        mounts.append((folder.resolve(), f"{MODELS_MOUNT}/{role}"))
    return mounts


def device_seconds(duration_s: float, devices: Collection[str]) -> float:
    """Device-seconds charged to the budget: wall time times the devices held (a CPU job holds one)."""
    return duration_s * max(1, len(devices))


def decode_tail(data: bytes, limit: int = LOG_TAIL_BYTES) -> str:
    """The last `limit` bytes as text, marked when cut."""
    if len(data) <= limit:
        return data.decode("utf-8", errors="replace")
    return "[... earlier output dropped ...]\n" + data[-limit:].decode("utf-8", errors="replace")


class TailReader:
    """Drains a pipe in a thread, keeping only its last bytes, so a job printing gigabytes costs no memory."""

    def __init__(self, stream: IO[bytes], limit: int = LOG_TAIL_BYTES) -> None:
        self._stream = stream
        self._limit = limit
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self.total = 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while chunk := self._stream.read1(65536):  # type: ignore[attr-defined]
            self.total += len(chunk)
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size - len(self._chunks[0]) >= self._limit:
                self._size -= len(self._chunks.popleft())

    def text(self, join_timeout_s: float = 5.0) -> str:
        """The kept tail, once the pipe is closed (or after `join_timeout_s`)."""
        self._thread.join(join_timeout_s)
        data = b"".join(self._chunks)
        if self.total > len(data):
            return "[... earlier output dropped ...]\n" + data[-self._limit :].decode("utf-8", "replace")
        return data.decode("utf-8", errors="replace")
