"""Device slots and sandbox placement."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from aar.sandbox.base import ExecResult, Job, Sandbox, Status
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


@pytest.fixture(scope="module")
def naive_job(shared_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    """A trusted naive job's folders (probe template, tiny splits) and its predictions run in this process."""
    from aar.w2s.experiment import ExperimentSpec, build_job
    from aar.w2s.jobs import run_trusted
    from aar.w2s.predictions import read_seed_predictions
    from aar.w2s.templates import resolve_method
    from tests.conftest import TEMPLATES
    from tests.w2s import job_schema

    setup = job_schema.tiny_setup(shared_cache)
    spec = ExperimentSpec(setup, resolve_method("naive", TEMPLATES), "naive", [0], eval_splits=("dev",))
    ids = [e.id for e in setup.splits.dev]
    code, data, out = build_job(spec, tmp_path_factory.mktemp("inproc"))
    run_trusted(setup.template.runner, data, out, code / "method.py")
    return spec, ids, read_seed_predictions(out / "seed_0", ids).final


@pytest.mark.parametrize("kind", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_trusted_job_through_the_pool_is_charged(kind: str, naive_job, tmp_path: Path):
    """A trusted baseline job placed on a pool slot and run in a sandbox: the same predictions as in-process,
    and its outcome (with the slot's devices) reaches the ledger callback."""
    from aar.sandbox.local import LocalSandbox
    from aar.scheduler import trusted_factory, trusted_runner
    from aar.w2s.experiment import build_job
    from aar.w2s.jobs import run_trusted
    from aar.w2s.predictions import read_seed_predictions

    spec, ids, in_process = naive_job
    if kind == "local":
        sandbox: Sandbox = LocalSandbox()
    else:
        from aar.sandbox.docker import DockerSandbox

        sandbox = DockerSandbox(image=os.environ.get("AAR_SANDBOX_IMAGE", "aar-sandbox:cpu"))
    charged: list = []
    via = trusted_runner(
        DevicePool([()]), trusted_factory(sandbox, kind), charge=lambda *c: charged.append(c)
    )
    code, data, out = build_job(spec, tmp_path / "job")
    outcome = run_trusted(spec.setup.template.runner, data, out, code / "method.py", via=via, label="naive")
    assert outcome is not None and outcome.status == "ok" and outcome.sandbox == kind
    assert charged == [(outcome.seconds, "naive")] and outcome.seconds > 0  # a CPU slot: 1 device
    pooled = read_seed_predictions(out / "seed_0", ids).final
    assert np.allclose(pooled, in_process, atol=1e-5)


def test_trusted_job_on_a_gpu_slot_of_a_cpu_host_fails_at_once(naive_job, tmp_path: Path):
    from aar.sandbox.gpus import GpuUnavailable
    from aar.sandbox.local import LocalSandbox
    from aar.scheduler import trusted_factory, trusted_runner
    from aar.w2s.experiment import build_job
    from aar.w2s.jobs import run_trusted

    spec = naive_job[0]
    charged: list = []
    via = trusted_runner(
        DevicePool([("0",)]), trusted_factory(LocalSandbox(), "local"), charge=lambda *c: charged.append(c)
    )
    code, data, out = build_job(spec, tmp_path / "job")
    with pytest.raises(GpuUnavailable, match="assigned GPU 0, but this host has no NVIDIA GPU"):
        run_trusted(spec.setup.template.runner, data, out, code / "method.py", via=via)
    assert charged == []


def test_a_thread_holding_a_slot_gets_the_same_one_again():
    """A method job's host side runs its baselines' jobs while it holds its slot: on a one-slot pool the
    nested request must get that slot (not wait for itself), and another thread must still wait."""
    pool = DevicePool([("0",)])
    seen: list = []

    def nested() -> None:
        with pool.slot() as outer, pool.slot() as inner:
            seen.append((outer, inner))
            other = threading.Thread(target=lambda: pool.slot().__enter__() and None, daemon=True)
            other.start()
            other.join(0.3)
            seen.append(other.is_alive())  # the other thread waits: the slot is held

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "a nested slot request waited on itself"
    assert seen == [(("0",), ("0",)), True]


SPIN = '''"""A trusted method that never finishes (the study's deadline must stop it)."""

import torch

SPACE: dict = {}


def loss(logits, weak_p, progress, ctx):
    spin = torch.zeros(1)
    while True:
        spin = spin + 1
'''


def test_a_trusted_job_is_clamped_to_the_deadline_and_stops_the_study_there(naive_job, tmp_path: Path):
    """A baseline job's wall-clock limit is the time left (Budget.wall_limit): one that would run forever
    is killed at the deadline, charged, and then raises the budget's own error (deadline), not InfraError."""
    from aar.budget import Budget, BudgetExceeded, Limits
    from aar.sandbox.local import LocalSandbox
    from aar.scheduler import trusted_factory, trusted_runner
    from aar.store import StudyCreate, create_study, open_store
    from aar.w2s.experiment import build_job
    from aar.w2s.jobs import run_trusted

    store = open_store(url=None, results_dir=tmp_path / "results")
    with store.session() as session:
        study_id = int(create_study(session=session, study_in=StudyCreate(name="d", goal="g")).id or 0)
    deadline = time.time() + 8
    budget = Budget(store, study_id, Limits(deadline=deadline))
    via = trusted_runner(
        DevicePool([()]), trusted_factory(LocalSandbox(), "local"),
        wall=lambda: budget.wall_limit(final=True), charge=budget.charge_baseline,
    )  # fmt: skip
    (tmp_path / "spin.py").write_text(SPIN)
    _code, data, out = build_job(naive_job[0], tmp_path / "job")
    with pytest.raises(BudgetExceeded) as info:
        run_trusted(
            naive_job[0].setup.template.runner, data, out, tmp_path / "spin.py", via=via, label="spin"
        )
    ended = time.time()
    assert info.value.limit == "deadline"
    assert deadline - 1 <= ended <= deadline + 10  # killed at the deadline (plus the kill's grace)
    assert 5 <= budget.used()["device_seconds"] <= 20  # the killed job is charged as a baseline
    assert next(line.baselines for line in budget.lines() if line.kind == "device_seconds") > 5
    with pytest.raises(BudgetExceeded):  # no time left: the next baseline job never starts
        run_trusted(naive_job[0].setup.template.runner, data, out, tmp_path / "spin.py", via=via, label="x")
    store.close()
