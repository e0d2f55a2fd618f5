"""`BwrapSandbox`: bubblewrap namespaces for machines without Docker.

The job sees a read-only /usr from the host, the contract folders, a private /tmp, no network and no
other process. As root, aar drops to uid 65534 before bwrap (so the process limit holds) and puts the
job in its own cgroup for memory and pids; as another user, rlimits stand in for the cgroup.

Parity with the Docker sandbox: `/` is a size-capped tmpfs remounted read-only, /tmp and /dev/shm are
size-capped tmpfs (`tmp_mb`, `shm_mb`), /dev is read-only, nested user namespaces are disabled and a
seccomp filter (`aar.sandbox.seccomp`) denies namespace, mount, ptrace, keyring, eBPF and similar calls.
Models are bound read-only at /models/<role>. A job assigned GPUs gets exactly their device nodes (plus
the driver's control nodes), a read-only /sys, and CUDA_VISIBLE_DEVICES naming them by UUID.
A job dies with its host (`--die-with-parent`, also when the host is SIGKILLed); what a killed host
leaves behind (its jobs' cgroups, staging tmpfs mounts and folders) is removed when the next
`BwrapSandbox` starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from aar.errors import InfraError
from aar.sandbox import cgroup, seccomp
from aar.sandbox.base import CODE_MOUNT, DATA_MOUNT, JOB_ENV, OUT_MOUNT, ExecResult, Job, model_mounts
from aar.sandbox.finish import (
    RawOutcome,
    finish,
    owner_tag,
    prepare_out_dir,
    remove_stale_staging,
    stale_owner,
)
from aar.sandbox.gpus import Gpu, assigned, cuda_env, device_nodes, host_gpus
from aar.sandbox.outputs import SANDBOX_UID, Staging, make_staging, remove_staging
from aar.sandbox.process import run_process
from aar.sandbox.pyenv import PYENV_MOUNT, site_packages

log = logging.getLogger(__name__)

HELPER_MOUNT = "/opt/aar-bin"
# Host files the job may read: the dynamic linker's cache and TLS roots, nothing else from /etc.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "localtime")
CGROUP_PREFIX = "aar-"  # a job's cgroup is CGROUP_PREFIX + its staging folder's name (owner tag + uuid)
ROOT_BYTES = 1 << 20  # `/` holds only mount points and symlinks, and is read-only once they are made
SECCOMP_FD = 9  # the shell in front of bwrap opens the filter on this descriptor for `--seccomp`
MIN_VERSION = (0, 8, 0)  # --size and --disable-userns


class BwrapMissing(InfraError):
    """bubblewrap is not installed, or too old for the hardening the sandbox needs."""


class BwrapSandbox:
    """Runs jobs under bubblewrap with every namespace unshared."""

    name = "bwrap"

    def __init__(
        self,
        *,
        python: str = "/usr/bin/python3",
        staging_root: Path | None = None,
        pyenv_prefix: Path | None = None,
        gpus: Sequence[Gpu] | None = None,
        dev: Path = Path("/dev"),
    ) -> None:
        """Check bwrap and the environment to mount; `gpus`/`dev`: the host's GPUs and device folder.

        Raises:
            BwrapMissing: no `bwrap` on PATH, or one older than 0.8.0.
            SeccompUnsupported: no seccomp filter for this architecture.
        """
        self.bwrap = _find_bwrap()
        self.pyenv = site_packages(pyenv_prefix)
        self.gpus = list(host_gpus() if gpus is None else gpus)
        self.dev = dev
        self.root_mode = os.geteuid() == 0
        self.staging_root = staging_root or Path(tempfile.gettempdir()) / "aar-sandbox-bwrap"
        self.staging_root.mkdir(parents=True, exist_ok=True)
        self.helpers = _make_helpers(self.staging_root / "helpers", python)
        self.seccomp_file = _write_filter(self.helpers / "seccomp.bpf")
        remove_stale(self.staging_root)

    def run(self, job: Job) -> ExecResult:
        """Run `job` under bwrap; its /out is copied back and checked.

        Raises:
            GpuUnavailable: the job is assigned a GPU this host does not have (before anything starts).
        """
        self._gpus(job)
        prepare_out_dir(job)
        name = f"{owner_tag()}-{uuid.uuid4().hex[:12]}"
        uid = SANDBOX_UID if self.root_mode else os.getuid()
        staging = make_staging(
            self.staging_root / name, size_mb=job.out_mb, max_files=job.out_files, owner_uid=uid
        )
        group = cgroup.create(f"{CGROUP_PREFIX}{name}", memory_mb=job.memory_mb, pids=job.pids)
        points = self._model_points(job, staging.path)
        try:
            raw = self._run(job, staging, group)
        except BaseException:
            remove_staging(staging)
            raise
        finally:
            if group is not None:
                group.kill_all()
                group.remove()
            _remove_points(points)
        return finish(job, raw, staging, self.name)

    def _model_points(self, job: Job, out_path: Path) -> Path | None:
        """As root, empty folders uid 65534 can reach, where a private mount namespace binds the models
        (`command`): a model under a folder only root may enter (/root/.cache/huggingface) still mounts."""
        if not self.root_mode or not job.models:
            return None
        root = _points_root(self.staging_root, out_path)
        for role in job.models:
            (root / role).mkdir(parents=True, exist_ok=True)
        for path in (root.parent, root):
            path.chmod(0o755)
        return root

    def _run(self, job: Job, staging: Staging, group: cgroup.JobCgroup | None) -> RawOutcome:
        argv = self.command(job, staging.path, group)
        raw = run_process(
            argv, env={"PATH": "/usr/bin:/bin"}, timeout_s=job.timeout_s, cwd=Path("/"),
            on_exit=group.kill_all if group else None,
        )  # fmt: skip
        if group is not None and group.oom_killed() and not raw.timed_out:
            return RawOutcome(raw.exit_code, raw.duration_s, raw.stdout, raw.stderr, oom=True)
        return raw

    def command(self, job: Job, out_path: Path, group: cgroup.JobCgroup | None) -> list[str]:
        """The full host command line: join cgroup, open the filter, drop to uid 65534, rlimits, bwrap."""
        joins = "".join(f"echo $$ > {shlex.quote(str(p))} && " for p in group.procs_files) if group else ""
        opens = f"{SECCOMP_FD}< {shlex.quote(str(self.seccomp_file))}"
        argv = ["/bin/sh", "-c", f'{joins}exec "$@" {opens}', "sh"]
        if (
            self.root_mode and job.models
        ):  # bind the models where uid 65534 can reach them, seen by this job only
            binds = " && ".join(
                f"mount --bind -o ro {shlex.quote(str(folder))} {shlex.quote(str(point))}"
                for folder, point in self._model_sources(job, out_path)
            )
            argv += [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
                f'{binds} && exec "$@"',
                "sh",
            ]
        if self.root_mode:
            argv += ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups", "--"]
        argv += self._rlimits(job, group is not None)
        return [*argv, self.bwrap, *self._bwrap_args(job, out_path), "--", *job.command]

    def _model_sources(self, job: Job, out_path: Path) -> list[tuple[Path, Path]]:
        """(host folder, what bwrap binds) per model: as root the private mount point, else the folder."""
        mounts = model_mounts(job)
        if not self.root_mode:
            return [(folder, folder) for folder, _ in mounts]
        root = _points_root(self.staging_root, out_path)
        return [(folder, root / target.rsplit("/", 1)[1]) for folder, target in mounts]

    def _gpus(self, job: Job) -> list[Gpu]:
        return assigned(job.devices, self.gpus, job.name)

    def _rlimits(self, job: Job, has_cgroup: bool) -> list[str]:
        fsize = max(job.out_mb, job.tmp_mb) * 2**20
        # RLIMIT_NPROC counts every process of uid 65534 on the host (other jobs too); with a cgroup, its
        # pids.max is the per-job limit and nproc only a loose backstop.
        nproc = job.pids * 16 if has_cgroup else job.pids
        limits = [f"--nproc={nproc}", f"--fsize={fsize}", "--core=0", "--nofile=4096"]
        # No memory cgroup: bound the address space instead (coarser). Not for GPU jobs: CUDA reserves
        # far more address space than memory, and would fail to start.
        if not has_cgroup and not job.devices:
            limits.append(f"--as={job.memory_mb * 2**20}")
        return ["prlimit", *limits, "--"]

    def _bwrap_args(self, job: Job, out_path: Path) -> list[str]:
        args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
        args += ["--cap-drop", "ALL", "--seccomp", str(SECCOMP_FD), "--hostname", "sandbox"]
        args += ["--size", str(ROOT_BYTES), "--tmpfs", "/"]  # first: every later mount lands in it
        args += ["--proc", "/proc", "--dev", "/dev", "--size", str(job.shm_mb * 2**20), "--tmpfs", "/dev/shm"]
        args += ["--ro-bind", "/usr", "/usr", *_merged_usr_links()]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--ro-bind", str(self.helpers / "passwd"), "/etc/passwd"]
        args += ["--ro-bind", str(self.helpers / "group"), "/etc/group"]
        args += ["--ro-bind", str(self.helpers / "bin"), HELPER_MOUNT]
        args += ["--ro-bind", str(self.pyenv), PYENV_MOUNT]
        args += ["--perms", "1777", "--size", str(job.tmp_mb * 2**20), "--tmpfs", "/tmp"]
        args += ["--ro-bind", str(job.code_dir.resolve()), CODE_MOUNT]
        args += ["--ro-bind", str(job.data_dir.resolve()), DATA_MOUNT, "--bind", str(out_path), OUT_MOUNT]
        for (_, source), (_, target) in zip(
            self._model_sources(job, out_path), model_mounts(job), strict=True
        ):
            args += ["--ro-bind", str(source), target]
        gpus = self._gpus(job)
        for node in device_nodes(gpus, self.dev):
            args += ["--dev-bind", str(node), f"/dev/{node.name}"]
        if gpus:  # CUDA reads the PCI topology and NUMA nodes there; Docker shows it read-only too
            args += ["--ro-bind-try", "/sys", "/sys"]
        args += ["--remount-ro", "/dev", "--remount-ro", "/"]  # last: the mount points exist by now
        args += ["--chdir", "/tmp", "--clearenv"]
        env = dict(JOB_ENV, PATH=f"{HELPER_MOUNT}:/usr/local/bin:/usr/bin:/bin", PYTHONPATH=PYENV_MOUNT)
        env |= {"PYTHONNOUSERSITE": "1", "USER": "nobody"} | cuda_env(gpus)
        for key, value in env.items():
            args += ["--setenv", key, value]
        return args


def _points_root(staging_root: Path, out_path: Path) -> Path:
    """Where a root-mode job's model mount points live: named like its staging folder."""
    return staging_root / "models" / out_path.name


def _remove_points(root: Path | None) -> None:
    """Remove a job's (empty) mount points; rmdir only, never a recursive delete: should a bind still be
    there, nothing under it is touched."""
    if root is None or not root.is_dir():
        return
    for point in root.iterdir():
        with contextlib.suppress(OSError):
            point.rmdir()
    with contextlib.suppress(OSError):
        root.rmdir()


def _find_bwrap() -> str:
    """The `bwrap` on PATH, checked new enough for `--size` and `--disable-userns`."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise BwrapMissing(
            "bubblewrap is not installed; `apt-get install bubblewrap` (or use --sandbox docker)"
        )
    out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    version = tuple(int(x) for x in found.groups()) if found else (0, 0, 0)
    if version < MIN_VERSION:
        raise BwrapMissing(
            f"bubblewrap {out.strip() or '(unknown version)'} is too old; the sandbox needs 0.8.0 or newer "
            "(or use --sandbox docker)"
        )
    return bwrap


def _write_filter(path: Path) -> Path:
    """The seccomp program for this machine, readable by whoever starts bwrap."""
    data = seccomp.build_filter(seccomp.host_arch())
    if not path.is_file() or path.read_bytes() != data:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        tmp.replace(path)  # atomic: another host process may be reading it
    return path


def remove_stale(staging_root: Path) -> int:
    """Remove what killed host processes left: their jobs' cgroups, staging mounts and folders.

    Only entries named after a host process that is gone are touched (see `finish.stale_owner`), so
    jobs of live host processes, other users' included, are left alone. Returns how many were removed.
    """
    removed = cgroup.remove_stale(
        lambda name: name.startswith(CGROUP_PREFIX) and stale_owner(name.removeprefix(CGROUP_PREFIX))
    )
    points = staging_root / "models"
    for root in sorted(points.iterdir()) if points.is_dir() else []:
        if stale_owner(root.name):
            _remove_points(root)
    return removed + remove_stale_staging(staging_root)


def _merged_usr_links() -> list[str]:
    """/bin, /lib... as on the host: symlinks into /usr (merged /usr) or read-only binds."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{name}"]
    return args


def _make_helpers(path: Path, python: str) -> Path:
    """A `python` on PATH and minimal passwd/group files, written once, readable by the sandbox user."""
    (path / "bin").mkdir(parents=True, exist_ok=True)
    link = path / "bin" / "python"
    if not link.is_symlink() or os.readlink(link) != python:
        link.unlink(missing_ok=True)
        link.symlink_to(python)
    (path / "passwd").write_text("nobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n")
    (path / "group").write_text("nogroup:x:65534:\n")
    for p in (path, path / "bin", path / "passwd", path / "group", path.parent):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return path
