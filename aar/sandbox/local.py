"""`LocalSandbox`: a plain subprocess for trusted jobs and tests. It isolates nothing."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from aar.errors import UserError
from aar.sandbox.base import CODE_MOUNT, DATA_MOUNT, JOB_ENV, OUT_MOUNT, ExecResult, Job
from aar.sandbox.finish import finish, owner_tag, prepare_out_dir
from aar.sandbox.gpus import Gpu, assigned, cuda_env, host_gpus
from aar.sandbox.outputs import make_staging, remove_staging
from aar.sandbox.process import run_process


class UnsafeLocalRefused(UserError):
    """Untrusted code was about to run unsandboxed."""


class LocalSandbox:
    """Runs the job as a subprocess of this process, with this user's full rights.

    The contract's /code, /data and /out are replaced by the host folders in the command (and the job's
    config names its models by host path). Only the wall-clock limit and the /out caps apply. The job sees
    exactly its assigned GPUs (CUDA_VISIBLE_DEVICES by UUID), none for a CPU job.
    """

    name = "local"

    def __init__(
        self,
        *,
        unsafe_local: bool = False,
        staging_root: Path | None = None,
        gpus: Sequence[Gpu] | None = None,
    ) -> None:
        """`gpus`: the host's GPUs (default: what the driver reports)."""
        self.unsafe_local = unsafe_local
        self.gpus = list(host_gpus() if gpus is None else gpus)
        self.staging_root = staging_root or Path(tempfile.gettempdir()) / "aar-sandbox-local"
        self.staging_root.mkdir(parents=True, exist_ok=True)

    def run(self, job: Job) -> ExecResult:
        """Run `job` as a plain subprocess.

        Raises:
            UnsafeLocalRefused: the job is untrusted and `unsafe_local` was not given.
            GpuUnavailable: the job is assigned a GPU this host does not have.
        """
        self._refuse_untrusted(job)
        visible = cuda_env(assigned(job.devices, self.gpus, job.name))
        prepare_out_dir(job)
        staging = make_staging(
            self.staging_root / f"{owner_tag()}-{uuid.uuid4().hex[:12]}",
            size_mb=job.out_mb, max_files=job.out_files, owner_uid=os.getuid(),
        )  # fmt: skip
        try:
            mapping = {CODE_MOUNT: job.code_dir, DATA_MOUNT: job.data_dir, OUT_MOUNT: staging.path}
            env = dict(JOB_ENV, PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=str(staging.path.parent))
            env.pop("MPLCONFIGDIR")
            env |= visible
            raw = run_process(
                local_command(job.command, mapping), env=env, timeout_s=job.timeout_s, cwd=job.code_dir
            )
        except BaseException:
            remove_staging(staging)
            raise
        return finish(job, raw, staging, self.name)

    def _refuse_untrusted(self, job: Job) -> None:
        if not job.trusted and not self.unsafe_local:
            raise UnsafeLocalRefused(
                f"job {job.name} runs agent-written code, and the local sandbox is a plain subprocess with "
                "your own rights (network, your files, your secrets); use --sandbox docker or bwrap, or pass "
                "--unsafe-local to accept that risk"
            )


def local_command(command: tuple[str, ...], mapping: dict[str, Path]) -> list[str]:
    """The command with `python` made this interpreter and contract paths made host paths."""
    argv = [
        sys.executable if i == 0 and arg in ("python", "python3") else arg for i, arg in enumerate(command)
    ]
    return [_map_path(arg, mapping) for arg in argv]


def _map_path(arg: str, mapping: dict[str, Path]) -> str:
    for mount, host in mapping.items():
        if arg == mount or arg.startswith(mount + "/"):
            return str(host) + arg[len(mount) :]
    return arg
