"""What the graph's nodes act through: store, budget, researcher, sandbox runner, setups, display.

Built once per process (`build_runtime`) from a StudyConfig; injected into the nodes, so tests swap in
fakes or small real parts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aar.budget import DEFAULT_WALL_S, Budget, BudgetExceeded, Limits, finalize_reserve
from aar.config import Settings, StudyConfig
from aar.errors import InfraError, UserError
from aar.progress import Phase, Progress, Reporter, fmt_seconds
from aar.researchers.base import Researcher
from aar.researchers.types import Prior
from aar.scheduler import DevicePool, RunnerFactory, local_runner_factory, runner_factory, trusted_runner
from aar.store import AgentEventBase, Store, record_event
from aar.w2s.baselines import ceiling, weak_labels
from aar.w2s.experiment import ExperimentResult, ExperimentSpec, empty_result, naive_baseline, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.models import check_rungs
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.stats import MIN_SEEDS
from aar.w2s.templates import LIBRARY_METHODS, Template, get_template, method_meta, unmet_requirement

log = logging.getLogger(__name__)
SMOKE_SIZES = SplitSizes(weak_train=48, w2s_train=96, dev=32, test=32)
Display = Callable[[str, str], None]
# A researcher call is shown as progress only once it has taken this long (a slow LLM call).
SLOW_CALL_S = 5.0
# Cached work (embeddings, baselines) is shown only when it takes this long (i.e. is really computed).
QUIET_S = 1.0
# A job's duration before any similar job finished (its ETA), and finalize's estimate per job then.
FALLBACK_JOB_S = 30.0
# Until a job was timed, finalize's reserve (a guess) takes at most this share of the time left.
UNTIMED_SHARE = 0.5


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
    # A safe point between jobs: raises `control.StopRequested` once the study was asked to stop.
    check_stop: Callable[[], None] = lambda: None
    progress: Progress = field(default_factory=Progress)
    # Wall seconds of the jobs finished so far, per role (search, smoke, final): the ETA of the next one.
    durations: dict[str, list[float]] = field(default_factory=dict)
    # `--researchers N`: researchers 2..N beside `researcher` (one team proposing into the study), and
    # what earlier studies on the same task and pair found (aar.store.findings; dev mode only).
    helpers: list[Researcher] = field(default_factory=list)
    priors: list[Prior] = field(default_factory=list)
    _phase: Phase | None = None

    def __post_init__(self) -> None:
        if isinstance(self.display, Reporter):  # the CLI's display carries the progress to report to
            self.progress = self.display.progress
        self.researcher = TimedResearcher(self.researcher, self.progress)
        self.helpers = [TimedResearcher(r, self.progress) for r in self.helpers]
        # Baseline jobs: a pool slot, the study's sandbox, clamped to the deadline, charged to the ledger.
        baselines = trusted_runner(
            self.pool, self.runner_for, wall=lambda: self.budget.wall_limit(final=True),
            charge=self.budget.charge_baseline,
        )  # fmt: skip
        for setup in (self.setup, self.smoke_setup):
            setup.progress = self._embedded
            setup.trusted, setup.check = baselines, self._host_work_check
        self.durations = job_durations(self.store, self.study_id)

    @property
    def slots(self) -> int:
        return self.pool.size

    @property
    def team(self) -> list[Researcher]:
        """The study's researchers: `researcher` first, then the helpers (`--researchers N`)."""
        return [self.researcher, *self.helpers]

    def who(self, index: int) -> str:
        """A researcher's label on the board and in the log: r1..rN in a team, else the policy's name."""
        return f"r{index + 1}" if self.helpers else self.researcher.name

    def run(self, spec: ExperimentSpec, *, role: str = "search") -> ExperimentResult:
        """Run one experiment on a free slot (its GPU, or a CPU slot), through the sandbox.

        Its wall-clock limit is clamped to the time its phase has left (search stops before the time kept
        for finalize; finalize's jobs, role "final", run to the deadline): a job still running there is
        killed and ends `timeout`, saying so. No time left at all: it ends `killed`, never started.
        Anything the job's code or output makes the host raise (other than an infrastructure fault, which
        stops the study for `aar resume`) becomes a failed result with a one-line error, so a hostile
        method can fail its experiment but never the study.
        """
        started = time.monotonic()
        if role == "search" and spec.setup is self.smoke_setup:  # the audit's smoke run: its own ETA
            role = "smoke"
        try:
            wall = self.budget.wall_limit(final=role == "final")
        except BudgetExceeded as exc:
            return empty_result(spec, "killed", f"not started: {exc}")
        label = f"job ({role}): {spec.method_name}, {len(spec.seeds)} seed(s)"
        with self.pool.slot() as devices, self.progress.phase(label, eta_s=self.eta(role)):
            try:
                result = self._run_requeued(spec, devices, wall)
            except InfraError:
                raise
            except BudgetExceeded as exc:  # a baseline it is scored against ran into the deadline
                result = empty_result(spec, "killed", str(exc), time.monotonic() - started)
            except Exception as exc:  # logged with its traceback, reported as the result
                log.exception("experiment %s failed on the host", spec.method_name)
                result = empty_result(spec, "failed", host_error(exc), time.monotonic() - started)
        result.sandbox = self.sandbox_kind
        if result.status == "timeout" and wall < DEFAULT_WALL_S:
            result.error = f"{deadline_kill(wall)}\n{result.error}"
        elif result.job_seconds > 0:
            self.durations.setdefault(role, []).append(result.job_seconds)
        return result

    def _run_requeued(self, spec: ExperimentSpec, devices: tuple[str, ...], wall: float) -> ExperimentResult:
        """Run the job; one whose (Ray) node was lost mid-job ends `interrupted` and runs once more. Lost
        again, it ends `killed`, saying so (not the method's fault, and not rerun)."""
        result = run_experiment(spec, self.runner_for(devices, timeout_s=wall))
        if result.status != "interrupted":
            return result
        self.event("run", f"{spec.method_name}: {result.error.splitlines()[0]}; requeued once")
        result = run_experiment(spec, self.runner_for(devices, timeout_s=wall))
        if result.status == "interrupted":
            result.status, result.error = "killed", f"its node was lost twice; not rerun. {result.error}"
        return result

    def eta(self, role: str) -> float | None:
        """The median wall time of this study's finished jobs of the same role, if any."""
        times = sorted(self.durations.get(role, []))
        return times[len(times) // 2] if times else None

    def reserve_finalize(self) -> float:
        """Keep back finalize's time before the deadline (from the search jobs timed so far); returns it."""
        final = self.durations.get("final", [])
        seen = final or self.durations.get("search", [])
        fallback = self.eta("baseline") or FALLBACK_JOB_S
        seeds = self.config.seeds
        ratio = None if final else max(seeds, MIN_SEEDS) / seeds  # finalists rerun on >= MIN_SEEDS seeds
        reserve = finalize_reserve(seen, self.config.finalists, fallback, ratio)
        if not seen and (left := self.budget.seconds_left()) is not None:
            reserve = min(reserve, UNTIMED_SHARE * left)  # a guess until a job is timed: never all the time
        self.budget.finalize_reserve_s = reserve
        return reserve

    def prepare_baselines(self, seeds: list[int]) -> None:
        """Embeddings, weak supervisors and ceilings (cached after the first study), shown as progress."""
        setup = self.setup
        if setup.template.uses_features:
            for rung in (setup.pair.weak, *setup.pair.intermediates, setup.pair.strong):
                with self._phase_for(f"embed {rung.name}", len(setup.splits.all_examples())):
                    setup.features(rung)
        for seed in seeds:
            with self._phase_for(f"baselines, seed {seed}: weak model"):
                weak_labels(setup, seed)
            with self._phase_for(f"baselines, seed {seed}: ceiling"):
                ceiling(setup, seed)

    def naive_baseline(self, seeds: list[int]) -> ExperimentResult:
        """The study's baselines (`prepare_baselines`), then the naive job, timed: finalize's first estimate."""
        self.prepare_baselines(seeds)
        started = time.monotonic()
        with self.progress.phase("baselines: naive weak→strong job", quiet_s=QUIET_S):
            result = naive_baseline(self.setup, seeds)
        if (took := time.monotonic() - started) > QUIET_S:
            self.durations.setdefault("baseline", []).append(took)
        return result

    @contextmanager
    def _phase_for(self, label: str, total: float | None = None) -> Iterator[None]:
        with self.progress.phase(label, total=total, quiet_s=QUIET_S) as phase:
            self._phase = phase
            try:
                yield
            finally:
                self._phase = None

    def _host_work_check(self) -> None:
        """Between chunks of host work (embedding): stop on request, or at the deadline (BudgetExceeded)."""
        self.check_stop()
        self.budget.check_time()

    def _embedded(self, label: str, done: int, total: int) -> None:
        """The setups' embedding callback: moves the open phase's bar."""
        if self._phase is not None:
            self._phase.update(done=done)

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


def deadline_kill(wall_s: float) -> str:
    """The error of a job killed at the study's deadline."""
    return (
        f"killed at the study's deadline: its wall-clock limit was clamped to the {fmt_seconds(wall_s)} left"
    )


def job_durations(store: Store, study_id: int) -> dict[str, list[float]]:
    """Wall seconds of a study's finished jobs per role (so a resumed study keeps its ETAs)."""
    from aar.store import list_experiments

    with store.session() as session:
        rows = list_experiments(session=session, study_id=study_id)
    out: dict[str, list[float]] = {}
    for row in rows:
        if row.status == "ok" and row.device_seconds:
            role = "final" if str(row.config.get("role", "")).startswith(("final", "ablation")) else "search"
            role = "low_rung" if row.config.get("role") == "low_rung" else role  # its own ETA, not search's
            out.setdefault(role, []).append(float(row.device_seconds))
    return out


class TimedResearcher:
    """A researcher whose calls show as progress once they are slow (a local LLM can take minutes)."""

    def __init__(self, inner: Researcher, progress: Progress) -> None:
        self.inner = inner
        self.progress = progress
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextmanager
    def _call(self, step: str) -> Iterator[None]:
        with self.progress.phase(f"researcher ({self.name}): {step}", quiet_s=SLOW_CALL_S):
            yield

    def propose(self, view: Any) -> Any:
        with self._call("propose"):
            return self.inner.propose(view)

    def implement(self, proposal: Any, observations: list[str], view: Any) -> str:
        with self._call("implement"):
            return self.inner.implement(proposal, observations, view)

    def analyze(self, outcome: Any, view: Any) -> str:
        with self._call("analyze"):
            return self.inner.analyze(outcome, view)

    def decide(self, view: Any) -> Any:
        with self._call("decide"):
            return self.inner.decide(view)


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


def choose_executor(
    config: StudyConfig, announce: Callable[[str], object] | None
) -> tuple[RunnerFactory, str, DevicePool]:
    """Where jobs run: this machine's device pool (`local`, the default), or a Ray cluster (`ray`: each
    job a Ray task; every node chooses its sandbox as `choose_runner` does here). Returns the runner
    factory, the kind recorded with each experiment, and the pool of slots (jobs in flight at once)."""
    if config.executor != "ray":
        runner_for, kind = choose_runner(config, announce)
        return runner_for, kind, DevicePool.detect(config.parallel)
    from aar.executors.ray_cluster import NodeSandbox, ray_executor

    fallback = config.policy == "builtin" and not config.sandbox
    request = NodeSandbox(config.sandbox or None, config.unsafe_local, local_fallback=fallback)
    runner_for, pool, _, where = ray_executor(request, parallel=config.parallel)
    if announce:
        announce(where)
    return runner_for, "ray", pool


def host_error(exc: BaseException) -> str:
    """One line for an unexpected host-side exception: its type and the start of its message."""
    message = " ".join(str(exc).split())[:300]
    return f"host error: {type(exc).__name__}: {message}" if message else f"host error: {type(exc).__name__}"


def make_setups(config: StudyConfig, settings: Settings) -> tuple[Setup, Setup]:
    template = get_template(config.template, settings.templates_dir)
    pair = parse_pair(config.pair)
    check_rungs(pair.chain)  # a model missing on this host stops the study before any job
    common = {
        "task": config.task,
        "pair": pair,
        "template": template,
        "split_seed": config.split_seed,
        "cache_dir": settings.cache_dir,
    }
    setup = Setup(sizes=SplitSizes.parse(config.sizes), **common)  # type: ignore[arg-type]
    smoke = setup.variant(sizes=SMOKE_SIZES, baseline_hparams={"epochs": 1})  # the task is loaded once
    return setup, smoke


def library_sources(
    settings: Settings, template: Template | None = None
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The library methods' sources and search spaces; with `template`, only those it can run (a method
    that reads frozen embeddings is left out of a finetune study's library)."""
    root = settings.templates_dir / "methods"
    names = [
        m for m in LIBRARY_METHODS if template is None or not unmet_requirement(root / f"{m}.py", template)
    ]
    sources = {m: (root / f"{m}.py").read_text() for m in names}
    spaces = {m: method_meta(root / f"{m}.py").get("SPACE", {}) for m in names}
    return sources, spaces


def limits_of(config: StudyConfig) -> Limits:
    return Limits(
        config.max_usd, config.max_tokens, config.max_device_seconds, config.max_experiments, config.deadline
    )


def make_budget(store: Store, study_id: int, config: StudyConfig) -> Budget:
    """The study's budget; two experiments per finalist are held back for the final checks."""
    return Budget(store, study_id, limits_of(config), hold_back=2 * config.finalists)
