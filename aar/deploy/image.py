"""`aar deploy build`: the team deployment's one image, built from this checkout with no image registry.

Two images, both from deploy/: the environment (`aar-deploy-env:<key>`: Debian's PostgreSQL and
bubblewrap on the debootstrap base, plus a hardlinked copy of the site-packages aar runs in and its
code-only job environment) is keyed by its content and built only when a dependency changes; the app
(`aar-app:latest`) adds this checkout's source on top, in seconds, and Docker's cache makes an unchanged
rebuild a no-op. Nothing is pip-installed, at build time or at start-up.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aar.config import REPO_ROOT
from aar.errors import InfraError, UserError
from aar.sandbox.pyenv import env_prefix, site_packages, source_site_packages

log = logging.getLogger(__name__)

DEPLOY_DIR = REPO_ROOT / "deploy"
APP_IMAGE = "aar-app:latest"
ENV_REPOSITORY = "aar-deploy-env"
BASE_IMAGE = "aar-sandbox-base:bookworm"
# Debian bookworm's python3: the image runs the host's site-packages with it, so the versions must match.
IMAGE_PYTHON = "python3.11"
# aar's own editable install in the host venv: the image carries the source instead.
NOT_COPIED = ("__editable__.aar-", "__editable___aar_", "aar-0.")
# What of this checkout goes into the app image.
SOURCES = ("aar", "experiment_templates", "sandbox", "pyproject.toml")
Runner = Callable[[list[str]], None]


@dataclass(frozen=True)
class BuildResult:
    """What `build` made: the app image, the environment image under it, and whether that was rebuilt."""

    image: str
    env_image: str
    env_built: bool
    seconds: float


def build(
    *,
    image: str = APP_IMAGE,
    prefix: Path | None = None,
    base: str = BASE_IMAGE,
    force: bool = False,
    run: Runner | None = None,
) -> BuildResult:
    """Build the deploy image from this checkout and the Python environment at `prefix` (aar's own).

    Raises:
        UserError: the environment is not a Python 3.11 one (Debian bookworm's).
        InfraError: Docker or debootstrap failed, or deploy/ is missing.
    """
    run = run or docker_run
    started = time.monotonic()
    if not (DEPLOY_DIR / "Dockerfile").is_file():
        raise InfraError(f"{DEPLOY_DIR}/Dockerfile not found; run from a checkout of aar")
    prefix = prefix or env_prefix()
    site = source_site_packages(prefix)
    if site.parent.name != IMAGE_PYTHON:
        raise UserError(
            f"the deploy image runs Debian's {IMAGE_PYTHON}; {prefix} is a {site.parent.name} environment"
        )
    jobenv = site_packages(prefix).parents[2]  # <root>/jobenv-<key>/lib/<python>/site-packages
    ensure_base(base, run)
    env_image = f"{ENV_REPOSITORY}:{env_key(site, jobenv, base)}"
    env_built = force or not image_exists(env_image)
    if env_built:
        build_env(env_image, site=site, jobenv=jobenv, base=base, run=run)
    build_app(image, env_image=env_image, run=run)
    if env_built:
        remove_old_envs(keep=env_image)
    return BuildResult(image, env_image, env_built, time.monotonic() - started)


def remove_old_envs(*, keep: str) -> list[str]:
    """Untag the environment images of earlier dependency sets (4 GB each); one still in use stays."""
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", ENV_REPOSITORY],
                            capture_output=True, text=True, check=False).stdout.split()  # fmt: skip
    old = [tag for tag in listed if tag != keep]
    for tag in old:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True, check=False)
    return old


def docker_run(argv: list[str]) -> None:
    """Run a build step with its output on our stderr.

    Raises:
        InfraError: the step failed.
    """
    proc = subprocess.run(argv, stdout=sys.stderr, check=False)
    if proc.returncode != 0:
        raise InfraError(f"`{' '.join(argv[:4])} …` failed (exit {proc.returncode}); see its output above")


def image_exists(image: str) -> bool:
    """True when the local Docker engine holds `image`."""
    proc = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    return proc.returncode == 0


def ensure_base(base: str, run: Runner) -> None:
    """The debootstrap'd Debian base (sandbox/build_base.sh makes it once, from Debian's mirror)."""
    if not image_exists(base):
        run(["env", f"AAR_SANDBOX_BASE_IMAGE={base}", "bash", str(REPO_ROOT / "sandbox" / "build_base.sh")])


def env_key(site: Path, jobenv: Path, base: str) -> str:
    """The environment image's tag: its Dockerfile, base, every distribution copied in, the job environment."""
    dists = sorted(p.name for p in site.iterdir() if p.name.endswith(".dist-info") and not _skipped(p.name))
    parts = [(DEPLOY_DIR / "Dockerfile.env").read_text(), base, site.parent.name, jobenv.name, dists]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def build_env(env_image: str, *, site: Path, jobenv: Path, base: str, run: Runner) -> None:
    """Stage the environment (hardlinks, so seconds) and build deploy/Dockerfile.env from it."""
    with _staging("aar-deploy-env-") as ctx:
        shutil.copy2(DEPLOY_DIR / "Dockerfile.env", ctx / "Dockerfile")
        link_tree(site, ctx / "opt/aar/venv/lib" / site.parent.name / "site-packages", skip=_skipped)
        link_tree(jobenv, ctx / "opt/aar/aar-jobenv" / jobenv.name)
        log.info("building %s from %s (a few minutes, once per set of dependencies)", env_image, site)
        run(["docker", "build", "-q", "--force-rm", "-t", env_image, "--build-arg", f"BASE={base}",
             "--build-arg", f"PYTHON={site.parent.name}", str(ctx)])  # fmt: skip


def build_app(image: str, *, env_image: str, run: Runner) -> None:
    """Copy this checkout's sources and build deploy/Dockerfile on top of the environment image."""
    with _staging("aar-deploy-app-") as ctx:
        shutil.copy2(DEPLOY_DIR / "Dockerfile", ctx / "Dockerfile")
        for name in ("entrypoint.sh", "aar-launcher.py"):
            shutil.copy2(DEPLOY_DIR / name, ctx / name)
        for name in SOURCES:
            source = REPO_ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, ctx / "src" / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                (ctx / "src").mkdir(exist_ok=True)
                shutil.copy2(source, ctx / "src" / name)
        before = image_id(image)
        run(["docker", "build", "-q", "--force-rm", "-t", image,
             "--build-arg", f"ENV_IMAGE={env_image}", str(ctx)])  # fmt: skip
    if before and before != image_id(image):  # the replaced build, untagged now: a layer per rebuild
        subprocess.run(["docker", "image", "rm", before], capture_output=True, check=False)


def image_id(image: str) -> str:
    """The local image's id, or "" when there is none."""
    proc = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def link_tree(source: Path, target: Path, *, skip: Callable[[str], bool] = lambda _: False) -> None:
    """Copy `source` to `target` as hardlinks (a plain copy across file systems); symlinks stay symlinks."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=link, ignore=_ignore(skip))


def _ignore(skip: Callable[[str], bool]) -> Callable[[str, list[str]], Iterable[str]]:
    return lambda _folder, names: [n for n in names if skip(n)]


def _skipped(name: str) -> bool:
    return name.startswith(NOT_COPIED)


@contextmanager
def _staging(prefix: str) -> Iterator[Path]:
    """A temporary build context beside the environment's files (hardlinks need the same file system)."""
    root = Path(os.environ.get("AAR_DEPLOY_STAGING", "/var/tmp"))
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root if root.is_dir() else None))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
