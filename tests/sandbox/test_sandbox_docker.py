"""Docker specifics: the GPU request (attack 15) and stale containers after a host crash (attack 14)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aar.sandbox.base import Job, Sandbox, Status
from aar.sandbox.docker import LABEL, container_options


def _options(devices: tuple[str, ...]) -> dict[str, Any]:
    fake = SimpleNamespace(image="img", pyenv=None, owner="1-2")
    job = Job(Path("/c"), Path("/d"), Path("/o"), devices=devices)
    return container_options(job, fake, Path("/staging"))  # type: ignore[arg-type]


def test_gpu_request_names_exactly_the_assigned_devices() -> None:
    (request,) = _options(("2",))["device_requests"]
    assert request["DeviceIDs"] == ["2"]
    assert request["Count"] in (0, None)  # never "all GPUs"
    assert request["Capabilities"] == [["gpu"]]
    assert _options(())["device_requests"] == []


def test_hardening_options() -> None:
    opts = _options(())
    assert opts["network_mode"] == "none" and opts["read_only"] and opts["init"]
    assert opts["cap_drop"] == ["ALL"] and opts["security_opt"] == ["no-new-privileges:true"]
    assert opts["user"] == "65534:65534" and opts["mem_limit"] == opts["memswap_limit"]
    assert {v["bind"]: v["mode"] for v in opts["volumes"].values()} == {
        "/code": "ro",
        "/data": "ro",
        "/out": "rw",
    }


@pytest.mark.gpu
@pytest.mark.docker
def test_gpu_job_sees_only_its_device(docker_sandbox: Sandbox, make_job: Any) -> None:
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA GPU on this machine")
    job = make_job('print(subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout)')
    result = docker_sandbox.run(dataclasses.replace(job, devices=("0",)))
    assert result.status is Status.OK, result
    assert result.stdout.count("GPU ") == 1


CRASHING_HOST = """
import sys
from pathlib import Path
from aar.sandbox.docker import DockerSandbox
from aar.sandbox.base import Job
root = Path(sys.argv[1])
DockerSandbox().run(Job(root / "code", root / "data", root / "out", timeout_s=600))
"""


@pytest.mark.docker
def test_stale_containers_removed_at_start_up(docker_sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("time.sleep(600)")
    host = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CRASHING_HOST), str(job.code_dir.parent)])
    try:
        assert _wait_for(lambda: _containers_of(host.pid) != []), "the job container never started"
    finally:
        os.kill(host.pid, signal.SIGKILL)
        host.wait()
    assert _containers_of(host.pid) != []  # left behind by the killed host process
    from aar.sandbox.docker import DockerSandbox

    DockerSandbox()
    assert _containers_of(host.pid) == []
    staging = Path("/tmp/aar-sandbox")
    assert [p for p in staging.iterdir() if p.name.startswith(f"{host.pid}-")] == []


def _containers_of(pid: int) -> list[str]:
    """Sandbox containers started by host process `pid` (their owner label), never anyone else's."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format", f'{{{{.ID}}}} {{{{.Label "{LABEL}"}}}}'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [
        line.split()[0]
        for line in out.stdout.splitlines()
        if line.split()[1:2] and line.split()[1].startswith(f"{pid}-")
    ]


def _wait_for(condition: Any, timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False
