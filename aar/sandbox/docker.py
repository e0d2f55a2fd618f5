"""`DockerSandbox`: each job in a fresh, hardened, labelled container that is always removed."""

from __future__ import annotations

import logging
import math
import os
import socket
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import DeviceRequest, LogConfig, Mount, Ulimit

from aar.errors import InfraError
from aar.sandbox.base import (
    CODE_MOUNT,
    DATA_MOUNT,
    JOB_ENV,
    OUT_MOUNT,
    ExecResult,
    Job,
    decode_tail,
    model_mounts,
)
from aar.sandbox.finish import (
    RawOutcome,
    Stopwatch,
    finish,
    owner_alive,
    owner_tag,
    prepare_out_dir,
    remove_stale_staging,
)
from aar.sandbox.gpus import GPUS_VAR, Gpu, GpuUnavailable, assigned, gpu_host, host_gpus
from aar.sandbox.outputs import SANDBOX_UID, Staging, make_staging, remove_staging
from aar.sandbox.pyenv import PYENV_MOUNT, site_packages

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "aar-sandbox:cpu"
GPU_IMAGE = "aar-sandbox:gpu"  # the default on machines with an NVIDIA GPU (`aar sandbox build --gpu`)
IMAGE_VAR = "AAR_SANDBOX_IMAGE"
LABEL = "org.aar.sandbox"  # every container we start carries it; its value is the owner tag
HOST_LABEL = "org.aar.sandbox.host"
ENV_LABEL = "org.aar.sandbox.env"  # "0": the image has no packages; mount the host env (sandbox/Dockerfile)
LOG_TAIL_LINES = 200  # docker splits long lines at 16 KB, so this bounds what we fetch to ~3 MB
KILL_GRACE_S = 30.0
# The job command runs under `timeout -s KILL` this long past the host's own limit, so a container whose
# host process died (and can no longer kill it) stops by itself; the next host start removes it.
INNER_GRACE_S = 10


class EngineUnavailable(InfraError):
    """No Docker engine answers."""


class ImageMissing(InfraError):
    """The sandbox image is not built."""


def connect(timeout_s: float = 10.0) -> docker.DockerClient:
    """A client for the engine at DOCKER_HOST (or the default socket) that has answered a ping.

    Raises:
        EngineUnavailable: with how to start one or pick another sandbox.
    """
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except (DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailable(
            f"no Docker engine answers ({exc}); start it (`sudo systemctl start docker`, or `dockerd &` as "
            "root), or run with --sandbox bwrap"
        ) from exc
    return client


def default_image() -> str:
    """$AAR_SANDBOX_IMAGE, else the GPU image on a machine with an NVIDIA GPU, else the CPU image."""
    return os.environ.get(IMAGE_VAR) or (GPU_IMAGE if gpu_host() else DEFAULT_IMAGE)


def build_hint(image: str) -> str:
    """The command that builds `image`."""
    if image == GPU_IMAGE:
        return "`aar sandbox build --gpu`"
    return "`aar sandbox build`" if image == DEFAULT_IMAGE else f"`aar sandbox build --image {image}`"


def engine_answers() -> bool:
    """True when a Docker engine answers a ping within a couple of seconds."""
    try:
        connect(timeout_s=3).close()
    except EngineUnavailable:
        return False
    return True


class DockerSandbox:
    """Runs jobs in containers: no network, read-only root, uid 65534, no capabilities, hard limits."""

    name = "docker"

    def __init__(
        self,
        *,
        image: str = DEFAULT_IMAGE,
        client: docker.DockerClient | None = None,
        staging_root: Path | None = None,
        pyenv_prefix: Path | None = None,
        gpus: Sequence[Gpu] | None = None,
    ) -> None:
        """Connect, check the image, and remove what killed earlier host processes left behind.

        `gpus`: the engine host's GPUs (default: this machine's, when the engine is local).

        Raises:
            EngineUnavailable: no engine answers.
            ImageMissing: the image is not built.
        """
        self.client = client or connect()
        self.image = image
        self.staging_root = staging_root or Path(tempfile.gettempdir()) / "aar-sandbox"
        self.staging_root.mkdir(parents=True, exist_ok=True)
        self.pyenv = None if self._image_bundles_env() else site_packages(pyenv_prefix)
        self.owner = owner_tag()
        local = str(self.client.api.base_url).startswith("http+docker://")
        self.gpus = list(gpus) if gpus is not None else (host_gpus() if local else None)
        remove_stale(self.client, self.staging_root, self._empty_as_sandbox_user)

    def _image_bundles_env(self) -> bool:
        try:
            labels = self.client.images.get(self.image).labels or {}
        except ImageNotFound:
            raise ImageMissing(
                f"sandbox image {self.image} not found; build it with {build_hint(self.image)}"
            ) from None
        return bool(labels.get(ENV_LABEL, "1") == "1")

    def run(self, job: Job) -> ExecResult:
        """Run `job` in a fresh container; the container and the staging /out are removed afterwards.

        Raises:
            GpuUnavailable: the job is assigned a GPU the (local) engine host does not have, or Docker
                cannot hand it over (no NVIDIA container toolkit), before anything starts.
        """
        if self.gpus is not None:
            assigned(job.devices, self.gpus, job.name)
        prepare_out_dir(job)
        staging = make_staging(
            self.staging_root / f"{self.owner}-{uuid.uuid4().hex[:12]}",
            size_mb=job.out_mb, max_files=job.out_files, owner_uid=SANDBOX_UID,
        )  # fmt: skip
        try:
            raw = self._run_container(job, staging)
        except BaseException:
            remove_staging(staging, self._empty_as_sandbox_user)
            raise
        return finish(job, raw, staging, self.name, self._empty_as_sandbox_user)

    def _run_container(self, job: Job, staging: Staging) -> RawOutcome:
        try:
            container = self.client.containers.create(**container_options(job, self, staging.path))
        except ImageNotFound:
            raise ImageMissing(
                f"sandbox image {self.image} not found; run {build_hint(self.image)}"
            ) from None
        except DockerException as exc:
            raise _refused(job, "create", exc) from exc
        try:
            return _start_and_wait(container, job)
        finally:
            _remove(container)

    def _empty_as_sandbox_user(self, path: Path) -> None:
        """Delete what the sandbox user wrote in a staging folder we (not root) cannot delete ourselves."""
        self.client.containers.run(
            self.image, ["find", OUT_MOUNT, "-mindepth", "1", "-delete"], remove=True, network_mode="none",
            user=f"{SANDBOX_UID}:{SANDBOX_UID}", volumes={str(path): {"bind": OUT_MOUNT, "mode": "rw"}},
            labels={LABEL: owner_tag(), HOST_LABEL: socket.gethostname()},
        )  # fmt: skip


def container_options(job: Job, sandbox: DockerSandbox, out_path: Path) -> dict[str, Any]:
    """Keyword arguments for `containers.create`: every hardening setting in one place."""
    mem = f"{job.memory_mb}m"
    fsize = max(job.out_mb, job.tmp_mb) * 2**20
    volumes = {
        str(job.code_dir.resolve()): {"bind": CODE_MOUNT, "mode": "ro"},
        str(job.data_dir.resolve()): {"bind": DATA_MOUNT, "mode": "ro"},
        str(out_path): {"bind": OUT_MOUNT, "mode": "rw"},
    }
    if sandbox.pyenv is not None:
        volumes[str(sandbox.pyenv)] = {"bind": PYENV_MOUNT, "mode": "ro"}
    return {
        "image": sandbox.image,
        "command": inner_timeout(job),
        "name": f"aar-{_safe(job.name)}-{uuid.uuid4().hex[:10]}",
        "labels": {LABEL: sandbox.owner, HOST_LABEL: socket.gethostname(), "org.aar.job": job.name},
        "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        # No CUDA_VISIBLE_DEVICES: the NVIDIA runtime shows the container only its GPUs, numbered from 0.
        "environment": dict(JOB_ENV, PYTHONNOUSERSITE="1", **{GPUS_VAR: str(len(job.devices))}),
        "working_dir": "/tmp",
        "hostname": "sandbox",
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "init": True,
        "pids_limit": job.pids,
        "mem_limit": mem,
        "memswap_limit": mem,  # equal to mem_limit: no swap on top
        "nano_cpus": int(job.cpus * 1e9),
        "shm_size": f"{job.shm_mb}m",
        "tmpfs": {"/tmp": f"size={job.tmp_mb}m,nr_inodes={job.out_files},mode=1777,nosuid,nodev"},
        "ulimits": [Ulimit(name="fsize", soft=fsize, hard=fsize), Ulimit(name="core", soft=0, hard=0)],
        "log_config": LogConfig(type=LogConfig.types.JSON, config={"max-size": "1m", "max-file": "1"}),
        "volumes": volumes,
        # Models by Mount, not in `volumes` (keyed by host path): two roles may share one folder.
        "mounts": [
            Mount(target, str(folder), type="bind", read_only=True) for folder, target in model_mounts(job)
        ],
        "device_requests": gpu_requests(job.devices),
        "detach": True,
    }


def inner_timeout(job: Job) -> list[str]:
    """The job command under coreutils `timeout`: SIGKILL at the host's limit plus INNER_GRACE_S."""
    return ["timeout", "-s", "KILL", str(math.ceil(job.timeout_s) + INNER_GRACE_S), *job.command]


def gpu_requests(devices: tuple[str, ...]) -> list[DeviceRequest]:
    """Exactly the assigned GPUs, none for a CPU job (never `count=-1`, which would mean all of them)."""
    if not devices:
        return []
    return [DeviceRequest(driver="nvidia", device_ids=list(devices), capabilities=[["gpu"]])]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_.-" else "-" for c in name)[:40] or "job"


def _refused(job: Job, step: str, exc: DockerException) -> InfraError:
    """Docker's refusal to create or start a job's container, as one clear error (a GPU one if it had GPUs)."""
    if job.devices:
        return GpuUnavailable(
            f"docker could not give job {job.name} GPU {','.join(job.devices)} ({step}: {exc}); is the NVIDIA "
            "container toolkit installed (`aar sandbox doctor`)?"
        )
    return InfraError(f"docker could not {step} the job container: {exc}")


def _start_and_wait(container: Container, job: Job) -> RawOutcome:
    watch = Stopwatch()
    try:
        container.start()
    except DockerException as exc:  # e.g. no NVIDIA runtime for the device request
        raise _refused(job, "start", exc) from exc
    timed_out = False
    try:
        container.wait(timeout=job.timeout_s)
    except requests.exceptions.RequestException:  # the read timed out: the job is past its limit
        timed_out = True
        _kill(container)
    duration = watch.elapsed()
    container.reload()
    state = container.attrs["State"]
    return RawOutcome(
        exit_code=state.get("ExitCode"),
        duration_s=duration,
        stdout=decode_tail(container.logs(stdout=True, stderr=False, tail=LOG_TAIL_LINES)),
        stderr=decode_tail(container.logs(stdout=False, stderr=True, tail=LOG_TAIL_LINES)),
        timed_out=timed_out,
        oom=bool(state.get("OOMKilled")),
    )


def _kill(container: Container) -> None:
    try:
        container.kill()
    except NotFound:
        return
    except DockerException as exc:  # it may have exited between the timeout and the kill
        log.info("kill %s: %s", container.name, exc)
    container.wait(timeout=KILL_GRACE_S)


def _remove(container: Container) -> None:
    try:
        container.remove(force=True, v=True)
    except NotFound:
        pass
    except DockerException as exc:
        log.error("could not remove container %s: %s (it is labelled %s)", container.name, exc, LABEL)


def remove_own(timeout_s: float = 10.0) -> int:
    """Kill and remove every container this process started; returns how many. For a hard stop (SIGTERM,
    Ctrl-C twice): a job's container is no child process, so killing the children leaves it running."""
    try:
        client = connect(timeout_s)
        mine = client.containers.list(all=True, filters={"label": f"{LABEL}={owner_tag()}"})
    except (InfraError, DockerException, requests.exceptions.RequestException) as exc:
        log.warning("could not list this process's sandbox containers: %s", exc)
        return 0
    for container in mine:
        _remove(container)  # forced: a running one is killed
    return len(mine)


def remove_stale(client: docker.DockerClient, staging_root: Path, force_remove: Any = None) -> int:
    """Remove containers and staging folders whose host process is gone; returns how many containers."""
    host = socket.gethostname()
    removed = 0
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        labels = container.labels
        if labels.get(HOST_LABEL) == host and not owner_alive(labels.get(LABEL, "")):
            log.warning("removing stale sandbox container %s", container.name)
            _remove(container)
            removed += 1
    remove_stale_staging(staging_root, force_remove)
    return removed
