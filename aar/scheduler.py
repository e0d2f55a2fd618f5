"""Places experiment jobs on sandboxes: adapts the sandbox layer to the science core's job runner.

Untrusted method code always runs through a sandbox chosen by `aar.sandbox.select_sandbox`; the host
then reads and scores the predictions itself (aar.w2s.experiment). Before each job the host resolves the
job's models to folders (mounted read-only at /models/<role> in Docker and bwrap) and the job runs on the
devices its slot holds. aar's own trusted jobs (weak supervisor, ceiling, naive) are placed the same way
(`trusted_runner`): a slot, the sandbox, a wall-clock limit clamped to the deadline, a ledger charge.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple, Protocol

from aar.sandbox import Job, select_sandbox
from aar.sandbox.base import Sandbox, device_seconds
from aar.sandbox.gpus import host_gpus
from aar.sandbox.local import LocalSandbox
from aar.w2s.experiment import JobRunner
from aar.w2s.jobs import MODELS_MOUNT, JobOutcome, TrustedRunner, stage_models


@dataclass(frozen=True)
class Limits:
    """Per-job limits handed to the sandbox."""

    timeout_s: float = 3600.0
    memory_mb: int = 8192
    cpus: float = float(os.cpu_count() or 2)


def _readable(root: Path) -> None:
    """Job folders come from mkdtemp (0700); the sandbox user (uid 65534) must be able to read them."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def sandbox_runner(
    sandbox: Sandbox,
    kind: str,
    limits: Limits = Limits(),
    devices: tuple[str, ...] = (),
    *,
    trusted: bool = False,
) -> JobRunner:
    """A JobRunner that runs each job in `sandbox` with `limits` on `devices` (`trusted`: library code only,
    named "baseline"; else "experiment").

    The job's models are resolved on the host first: mounted at /models/<role> (Docker, bwrap), or named
    by host path (local).
    """

    def run(code: Path, data: Path, out: Path) -> JobOutcome:
        models = stage_models(data, None if kind == "local" else MODELS_MOUNT)
        _readable(code.parent)
        out.rmdir() if out.is_dir() and not any(out.iterdir()) else None
        job = Job(
            code, data, out, timeout_s=limits.timeout_s, memory_mb=job_memory_mb(limits, devices), cpus=limits.cpus,
            devices=devices, name="baseline" if trusted else "experiment", trusted=trusted, models=models,
        )  # fmt: skip
        result = sandbox.run(job)
        tail = "\n".join(x for x in (result.reason, result.stderr[-4000:]) if x)
        return JobOutcome(result.status.value, result.exit_code, result.duration_s, tail, kind)

    return run


def job_memory_mb(limits: Limits, devices: tuple[str, ...]) -> int:
    """A GPU job's weights pass through host memory (`from_pretrained`, then to the device; 4B parameters
    in fp32 are 16 GB), so it may use its GPUs' share of 80 % of the host's memory; never less than the
    limit. A CPU job keeps the limit."""
    if not devices:
        return limits.memory_mb
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    share = int(total_mb * 0.8 * len(devices) / max(len(devices), len(host_gpus())))
    return max(limits.memory_mb, share)


class RunnerFactory(Protocol):
    """A job runner bound to a slot's devices, with the job's wall-clock limit (clamped to the deadline)."""

    def __call__(self, devices: tuple[str, ...], timeout_s: float = Limits.timeout_s) -> JobRunner: ...


def runner_factory(
    kind: str | None, *, unsafe_local: bool = False, announce: Callable[[str], object] | None = None
) -> tuple[RunnerFactory, str]:
    """Choose a sandbox (flag, AAR_SANDBOX, docker if an engine answers, else bwrap), say which, and
    return a factory of job runners bound to the devices a slot holds."""
    choice = select_sandbox(kind, unsafe_local=unsafe_local)
    if announce:
        announce(f"sandbox: {choice.kind} ({choice.why})")

    def factory(devices: tuple[str, ...], timeout_s: float = Limits.timeout_s) -> JobRunner:
        return sandbox_runner(choice.sandbox, choice.kind, Limits(timeout_s=timeout_s), devices=devices)

    return factory, choice.kind


def local_runner_factory() -> RunnerFactory:
    """Job runners on the local sandbox, for trusted library code when no sandbox is available: a plain
    subprocess, but with the sandboxes' scrubbed environment (no API keys, no AAR_* settings)."""
    return trusted_factory(LocalSandbox(), "local")


def trusted_factory(sandbox: Sandbox, kind: str, limits: Limits = Limits()) -> RunnerFactory:
    """Job runners for aar's own library code (`trusted=True`) in `sandbox`, bound to a slot's devices."""

    def factory(devices: tuple[str, ...], timeout_s: float = Limits.timeout_s) -> JobRunner:
        return sandbox_runner(sandbox, kind, replace(limits, timeout_s=timeout_s), devices, trusted=True)

    return factory


class Placement(NamedTuple):
    """Where one command's jobs run: the machine's slots, method jobs' and trusted jobs' runners, the kind."""

    pool: DevicePool
    runner_for: RunnerFactory  # method code (untrusted), in the chosen sandbox
    trusted_for: RunnerFactory  # aar's library code (baselines), in the same sandbox
    kind: str


def placement(
    kind: str | None,
    *,
    unsafe_local: bool = False,
    announce: Callable[[str], object] | None = None,
    parallel: int = 1,
) -> Placement:
    """Choose a sandbox as `runner_factory` does, and this machine's device pool (one slot per GPU, else
    CPU slots, up to `parallel`): what `aar exp run` and `aar baseline` place their jobs with."""
    choice = select_sandbox(kind, unsafe_local=unsafe_local)
    if announce:
        announce(f"sandbox: {choice.kind} ({choice.why})")

    def untrusted(devices: tuple[str, ...], timeout_s: float = Limits.timeout_s) -> JobRunner:
        return sandbox_runner(choice.sandbox, choice.kind, Limits(timeout_s=timeout_s), devices=devices)

    pool = DevicePool.detect(parallel)
    return Placement(pool, untrusted, trusted_factory(choice.sandbox, choice.kind), choice.kind)


class DevicePool:
    """The machine's job slots: one per GPU (by id), else CPU slots; a job holds one until it ends,
    so concurrent launches never oversubscribe a device.

    A thread that already holds a slot gets the same one again (nested, not a second slot): a method
    job's host side computes the baselines it is scored against (trusted jobs) while it holds its slot,
    and a one-slot pool must not wait on itself.
    """

    def __init__(self, slots: list[tuple[str, ...]]) -> None:
        self._free: queue.Queue[tuple[str, ...]] = queue.Queue()
        for slot in slots:
            self._free.put(slot)
        self.size = len(slots)
        self._held = threading.local()

    @classmethod
    def detect(cls, parallel: int) -> DevicePool:
        """One slot per GPU (its nvidia-smi index; those $CUDA_VISIBLE_DEVICES names, when set) up to
        `parallel`, else `parallel` CPU slots (at most the cores)."""
        gpus = visible_gpus()
        if gpus:
            return cls([(g,) for g in gpus[: max(1, parallel)]])
        return cls([()] * max(1, min(parallel, os.cpu_count() or 1)))

    @contextmanager
    def slot(self) -> Iterator[tuple[str, ...]]:
        """Hold one free slot (its device ids; () for a CPU slot) until the block ends; in a thread that
        holds one already, that one."""
        held: tuple[str, ...] | None = getattr(self._held, "devices", None)
        if held is not None:
            yield held
            return
        devices = self._free.get()
        self._held.devices = devices
        try:
            yield devices
        finally:
            self._held.devices = None
            self._free.put(devices)


def visible_gpus() -> list[str]:
    """The host's GPU ids for job slots: nvidia-smi indices, restricted to $CUDA_VISIBLE_DEVICES if set
    (indices there are read in nvidia-smi order, i.e. CUDA_DEVICE_ORDER=PCI_BUS_ID, or UUIDs)."""
    gpus = host_gpus()
    wanted = os.environ.get("CUDA_VISIBLE_DEVICES")
    if wanted is None:
        return [str(g.index) for g in gpus]
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    return [str(g.index) for g in gpus if str(g.index) in names or g.uuid in names]


# (device-seconds, what the job was) -> the ledger: every trusted job's outcome is charged, ok or not.
Charge = Callable[[float, str], object]


def trusted_runner(
    pool: DevicePool,
    runner_for: RunnerFactory,
    *,
    wall: Callable[[], float] | None = None,
    charge: Charge | None = None,
) -> TrustedRunner:
    """Trusted jobs (weak supervisor and its ensemble, ceiling, naive) placed like method jobs: each holds
    a slot of `pool` (the caller's, if its thread holds one) and runs through `runner_for` (the study's
    sandbox) on that slot's devices. `wall()` gives each job's wall-clock limit when it starts (the
    study's `Budget.wall_limit`, clamped to the deadline; it raises when no time is left); `charge` gets
    every outcome's device-seconds (the budget ledger). Pass it to `aar.w2s.jobs.run_trusted(via=...)`
    or as `Setup.trusted`.

    A job killed under a clamped limit asks `wall()` once more: past the deadline that raises the
    budget's own error (BudgetExceeded), so the study stops at its deadline rather than failing.
    """

    def run(runner: Path, data: Path, out: Path, method: Path, *, label: str) -> JobOutcome:
        code = data.parent / "trusted-code"  # beside /data and /out: made readable with them
        code.mkdir(exist_ok=True)
        for src, name in (
            (runner, "runner.py"),
            (runner.parent.parent / "common.py", "common.py"),
            (method, "method.py"),
        ):
            shutil.copyfile(src, code / name)
        timeout = Limits.timeout_s if wall is None else wall()
        with pool.slot() as devices:
            outcome = runner_for(devices, timeout_s=timeout)(code, data, out)
        if charge is not None:
            charge(device_seconds(outcome.seconds, devices), label)
        if outcome.status == "timeout" and wall is not None and timeout < Limits.timeout_s:
            wall()  # the deadline clamped it: now past it, this raises the budget's error
        return outcome

    return run
