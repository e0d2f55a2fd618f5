"""Host-side handling of a job's /out: a bounded staging folder and a careful copy back.

Nothing under /out is trusted. The host copies back regular files only (never following a link), within
size and count caps; the experiment then reads predictions with the host's one reader
(aar.w2s.predictions). Metrics the job writes about itself are never read; the host scores predictions
against labels only it holds.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SANDBOX_UID = 65534  # nobody: the unprivileged user every sandboxed job runs as
MAX_DEPTH = 16


@dataclass(frozen=True)
class Staging:
    """The folder bound at /out. `mounted` when it is a size-capped tmpfs the host mounted for this job."""

    path: Path
    mounted: bool


def can_mount_tmpfs() -> bool:
    """The host can bound /out with its own tmpfs only as root on Linux."""
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


def make_staging(path: Path, *, size_mb: int, max_files: int, owner_uid: int | None) -> Staging:
    """A fresh /out folder: a tmpfs capped at `size_mb` and `max_files` when root, else a plain folder.

    Args:
        path: where to create it (must not exist).
        size_mb: byte cap, enforced by the kernel when mounted.
        max_files: inode cap, enforced by the kernel when mounted.
        owner_uid: the uid the job writes as; None leaves ownership to the caller's user.
    """
    path.mkdir(parents=True, mode=0o700)
    if can_mount_tmpfs():
        uid = SANDBOX_UID if owner_uid is None else owner_uid
        opts = f"size={size_mb}m,nr_inodes={max_files},mode=0700,uid={uid},gid={uid},nosuid,nodev"
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "aar-out", str(path)], capture_output=True)
        if proc.returncode == 0:
            return Staging(path, mounted=True)
        log.warning("could not mount a tmpfs for /out (%s); /out is not size-bounded", proc.stderr.decode())
    path.chmod(0o777)  # the job's uid differs from ours and must write here
    return Staging(path, mounted=False)


def remove_staging(staging: Staging, force_remove: Callable[[Path], None] | None = None) -> None:
    """Unmount and delete a staging folder; `force_remove` empties one the job's uid made undeletable."""
    if staging.mounted:
        subprocess.run(["umount", "-l", str(staging.path)], capture_output=True, check=False)
    try:
        shutil.rmtree(staging.path)
    except PermissionError:
        if force_remove is None:
            raise
        force_remove(staging.path)
        shutil.rmtree(staging.path)


def is_mountpoint(path: Path) -> bool:
    """True when `path` is a mount point (a staging tmpfs left mounted by a killed host process)."""
    return os.path.ismount(path)


@dataclass
class CopyReport:
    """What the copy back kept and what it refused (symlinks, devices, over the caps)."""

    files: int = 0
    bytes: int = 0
    rejected: list[str] = field(default_factory=list)


def copy_out(src: Path, dst: Path, *, max_bytes: int, max_files: int) -> CopyReport:
    """Copy regular files and folders from `src` to `dst` without following links, within caps."""
    report = CopyReport()
    dst.mkdir(parents=True, exist_ok=True)
    _copy_tree(src, dst, "", report, max_bytes=max_bytes, max_files=max_files, depth=0)
    return report


def _copy_tree(
    src: Path, dst: Path, rel: str, report: CopyReport, *, max_bytes: int, max_files: int, depth: int
) -> None:
    with os.scandir(src) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            name = f"{rel}{entry.name}"
            st = entry.stat(follow_symlinks=False)
            if report.files >= max_files:
                report.rejected.append(f"{name}: over the cap of {max_files} files")
            elif stat.S_ISDIR(st.st_mode) and depth < MAX_DEPTH:
                (dst / entry.name).mkdir(exist_ok=True)
                report.files += 1
                _copy_tree(
                    Path(entry.path), dst / entry.name, f"{name}/", report,
                    max_bytes=max_bytes, max_files=max_files, depth=depth + 1,
                )  # fmt: skip
            elif stat.S_ISREG(st.st_mode):
                _copy_file(Path(entry.path), dst / entry.name, name, report, max_bytes=max_bytes)
            else:
                report.rejected.append(f"{name}: not a regular file ({_kind(st.st_mode)})")


def _copy_file(src: Path, dst: Path, name: str, report: CopyReport, *, max_bytes: int) -> None:
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fin:
        if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
            report.rejected.append(f"{name}: not a regular file")
            return
        budget = max_bytes - report.bytes
        data = fin.read(budget + 1)
    if len(data) > budget:
        report.rejected.append(f"{name}: over the cap of {max_bytes} bytes under /out")
        return
    dst.write_bytes(data)
    report.files += 1
    report.bytes += len(data)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "folder nested too deep"
    return "fifo, socket or device"
