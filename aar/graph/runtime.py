"""What the graph's nodes act through: store, budget, researcher, sandbox runner, setups, display.

Built once per process (`build_runtime`) from a StudyConfig; injected into the nodes, so tests swap in
fakes or small real parts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aar.budget import Budget, Limits
from aar.config import Settings, StudyConfig
from aar.errors import InfraError, UserError
from aar.researchers.base import Researcher
from aar.scheduler import DevicePool, RunnerFactory, local_runner_factory, runner_factory
from aar.store import AgentEventBase, Store, record_event
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, empty_result, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import LIBRARY_METHODS, get_template, method_meta

log = logging.getLogger(__name__)
SMOKE_SIZES = SplitSizes(weak_train=48, w2s_train=96, dev=32, test=32)
Display = Callable[[str, str], None]


@dataclass
class Runtime:
    """The graph's side effects, injected."""

    config: StudyConfig
    settings: Settings
    store: Store
    study_id: int
    budget: Budget
    researcher: Researcher
    setup: Setup
    smoke_setup: Setup
    runner_for: RunnerFactory  # a sandbox runner bound to a slot's devices
    sandbox_kind: str
    pool: DevicePool
    display: Display = lambda node, message: None
    library: dict[str, str] = field(default_factory=dict)
    library_spaces: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def slots(self) -> int:
        return self.pool.size

    def run(self, spec: ExperimentSpec) -> ExperimentResult:
        """Run one experiment on a free slot (its GPU, or a CPU slot), through the sandbox.

        Anything the job's code or output makes the host raise (other than an infrastructure fault, which
        stops the study for `aar resume`) becomes a failed result with a one-line error, so a hostile
        method can fail its experiment but never the study.
        """
        started = time.monotonic()
        with self.pool.slot() as devices:
            try:
                result = run_experiment(spec, self.runner_for(devices))
            except InfraError:
                raise
            except Exception as exc:  # logged with its traceback, reported as the result
                log.exception("experiment %s failed on the host", spec.method_name)
                result = empty_result(spec, "failed", host_error(exc), time.monotonic() - started)
        result.sandbox = self.sandbox_kind
        return result

    def event(self, node: str, message: str, **data: Any) -> None:
        """Record one agent step in the store (for `aar log`) and show it."""
        hyp, exp, cost = (
            data.pop("hypothesis_id", None),
            data.pop("experiment_id", None),
            data.pop("cost_usd", 0.0),
        )
        with self.store.session() as session:
            record_event(
                session=session, study_id=self.study_id,
                event_in=AgentEventBase(node=node, message=message, hypothesis_id=hyp, experiment_id=exp, cost_usd=cost, data=data),
            )  # fmt: skip
        self.display(node, message)


def choose_runner(config: StudyConfig, announce: Callable[[str], object] | None) -> tuple[RunnerFactory, str]:
    """A sandbox for method code. Builtin studies run only library code (ours, trusted), so without any
    sandbox they fall back to the local runner (a subprocess with a scrubbed environment); LLM-written
    code never does without --unsafe-local."""
    try:
        return runner_factory(config.sandbox or None, unsafe_local=config.unsafe_local, announce=announce)
    except (InfraError, UserError) as exc:
        if config.policy != "builtin" or config.sandbox:
            raise
        if announce:
            announce(f"sandbox: none available ({exc}); builtin library code runs in a local subprocess")
        return local_runner_factory(), "local"


def host_error(exc: BaseException) -> str:
    """One line for an unexpected host-side exception: its type and the start of its message."""
    message = " ".join(str(exc).split())[:300]
    return f"host error: {type(exc).__name__}: {message}" if message else f"host error: {type(exc).__name__}"


def make_setups(config: StudyConfig, settings: Settings) -> tuple[Setup, Setup]:
    template = get_template(config.template, settings.templates_dir)
    pair = parse_pair(config.pair)
    common = {
        "task": config.task,
        "pair": pair,
        "template": template,
        "split_seed": config.split_seed,
        "cache_dir": settings.cache_dir,
    }
    setup = Setup(sizes=SplitSizes.parse(config.sizes), **common)  # type: ignore[arg-type]
    smoke = Setup(sizes=SMOKE_SIZES, baseline_hparams={"epochs": 1}, **common)  # type: ignore[arg-type]
    return setup, smoke


def library_sources(settings: Settings) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    root = settings.templates_dir / "methods"
    sources = {m: (root / f"{m}.py").read_text() for m in LIBRARY_METHODS}
    spaces = {m: method_meta(root / f"{m}.py").get("SPACE", {}) for m in LIBRARY_METHODS}
    return sources, spaces


def limits_of(config: StudyConfig) -> Limits:
    return Limits(
        config.max_usd, config.max_tokens, config.max_device_seconds, config.max_experiments, config.deadline
    )


def make_budget(store: Store, study_id: int, config: StudyConfig) -> Budget:
    """The study's budget; two experiments per finalist are held back for the final checks."""
    return Budget(store, study_id, limits_of(config), hold_back=2 * config.finalists)
