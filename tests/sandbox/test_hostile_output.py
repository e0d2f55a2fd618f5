"""Hostile prediction files (tests/sandbox/hostile_output/) through a real sandbox and `run_experiment`:
each ends as `invalid_output` with a one-line reason, never as an exception on the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.sandbox.base import Sandbox
from aar.sandbox.local import LocalSandbox
from aar.scheduler import sandbox_runner
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, JobRunner, run_experiment
from aar.w2s.setup import Setup

HOSTILE = Path(__file__).parent / "hostile_output"
# fixture -> what the one-line reason must say
REASONS = {
    "non_utf8": "not UTF-8 JSON",
    "number_400_digits": "a number of 400 characters",
    "deep_json": "a line of",
    "p_string": "got '0.5'",
    "p_true": "got True",
    "nan": "NaN is not a probability",
    "infinity": "Infinity is not a probability",
    "huge_line": "a line of",
    "duplicate_ids": "duplicate id",
    "extra_ids": "unexpected id 'not-an-eval-id'",
    "markup_id": "unexpected id '[/bold]'",
    "symlink_final": "final.jsonl is missing",  # the copy back refuses links: the host never sees it
}


def run_case(setup: Setup, case: str, runner: JobRunner) -> ExperimentResult:
    spec = ExperimentSpec(setup, HOSTILE / f"{case}.py", case, [0], eval_splits=("dev",), threads=1)
    return run_experiment(spec, runner)


def assert_invalid(result: ExperimentResult, case: str) -> None:
    assert result.status == "invalid_output", (case, result.status, result.error)
    assert REASONS[case] in result.error, (case, result.error)
    assert "\n" not in result.error and len(result.error) <= 300


@pytest.mark.parametrize("case", sorted(REASONS))
def test_hostile_output_from_a_sandbox_is_invalid_output(tiny_setup: Setup, sandbox: Sandbox, case: str):
    """Once in Docker, once under bwrap (the `sandbox` fixture)."""
    assert_invalid(run_case(tiny_setup, case, sandbox_runner(sandbox, sandbox.name)), case)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(REASONS))
def test_hostile_output_from_local_runner_is_invalid_output(tiny_setup: Setup, case: str):
    runner = sandbox_runner(LocalSandbox(unsafe_local=True), "local")
    assert_invalid(run_case(tiny_setup, case, runner), case)
