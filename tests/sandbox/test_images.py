"""Images (issue 10, item 4): the GPU image's torch is the project's, GPU hosts default to it, and
`aar sandbox doctor` reports the GPU runtime, the image and what a real test job saw."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from aar.config import REPO_ROOT
from aar.sandbox.docker import DEFAULT_IMAGE, GPU_IMAGE, build_hint, default_image
from aar.sandbox.gpus import host_gpus


def _pin(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    assert found, pattern
    return found.group(1)


def test_gpu_and_cpu_images_pin_the_projects_torch():
    project = _pin((REPO_ROOT / "pyproject.toml").read_text(), r'"torch==([^"]+)"')
    for dockerfile in ("Dockerfile.gpu", "Dockerfile"):
        assert _pin((REPO_ROOT / "sandbox" / dockerfile).read_text(), r"ARG TORCH_VERSION=(\S+)") == project


def test_default_image_is_cpu_here_and_env_wins(monkeypatch: pytest.MonkeyPatch):
    assert host_gpus() == [], "this test expects a host without an NVIDIA GPU"
    monkeypatch.delenv("AAR_SANDBOX_IMAGE", raising=False)
    assert default_image() == DEFAULT_IMAGE
    monkeypatch.setenv("AAR_SANDBOX_IMAGE", "mine:1")
    assert default_image() == "mine:1"
    assert build_hint(GPU_IMAGE) == "`aar sandbox build --gpu`"


@pytest.mark.docker
def test_doctor_reports_gpu_runtime_image_and_test_job():
    """The real command on this CPU machine: no GPU runtime, no GPU, and a Docker test job that saw none."""
    env = dict(os.environ, AAR_SANDBOX_IMAGE=os.environ.get("AAR_SANDBOX_IMAGE", DEFAULT_IMAGE))
    out = subprocess.run(
        [sys.executable, "-m", "aar", "sandbox", "doctor"], capture_output=True, text=True, env=env, timeout=300,
        check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split(":", 1)[0].split(maxsplit=1)[1]: line for line in out.stdout.splitlines()}
    assert "none (CPU jobs only)" in lines["gpu runtime"]
    assert "no GPU" in lines["gpus"]
    assert env["AAR_SANDBOX_IMAGE"] in lines["sandbox image"] and lines["sandbox image"].startswith("ok")
    test_job = lines["test job"]
    assert test_job.startswith("ok") and "docker: no GPU (the host has none; the job saw 0;" in test_job
    assert re.search(r"torch \d+\.\d+", test_job)
