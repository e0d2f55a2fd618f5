"""Device slots and sandbox placement."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from aar.sandbox.base import ExecResult, Job, Status
from aar.scheduler import DevicePool, sandbox_runner


def test_pool_never_oversubscribes():
    pool = DevicePool([("0",), ("1",)])
    active, peak, seen, lock = [0], [0], [], threading.Lock()

    def job():
        with pool.slot() as devices:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
                seen.append(devices)
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=job) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2 and set(seen) == {("0",), ("1",)}


def test_cpu_machine_gets_cpu_slots():
    pool = DevicePool.detect(parallel=64)
    with pool.slot() as devices:
        assert devices == ()  # no GPU here
    assert 1 <= pool.size <= 64


class RecordingSandbox:
    name = "recording"

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def run(self, job: Job) -> ExecResult:
        self.jobs.append(job)
        return ExecResult(Status.OK, 0, 0.1, 0.1, "", "", job.out_dir, self.name)


def test_runner_hands_the_slot_devices_to_the_sandbox(tmp_path: Path):
    sandbox = RecordingSandbox()
    for d in ("code", "data", "out"):
        (tmp_path / d).mkdir()
    outcome = sandbox_runner(sandbox, "recording", devices=("1",))(
        tmp_path / "code", tmp_path / "data", tmp_path / "out"
    )
    assert outcome.status == "ok" and sandbox.jobs[0].devices == ("1",) and not sandbox.jobs[0].trusted


def test_gpu_jobs_get_their_share_of_host_memory(tmp_path: Path):
    """A GPU job loads its weights through host RAM: 80 % of it (one GPU's share), above the CPU limit."""
    import os

    sandbox = RecordingSandbox()
    for name in ("gpu", "cpu"):
        for d in ("code", "data"):
            (tmp_path / name / d).mkdir(parents=True)
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    sandbox_runner(sandbox, "recording", devices=("0",))(
        tmp_path / "gpu/code", tmp_path / "gpu/data", tmp_path / "gpu/out"
    )
    sandbox_runner(sandbox, "recording")(tmp_path / "cpu/code", tmp_path / "cpu/data", tmp_path / "cpu/out")
    gpu_job, cpu_job = sandbox.jobs
    assert gpu_job.memory_mb == max(8192, int(total_mb * 0.8)) and cpu_job.memory_mb == 8192
