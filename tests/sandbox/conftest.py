"""Fixtures for the sandbox tests: real sandboxes (docker, bwrap, local) and a job factory.

Under CI=true a missing Docker engine or bwrap fails the marked tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aar.errors import InfraError
from aar.sandbox.base import Job, Sandbox
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template
from tests.conftest import TEMPLATES

# Runner scripts start with this: try an action, record the exception name (or "ok") in /out/report.json.
PRELUDE = """
import errno, json, os, socket, subprocess, sys, time
REPORT = {}
def attempt(name, fn):
    try:
        result = fn()
        REPORT[name] = "ok" if result is None else result
    except BaseException as exc:
        REPORT[name] = type(exc).__name__ + ":" + str(getattr(exc, "errno", ""))
def save():
    with open("/out/report.json", "w") as f:
        json.dump(REPORT, f)
"""

DATA_FILES = {
    "config.json": {"template": "test", "seeds": [0]},
    "seed_0/dev.jsonl": [{"id": f"d{i}", "text": f"dev {i}", "weak_p": 0.5} for i in range(4)],
    "seed_0/eval.jsonl": [{"id": f"e{i}", "text": f"eval {i}"} for i in range(4)],
}
HELD_OUT_NAME = "heldout_labels_7f3a.jsonl"


def _unavailable(what: str, exc: Exception) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI but unavailable: {exc}")
    pytest.skip(f"{what} unavailable: {exc}")


@pytest.fixture(scope="session")
def docker_sandbox() -> Sandbox:
    from aar.sandbox.docker import DockerSandbox

    try:
        return DockerSandbox(image=os.environ.get("AAR_SANDBOX_IMAGE", "aar-sandbox:cpu"))
    except InfraError as exc:
        _unavailable("a Docker engine with the sandbox image", exc)
        raise


@pytest.fixture(scope="session")
def bwrap_sandbox() -> Sandbox:
    from aar.sandbox.bwrap import BwrapSandbox

    try:
        return BwrapSandbox()
    except InfraError as exc:
        _unavailable("bubblewrap", exc)
        raise


@pytest.fixture(
    params=[pytest.param("docker", marks=pytest.mark.docker), pytest.param("bwrap", marks=pytest.mark.bwrap)]
)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """Each attack runs once in Docker and once under bwrap."""
    return request.getfixturevalue(f"{request.param}_sandbox")  # type: ignore[no-any-return]


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A world-traversable folder (pytest's tmp_path is 0700, which the sandbox user cannot enter)."""
    path = Path(tempfile.mkdtemp(prefix="aar-sbtest-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


MakeJob = Callable[..., Job]


@pytest.fixture
def make_job(workdir: Path) -> MakeJob:
    """A job whose runner.py is PRELUDE + `script`; /data holds the allowed files, labels sit beside it."""
    counter = iter(range(1000))

    def make(script: str, **limits: Any) -> Job:
        root = workdir / f"job{next(counter)}"
        code, data = root / "code", root / "data"
        code.mkdir(parents=True)
        (code / "runner.py").write_text(PRELUDE + textwrap.dedent(script))
        _write_data(data)
        (root / HELD_OUT_NAME).write_text('{"id": "e0", "label": 1}\n')
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        defaults: dict[str, Any] = {
            "timeout_s": 30,
            "memory_mb": 512,
            "pids": 128,
            "tmp_mb": 32,
            "out_mb": 16,
        }
        return Job(code, data, root / "out", name="attack", **(defaults | limits))

    return make


def _write_data(data: Path) -> None:
    for rel, content in DATA_FILES.items():
        path = data / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, list):
            path.write_text("".join(json.dumps(row) + "\n" for row in content))
        else:
            path.write_text(json.dumps(content))


TINY = SplitSizes(weak_train=48, w2s_train=96, dev=32, test=32)


@pytest.fixture(scope="module")
def tiny_setup(shared_cache: Path) -> Setup:
    """A tiny real setup (static64→MiniLM-L6 on Rotten Tomatoes) for jobs run through run_experiment."""
    return Setup(
        "rotten_tomatoes", parse_pair("static64→minilm-l6"), get_template("probe", TEMPLATES), sizes=TINY,
        cache_dir=shared_cache,
    )  # fmt: skip
