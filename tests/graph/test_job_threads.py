"""Search jobs that run side by side get one torch thread each (issue 12.5)."""

import pytest

from aar.graph import nodes


@pytest.mark.parametrize("cores", [2, 16])
def test_concurrent_jobs_get_one_thread_a_lone_job_every_core(monkeypatch: pytest.MonkeyPatch, cores: int):
    monkeypatch.setattr(nodes.os, "cpu_count", lambda: cores)  # the machine's size: 16 cores aren't here
    assert [nodes.job_threads(slots) for slots in (1, 2, 4)] == [cores, 1, 1]
