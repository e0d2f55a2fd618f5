"""The Python environment a sandbox mounts read-only when its image carries no packages.

Never the environment aar runs in (it holds labelled task corpora): the code-only job environment built
from it by `aar.sandbox.jobenv`, checked again for data packages right before it is handed out.
"""

from __future__ import annotations

import os
import stat
import sys
import sysconfig
from pathlib import Path

from aar.errors import InfraError
from aar.sandbox.jobenv import check_code_only, ensure_jobenv

PYENV_MOUNT = "/opt/aar-env"  # the image's .pth hook adds this as a site dir (sandbox/Dockerfile)
PYENV_VAR = "AAR_SANDBOX_PYENV"


def env_prefix() -> Path:
    """The environment to mount: $AAR_SANDBOX_PYENV, else the running interpreter's (sys.prefix)."""
    return Path(os.environ.get(PYENV_VAR) or sys.prefix)


def source_site_packages(prefix: Path | None = None) -> Path:
    """The site-packages folder of the (full) environment at `prefix`: what job environments are built from.

    Raises:
        InfraError: when there is none.
    """
    prefix = prefix or env_prefix()
    if prefix == Path(sys.prefix):
        path = Path(sysconfig.get_paths()["purelib"])
    else:
        candidates = sorted(prefix.glob("lib/python3*/site-packages"))
        if not candidates:
            raise InfraError(f"no lib/python3*/site-packages under {prefix}; set {PYENV_VAR} to a venv")
        path = candidates[-1]
    if not path.is_dir():
        raise InfraError(f"{path} is not a folder; set {PYENV_VAR} to the venv the sandbox should use")
    return path


def site_packages(prefix: Path | None = None) -> Path:
    """The code-only job environment built from the environment at `prefix`: the folder sandboxes mount.

    Raises:
        InfraError: when it cannot be built, or the sandbox user (uid 65534) could not read it.
        DataPackageInEnv: when it holds a package that ships labelled task data.
    """
    prefix = prefix or env_prefix()
    path = ensure_jobenv(source_site_packages(prefix), prefix)
    check_code_only(path)
    _check_world_readable(path)
    return path


def _check_world_readable(path: Path) -> None:
    if not path.is_dir():
        raise InfraError(f"{path} is not a folder; set {PYENV_VAR} to the venv the sandbox should use")
    mode = path.stat().st_mode
    if not (mode & stat.S_IROTH and mode & stat.S_IXOTH):
        raise InfraError(
            f"{path} is not readable by other users, so the sandbox user (uid 65534) cannot import from it; "
            f"`chmod -R o+rX {path}` or set {PYENV_VAR} to a venv outside /root"
        )


def python_tag(path: Path) -> str:
    """'python3.11' for .../lib/python3.11/site-packages: the interpreter the image must provide."""
    return path.parent.name
