"""Issue 3's happy path: every library method runs in each sandbox with the same PGR as in-process."""

from __future__ import annotations

import pytest

from aar.scheduler import sandbox_runner
from aar.w2s.experiment import ExperimentSpec, run_experiment
from aar.w2s.templates import LIBRARY_METHODS, resolve_method
from tests.conftest import TEMPLATES


def run_all(setup, runner):
    out = {}
    for method in LIBRARY_METHODS:
        # Parity, not accuracy: 2 epochs and one torch thread keep 11 methods x 3 runners inside the timeout.
        spec = ExperimentSpec(
            setup,
            resolve_method(method, TEMPLATES),
            method,
            [0],
            {"epochs": 2},
            eval_splits=("dev",),
            threads=1,
        )
        result = run_experiment(spec, runner)
        assert result.status == "ok", f"{method}: {result.error}"
        out[method] = result.values("dev", "w2s_acc")[0]
    return out


@pytest.fixture(scope="module")
def in_process(probe_setup):
    return run_all(probe_setup, None)


@pytest.mark.docker
def test_library_methods_in_docker_match_in_process(probe_setup, docker_sandbox, in_process):
    assert run_all(probe_setup, sandbox_runner(docker_sandbox, "docker")) == pytest.approx(
        in_process, nan_ok=True
    )


@pytest.mark.bwrap
def test_library_methods_in_bwrap_match_in_process(probe_setup, bwrap_sandbox, in_process):
    assert run_all(probe_setup, sandbox_runner(bwrap_sandbox, "bwrap")) == pytest.approx(
        in_process, nan_ok=True
    )
