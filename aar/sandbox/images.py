"""Building the sandbox images and checking what a machine has (`aar sandbox build` / `doctor`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aar.config import REPO_ROOT
from aar.errors import InfraError
from aar.sandbox.base import Job, Sandbox
from aar.sandbox.docker import DEFAULT_IMAGE, ENV_LABEL, GPU_IMAGE, EngineUnavailable, build_hint, connect
from aar.sandbox.gpus import host_gpus
from aar.sandbox.pyenv import python_tag, site_packages

SANDBOX_DIR = REPO_ROOT / "sandbox"
# What the doctor's test job runs: which torch, and which GPUs it sees.
GPU_PROBE = (
    "import json, torch; n = torch.cuda.device_count(); "
    "print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, 'gpus': n, "
    "'names': [torch.cuda.get_device_name(i) for i in range(n)]}))"
)


@dataclass(frozen=True)
class Check:
    """One line of `aar sandbox doctor`."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def build(
    *, image: str = DEFAULT_IMAGE, registry: bool = False, gpu: bool = False, force: bool = False
) -> None:
    """Build the sandbox image: from a registry base (`registry`) or debootstrap + docker import.

    `gpu` with `registry` builds sandbox/Dockerfile.gpu (torch with CUDA baked in, the project's pin);
    `gpu` alone builds the debootstrap image under the GPU tag: it mounts the host's environment, whose
    torch (a CUDA build on a GPU host) the jobs then use.

    Raises:
        InfraError: the build failed or its inputs are missing.
    """
    if not SANDBOX_DIR.is_dir():
        raise InfraError(f"{SANDBOX_DIR} not found; run from a checkout of aar")
    if registry:
        dockerfile = SANDBOX_DIR / ("Dockerfile.gpu" if gpu else "Dockerfile")
        argv = ["docker", "build", "-t", image, "-f", str(dockerfile), str(SANDBOX_DIR)]
        env = dict(os.environ)
    else:
        argv = ["bash", str(SANDBOX_DIR / "build_base.sh"), *(["--force"] if force else [])]
        env = dict(os.environ, AAR_SANDBOX_IMAGE=image)
    proc = subprocess.run(argv, env=env, check=False)
    if proc.returncode != 0:
        raise InfraError(f"`{' '.join(argv)}` failed (exit {proc.returncode}); see its output above")


def doctor(image: str | None = None, *, test_job: bool = True) -> list[Check]:
    """Every check, in order: engine, image, GPU runtime, GPUs, mounted environment, bwrap, /out cap, and
    (`test_job`) what a test job in the first working sandbox sees: its torch and GPUs."""
    from aar.sandbox.docker import default_image

    image = image or default_image()
    checks = [_check_engine()]
    if checks[0].ok:
        checks += [_check_image(image), _check_gpu_runtime()]
    checks += [_check_gpus(), _check_pyenv(), _check_bwrap(), _check_out_cap()]
    if test_job:
        checks.append(_check_test_job(checks, image))
    return checks


def _check_gpus() -> Check:
    gpus = host_gpus()
    if gpus:
        return Check(
            "gpus", True, f"{len(gpus)} NVIDIA GPU(s): " + ", ".join(f"{g.index} ({g.uuid})" for g in gpus)
        )
    return Check("gpus", True, "no GPU (CPU jobs only)")


def _check_engine() -> Check:
    try:
        version = connect(timeout_s=3).version().get("Version", "?")
    except EngineUnavailable as exc:
        return Check("docker engine", False, str(exc), "start dockerd, or use --sandbox bwrap")
    return Check("docker engine", True, f"answers (version {version})")


def _check_image(image: str) -> Check:
    from docker.errors import ImageNotFound

    try:
        labels = connect().images.get(image).labels or {}
    except ImageNotFound:
        return Check("sandbox image", False, f"{image} not found", build_hint(image).strip("`"))
    mode = "packages inside" if labels.get(ENV_LABEL, "1") == "1" else "host environment mounted read-only"
    default = (
        "the GPU image" if image == GPU_IMAGE else "the CPU image" if image == DEFAULT_IMAGE else "custom"
    )
    return Check("sandbox image", True, f"{image} ({mode}; {default})")


def _check_gpu_runtime() -> Check:
    runtimes = connect().info().get("Runtimes", {})
    if "nvidia" in runtimes or shutil.which("nvidia-container-runtime-hook") or shutil.which("nvidia-ctk"):
        return Check("gpu runtime", True, "NVIDIA container toolkit present")
    return Check("gpu runtime", True, "none (CPU jobs only)", "install nvidia-container-toolkit for GPU jobs")


def _check_pyenv() -> Check:
    try:
        path = site_packages()
    except InfraError as exc:
        return Check("python environment", False, str(exc), "set AAR_SANDBOX_PYENV")
    want = f"python{sys.version_info.major}.{sys.version_info.minor}"
    ok = python_tag(path) == want
    return Check("python environment", ok, f"{path} ({python_tag(path)})", "" if ok else f"use a {want} venv")


def _check_bwrap() -> Check:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Check("bubblewrap", False, "not installed", "apt-get install bubblewrap")
    proc = subprocess.run(
        [bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, check=False
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode().strip()
        return Check("bubblewrap", False, detail, "enable unprivileged user namespaces (sysctl)")
    return Check("bubblewrap", True, bwrap)


def _check_out_cap() -> Check:
    if os.geteuid() == 0:
        return Check("/out size cap", True, "a size-capped tmpfs per job (running as root)")
    return Check(
        "/out size cap", False, "not root: /out is a plain folder, capped only per file", "run as root"
    )


def _check_test_job(checks: list[Check], image: str) -> Check:
    """Run GPU_PROBE in Docker (else bwrap) on the host's first GPU, if any, and say what it saw."""
    ok = {c.name for c in checks if c.ok}
    gpus = host_gpus()
    devices = (str(gpus[0].index),) if gpus else ()
    try:
        if {"docker engine", "sandbox image"} <= ok:
            from aar.sandbox.docker import DockerSandbox

            sandbox: Sandbox = DockerSandbox(image=image)
        elif "bubblewrap" in ok:
            from aar.sandbox.bwrap import BwrapSandbox

            sandbox = BwrapSandbox()
        else:
            return Check("test job", False, "no sandbox to run it in", "fix the checks above")
        seen = _probe(sandbox, devices)
    except InfraError as exc:
        return Check("test job", False, str(exc), "see the checks above")
    return _judge(sandbox.name, devices, seen)


def _probe(sandbox: Sandbox, devices: tuple[str, ...]) -> dict[str, object] | str:
    """What the probe printed (parsed), or why it failed."""
    with tempfile.TemporaryDirectory(prefix="aar-doctor-") as tmp:
        root = Path(tmp)
        for name in ("code", "data"):
            (root / name).mkdir(mode=0o755)
        root.chmod(0o755)
        job = Job(
            root / "code", root / "data", root / "out", command=("python", "-c", GPU_PROBE),
            timeout_s=300, memory_mb=4096, devices=devices, trusted=True, name="doctor",
        )  # fmt: skip
        result = sandbox.run(job)
    if not result.ok:
        return f"{result.reason}: {result.stderr.strip()[-300:]}"
    try:
        seen: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"unexpected output {result.stdout[-200:]!r}"
    return seen


def _judge(sandbox: str, devices: tuple[str, ...], seen: dict[str, object] | str) -> Check:
    if isinstance(seen, str):
        return Check("test job", False, f"{sandbox}: {seen}", "see the error")
    torch = f"torch {seen['torch']}" + (f", CUDA {seen['cuda']}" if seen.get("cuda") else ", a CPU build")
    if not devices:
        return Check(
            "test job", True, f"{sandbox}: no GPU (the host has none; the job saw {seen['gpus']}; {torch})"
        )
    if seen["gpus"] == len(devices):
        return Check("test job", True, f"{sandbox}: saw GPU {devices[0]}: {seen['names']} ({torch})")
    return Check(
        "test job", False, f"{sandbox}: assigned GPU {devices[0]} but saw {seen['gpus']} ({torch})",
        "install the NVIDIA container toolkit, or build the GPU image (`aar sandbox build --gpu`)",
    )  # fmt: skip
