"""Turning how a job's process ended into an `ExecResult`: classify it, copy /out back."""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aar.errors import UserError
from aar.sandbox.base import ExecResult, Job, Status, device_seconds
from aar.sandbox.outputs import Staging, copy_out, is_mountpoint, remove_staging

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawOutcome:
    """What a sandbox observed, before the host looks at /out."""

    exit_code: int | None
    duration_s: float
    stdout: str
    stderr: str
    timed_out: bool = False
    oom: bool = False


def prepare_out_dir(job: Job) -> None:
    """The host folder /out is copied back into must be new or empty, so stale predictions cannot count."""
    out = job.out_dir
    if out.is_symlink() or (out.exists() and any(out.iterdir())):
        raise UserError(f"output folder {out} exists and is not empty; give each job a fresh one")
    out.mkdir(parents=True, exist_ok=True)


def classify(raw: RawOutcome, job: Job) -> tuple[Status, str]:
    """The status and reason for how the process ended (outputs not yet considered)."""
    if raw.timed_out:
        return Status.TIMEOUT, f"ran past its wall-clock limit of {job.timeout_s:g} s and was killed"
    if raw.oom:
        return Status.OOM, f"killed by the kernel at its memory limit of {job.memory_mb} MB"
    code = raw.exit_code
    if code == 0:
        return Status.OK, ""
    if code is not None and (code < 0 or code > 128):
        signum = -code if code < 0 else code - 128
        return Status.KILLED, f"killed by signal {_signal_name(signum)} (exit code {code})"
    return Status.FAILED, f"exited with code {code}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def finish(
    job: Job,
    raw: RawOutcome,
    staging: Staging,
    sandbox: str,
    force_remove: Callable[[Path], None] | None = None,
) -> ExecResult:
    """Copy /out back (regular files, within caps) and remove the staging folder."""
    status, reason = classify(raw, job)
    try:
        report = copy_out(staging.path, job.out_dir, max_bytes=job.out_mb * 2**20, max_files=job.out_files)
    finally:
        remove_staging(staging, force_remove)
    if report.rejected:
        log.warning("job %s: refused under /out: %s", job.name, "; ".join(report.rejected[:10]))
    return ExecResult(
        status=status,
        exit_code=raw.exit_code,
        duration_s=raw.duration_s,
        device_seconds=device_seconds(raw.duration_s, job.devices),
        stdout=raw.stdout,
        stderr=raw.stderr,
        out_dir=job.out_dir,
        sandbox=sandbox,
        reason=reason,
    )


def owner_tag() -> str:
    """Identifies this host process across restarts: pid plus its start time (pids are reused)."""
    return f"{os.getpid()}-{_start_time(os.getpid())}"


def owner_alive(tag: str) -> bool:
    """False when the process that wrote `tag` (see `owner_tag`) is gone."""
    pid_s, _, start = tag.partition("-")
    if not pid_s.isdigit():
        return False
    return _start_time(int(pid_s)) == start


# What sandboxes name their staging folders and cgroups: owner tag ("pid-starttime") + "-" + 12 hex digits.
_OWNED_NAME = re.compile(r"(\d+-\d+)-[0-9a-f]{12}")


def stale_owner(name: str) -> bool:
    """True when `name` is `<owner tag>-<12 hex>` and that owner process is gone; False for other names."""
    match = _OWNED_NAME.fullmatch(name)
    return match is not None and not owner_alive(match.group(1))


def remove_stale_staging(root: Path, force_remove: Callable[[Path], None] | None = None) -> int:
    """Unmount and delete the staging folders under `root` whose host process is gone; returns how many."""
    removed = 0
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if stale_owner(path.name) and not path.is_symlink() and path.is_dir():
            log.warning("removing stale sandbox output folder %s", path)
            try:
                remove_staging(Staging(path, mounted=is_mountpoint(path)), force_remove)
            except FileNotFoundError:  # another host process starting up removed it first
                continue
            except OSError as exc:  # left for the next start; this one still runs its own jobs
                log.error("could not remove stale sandbox output folder %s: %s", path, exc)
                continue
            removed += 1
    return removed


def _start_time(pid: int) -> str:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat_line.rsplit(")", 1)[1].split()[19]


class Stopwatch:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since creation."""
        return time.monotonic() - self._t0
