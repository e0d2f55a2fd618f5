"""A per-job cgroup (v1 or v2) for memory and pids limits and OOM detection, when we may create one.

Used by `BwrapSandbox` when aar runs as root; without it, bwrap falls back to rlimits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class JobCgroup:
    """Folders of one job's cgroup: `memory` (and `pids`) controllers; the same folder on v2."""

    memory: Path
    pids: Path
    v2: bool

    @property
    def procs_files(self) -> tuple[Path, ...]:
        """The files a process writes its pid to, to join the cgroup."""
        return tuple(dict.fromkeys([self.memory / "cgroup.procs", self.pids / "cgroup.procs"]))

    def oom_killed(self) -> bool:
        """True when the kernel OOM-killed a process of the job."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        for line in _read(self.memory / name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def kill_all(self) -> None:
        """SIGKILL every process still in the cgroup."""
        for _ in range(50):
            pids = [int(p) for p in _read(self.pids / "cgroup.procs").split()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        """Delete the cgroup folders (after `kill_all`)."""
        for path in dict.fromkeys([self.memory, self.pids]):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def create(name: str, *, memory_mb: int, pids: int) -> JobCgroup | None:
    """A new cgroup limiting memory (no swap on top) and pids, or None when we cannot make one."""
    if os.geteuid() != 0:
        return None
    try:
        if (CGROUP_ROOT / "cgroup.controllers").is_file():
            return _create_v2(name, memory_mb, pids)
        if (CGROUP_ROOT / "memory").is_dir() and (CGROUP_ROOT / "pids").is_dir():
            return _create_v1(name, memory_mb, pids)
    except OSError as exc:
        log.warning("cannot create a cgroup for the job (%s); falling back to rlimits", exc)
    return None


def _create_v1(name: str, memory_mb: int, pids: int) -> JobCgroup:
    memory, pid_dir = CGROUP_ROOT / "memory" / name, CGROUP_ROOT / "pids" / name
    memory.mkdir()
    pid_dir.mkdir()
    limit = str(memory_mb * 2**20)
    (memory / "memory.limit_in_bytes").write_text(limit)
    swap = memory / "memory.memsw.limit_in_bytes"
    if swap.exists():
        swap.write_text(limit)
    (pid_dir / "pids.max").write_text(str(pids))
    return JobCgroup(memory, pid_dir, v2=False)


def _create_v2(name: str, memory_mb: int, pids: int) -> JobCgroup:
    path = CGROUP_ROOT / name
    path.mkdir()
    (path / "memory.max").write_text(str(memory_mb * 2**20))
    if (path / "memory.swap.max").exists():
        (path / "memory.swap.max").write_text("0")
    (path / "pids.max").write_text(str(pids))
    return JobCgroup(path, path, v2=True)


def remove_stale(is_stale: Callable[[str], bool]) -> int:
    """Kill and remove the cgroups (v2, or v1 memory/pids) whose folder name `is_stale`; returns how many.

    For cgroups a killed host process left behind; the caller's predicate decides what is stale.
    """
    parents = [CGROUP_ROOT] if (CGROUP_ROOT / "cgroup.controllers").is_file() else []
    parents += [CGROUP_ROOT / "memory", CGROUP_ROOT / "pids"] if not parents else []
    removed = 0
    for parent in parents:
        for path in _children(parent):
            if is_stale(path.name):
                log.warning("removing stale job cgroup %s", path)
                group = JobCgroup(path, path, v2=parent == CGROUP_ROOT)
                group.kill_all()
                group.remove()
                removed += not path.exists()
    return removed


def _children(parent: Path) -> list[Path]:
    try:
        return sorted(p for p in parent.iterdir() if p.is_dir())
    except OSError:  # no such hierarchy, or not ours to read
        return []


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
