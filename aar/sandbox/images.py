"""Building the sandbox images and checking what a machine has (`aar sandbox build` / `doctor`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from aar.config import REPO_ROOT
from aar.errors import InfraError
from aar.sandbox.docker import DEFAULT_IMAGE, ENV_LABEL, EngineUnavailable, connect
from aar.sandbox.pyenv import python_tag, site_packages

SANDBOX_DIR = REPO_ROOT / "sandbox"


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
    """Build the sandbox image: from a registry base (`registry`/`gpu`) or debootstrap + docker import.

    Raises:
        InfraError: the build failed or its inputs are missing.
    """
    if not SANDBOX_DIR.is_dir():
        raise InfraError(f"{SANDBOX_DIR} not found; run from a checkout of aar")
    if gpu or registry:
        dockerfile = SANDBOX_DIR / ("Dockerfile.gpu" if gpu else "Dockerfile")
        argv = ["docker", "build", "-t", image, "-f", str(dockerfile), str(SANDBOX_DIR)]
        env = dict(os.environ)
    else:
        argv = ["bash", str(SANDBOX_DIR / "build_base.sh"), *(["--force"] if force else [])]
        env = dict(os.environ, AAR_SANDBOX_IMAGE=image)
    proc = subprocess.run(argv, env=env, check=False)
    if proc.returncode != 0:
        raise InfraError(f"`{' '.join(argv)}` failed (exit {proc.returncode}); see its output above")


def doctor(image: str = DEFAULT_IMAGE) -> list[Check]:
    """Every check, in order: engine, image, mounted environment, GPU runtime, bwrap."""
    checks = [_check_engine()]
    if checks[0].ok:
        checks.append(_check_image(image))
        checks.append(_check_gpu_runtime())
    checks.append(_check_pyenv())
    checks.append(_check_bwrap())
    checks.append(_check_out_cap())
    return checks


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
        return Check("sandbox image", False, f"{image} not found", "aar sandbox build")
    mode = "packages inside" if labels.get(ENV_LABEL, "1") == "1" else "host environment mounted read-only"
    return Check("sandbox image", True, f"{image} ({mode})")


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
