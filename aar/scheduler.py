"""Places experiment jobs on sandboxes: adapts the sandbox layer to the science core's job runner.

Untrusted method code always runs through a sandbox chosen by `aar.sandbox.select_sandbox`; the host
then reads and scores the predictions itself (aar.w2s.experiment).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aar.sandbox import Job, select_sandbox
from aar.sandbox.base import Sandbox
from aar.w2s.experiment import JobRunner
from aar.w2s.jobs import JobOutcome


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
    sandbox: Sandbox, kind: str, limits: Limits = Limits(), devices: tuple[str, ...] = ()
) -> JobRunner:
    """A JobRunner that runs each job in `sandbox` with `limits`."""

    def run(code: Path, data: Path, out: Path) -> JobOutcome:
        _readable(code.parent)
        out.rmdir() if out.is_dir() and not any(out.iterdir()) else None
        job = Job(
            code, data, out, timeout_s=limits.timeout_s, memory_mb=limits.memory_mb, cpus=limits.cpus,
            devices=devices, name="experiment",
        )  # fmt: skip
        result = sandbox.run(job)
        tail = "\n".join(x for x in (result.reason, result.stderr[-4000:]) if x)
        return JobOutcome(result.status.value, result.exit_code, result.duration_s, tail, kind)

    return run


def experiment_runner(
    kind: str | None, *, unsafe_local: bool = False, announce: Callable[[str], object] | None = None
) -> JobRunner:
    """Choose a sandbox (flag, AAR_SANDBOX, docker if an engine answers, else bwrap) and say which."""
    choice = select_sandbox(kind, unsafe_local=unsafe_local)
    if announce:
        announce(f"sandbox: {choice.kind} ({choice.why})")
    return sandbox_runner(choice.sandbox, choice.kind)
