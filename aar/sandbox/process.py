"""Running a host subprocess with a wall-clock limit and bounded output capture (bwrap and local)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from aar.sandbox.base import TailReader
from aar.sandbox.finish import RawOutcome, Stopwatch


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float,
    cwd: Path,
    on_exit: Callable[[], None] | None = None,
) -> RawOutcome:
    """Run `argv` in its own session, kill its whole process group at `timeout_s` or when it exits.

    `on_exit` runs after the main process is gone (e.g. to kill a cgroup's leftovers).
    """
    watch = Stopwatch()
    proc = subprocess.Popen(
        list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    out, err = TailReader(proc.stdout), TailReader(proc.stderr)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    duration = watch.elapsed()
    _kill_group(proc.pid)
    proc.wait()
    if on_exit is not None:
        on_exit()
    return RawOutcome(
        exit_code=proc.returncode, duration_s=duration, stdout=out.text(), stderr=err.text(),
        timed_out=timed_out,
    )  # fmt: skip


def _kill_group(pgid: int) -> None:
    """SIGKILL everything left in the job's process group (a job may leave background processes)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
