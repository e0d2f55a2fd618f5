"""Devices honoured (issue 10, item 3): each sandbox gives a job exactly its assigned GPUs, and a job assigned
a GPU on a host that has none fails at once with a clear error.

This machine has no GPU: the GPU list (the driver's /proc files) and device nodes are fakes in a temporary
folder, the one edge no machine here can reach. The failure path runs for real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from aar.sandbox.base import Job, Sandbox
from aar.sandbox.gpus import Gpu, GpuUnavailable, assigned, host_gpus
from aar.sandbox.local import LocalSandbox
from aar.scheduler import DevicePool, Limits, sandbox_runner

UUIDS = ("GPU-aaaaaaaa-0000", "GPU-bbbbbbbb-1111")


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    """Two GPUs as the NVIDIA driver lists them; the second bus's device minor is 0 (minor != index)."""
    root = tmp_path / "gpus"
    for bus, minor, uuid in (("0000:3b:00.0", 1, UUIDS[0]), ("0000:af:00.0", 0, UUIDS[1])):
        (root / bus).mkdir(parents=True)
        (root / bus / "information").write_text(
            f"Model: \t\t NVIDIA H100\nGPU UUID: \t {uuid}\nBus Location: \t {bus}\nDevice Minor: \t {minor}\n"
        )
    return root


@pytest.fixture
def fake_dev(tmp_path: Path) -> Path:
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (dev / name).touch()
    return dev


def test_driver_files_give_index_minor_and_uuid(fake_proc: Path):
    gpus = host_gpus(fake_proc)
    assert gpus == [Gpu(0, 1, UUIDS[0], "0000:3b:00.0"), Gpu(1, 0, UUIDS[1], "0000:af:00.0")]
    assert assigned(("1",), gpus) == [gpus[1]] and assigned((UUIDS[0],), gpus) == [gpus[0]]
    with pytest.raises(GpuUnavailable, match="GPU 7, which this host does not have"):
        assigned(("7",), gpus)
    assert host_gpus(fake_proc.parent / "missing") == []


@pytest.mark.bwrap
def test_bwrap_binds_exactly_the_assigned_gpu(
    bwrap_sandbox: Sandbox, fake_proc: Path, fake_dev: Path, workdir: Path
):
    from aar.sandbox.bwrap import BwrapSandbox

    sandbox = BwrapSandbox(gpus=host_gpus(fake_proc), dev=fake_dev)
    job = Job(workdir, workdir, workdir / "out", devices=("1",))  # GPU 1 is /dev/nvidia0
    argv = sandbox.command(job, workdir, None)
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--dev-bind"]
    assert binds == [str(fake_dev / n) for n in ("nvidia0", "nvidiactl", "nvidia-uvm")]
    env = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--setenv"}
    assert env["CUDA_VISIBLE_DEVICES"] == UUIDS[1] and env["AAR_GPUS"] == "1"
    assert not any(a.startswith("--as=") for a in argv)  # CUDA reserves more address space than memory
    cpu = sandbox.command(Job(workdir, workdir, workdir / "out"), workdir, None)
    assert "--dev-bind" not in cpu and any(a.startswith("--as=") for a in cpu)
    cpu_env = {cpu[i + 1]: cpu[i + 2] for i, a in enumerate(cpu) if a == "--setenv"}
    assert cpu_env["CUDA_VISIBLE_DEVICES"] == ""


@pytest.mark.docker
def test_docker_requests_exactly_the_assigned_gpus(docker_sandbox: Sandbox, workdir: Path):
    from aar.sandbox.docker import container_options

    options = container_options(
        Job(workdir, workdir, workdir / "out", devices=("1", "3")), docker_sandbox, workdir
    )
    (request,) = options["device_requests"]
    assert request["Driver"] == "nvidia" and request["DeviceIDs"] == ["1", "3"] and request["Count"] == 0
    assert options["environment"]["AAR_GPUS"] == "2" and "CUDA_VISIBLE_DEVICES" not in options["environment"]
    assert (
        container_options(Job(workdir, workdir, workdir / "out"), docker_sandbox, workdir)["device_requests"]
        == []
    )


def _env_job(workdir: Path, name: str, devices: tuple[str, ...]) -> Job:
    code = workdir / name
    code.mkdir()
    (code / "runner.py").write_text(
        "import json, os, sys\njson.dump({k: os.environ.get(k) for k in ('CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER', 'AAR_GPUS')},"
        " open(sys.argv[1] + '/env.json', 'w'))\n"
    )
    return Job(
        code,
        code,
        workdir / f"{name}-out",
        command=("python", "/code/runner.py", "/out"),
        devices=devices,
        trusted=True,
    )


def test_local_job_sees_only_its_gpu(fake_proc: Path, workdir: Path):
    """A real subprocess: its environment names the assigned GPU by UUID, and no GPU for a CPU job."""
    sandbox = LocalSandbox(gpus=host_gpus(fake_proc))
    gpu_job, cpu_job = _env_job(workdir, "gpu", (UUIDS[1],)), _env_job(workdir, "cpu", ())
    assert sandbox.run(gpu_job).ok and sandbox.run(cpu_job).ok
    assert json.loads((gpu_job.out_dir / "env.json").read_text()) == {
        "CUDA_VISIBLE_DEVICES": UUIDS[1], "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "AAR_GPUS": "1",
    }  # fmt: skip
    assert json.loads((cpu_job.out_dir / "env.json").read_text())["CUDA_VISIBLE_DEVICES"] == ""


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
        "local",
    ],
)
def test_gpu_slot_on_a_cpu_host_fails_at_once(kind: str, workdir: Path, request: pytest.FixtureRequest):
    """Through the device pool and the scheduler's runner, with this machine's real (empty) GPU list."""
    assert host_gpus() == [], "this test needs a host without an NVIDIA GPU"
    sandbox: Sandbox = LocalSandbox() if kind == "local" else request.getfixturevalue(f"{kind}_sandbox")
    pool = DevicePool([("0",)])
    code, data = workdir / "code", workdir / "data"
    code.mkdir()
    data.mkdir()
    (code / "runner.py").write_text("import time; time.sleep(60)\n")
    started = time.monotonic()
    with pool.slot() as devices, pytest.raises(GpuUnavailable) as err:
        sandbox_runner(sandbox, kind, Limits(timeout_s=120), devices, trusted=True)(
            code, data, workdir / "out"
        )
    assert time.monotonic() - started < 10  # at once, not after the job's minute
    assert "job baseline is assigned GPU 0, but this host has no NVIDIA GPU" in str(err.value)  # trusted job
    assert "\n" not in str(err.value) and not (workdir / "out").exists()


@pytest.mark.docker
def test_docker_without_the_nvidia_toolkit_is_a_clear_error(
    docker_sandbox: Sandbox, fake_proc: Path, workdir: Path
):
    """A host that reports a GPU but whose engine cannot hand it over: Docker's own refusal, said clearly."""
    from aar.sandbox.docker import DockerSandbox

    sandbox = DockerSandbox(image=docker_sandbox.image, gpus=host_gpus(fake_proc))  # type: ignore[attr-defined]
    job = _env_job(workdir, "gpu", ("0",))
    with pytest.raises(GpuUnavailable, match="NVIDIA container toolkit"):
        sandbox.run(job)


GPU_PROBE = """
import json, sys, torch
n = torch.cuda.device_count()
uuids = ["GPU-" + str(torch.cuda.get_device_properties(i).uuid) for i in range(n)]
json.dump({"count": n, "uuids": uuids}, open(sys.argv[1] + "/gpus.json", "w"))
"""


@pytest.mark.gpu
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
        "local",
    ],
)
def test_gpu_job_sees_exactly_its_gpu(kind: str, workdir: Path, request: pytest.FixtureRequest):
    """On a GPU host (bench/gpu, the device machine): a job on the last GPU sees that one GPU and no other."""
    gpus = host_gpus()
    if not gpus:
        pytest.skip("no NVIDIA GPU on this machine")
    sandbox: Sandbox = LocalSandbox() if kind == "local" else request.getfixturevalue(f"{kind}_sandbox")
    code = workdir / "code"
    code.mkdir()
    (code / "runner.py").write_text(GPU_PROBE)
    job = Job(code, code, workdir / "out", command=("python", "/code/runner.py", "/out"), devices=(str(gpus[-1].index),),
              timeout_s=300, memory_mb=8192, trusted=True)  # fmt: skip
    result = sandbox.run(job)
    assert result.ok, result.stderr
    assert json.loads((job.out_dir / "gpus.json").read_text()) == {"count": 1, "uuids": [gpus[-1].uuid]}
