"""Starting and resuming studies: the store row, the runtime, the checkpointer, and the graph run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aar.config import ExecutorChoice, Settings, StudyConfig
from aar.errors import UserError
from aar.graph.builder import RECURSION_LIMIT, build_graph
from aar.graph.checkpoints import checkpointer, thread_id
from aar.graph.control import StopRequested, StudyControl
from aar.graph.new_budget import renew_budget, study_limits, with_limits
from aar.graph.runtime import (
    Display,
    Runtime,
    choose_executor,
    library_sources,
    limits_of,
    make_budget,
    make_setups,
)
from aar.graph.state import StudyState
from aar.researchers.base import Researcher
from aar.researchers.priors import load_priors
from aar.store import (
    Store,
    StudyCreate,
    StudyPublic,
    StudyStatus,
    create_study,
    find_study,
    recover_interrupted,
)
from aar.store.records import budget_used, research_runs
from aar.store.states import begin_study_run, end_study_run, queue_study

log = logging.getLogger(__name__)
Notify = Callable[["StudyOutcome"], object]
TEAM_SEED_STRIDE = 1009  # builtin team member i searches with seed split_seed + i * this


@dataclass(frozen=True)
class StudyOutcome:
    """How a study run ended: its status and why, its best result, what it spent; `--notify` gets it as JSON."""

    study_id: int
    name: str
    status: str
    stop_reason: str | None
    report_path: str | None
    best: dict[str, Any] | None
    # Hypothesis experiments that ran to a result: 0 means the study did no research.
    research_experiments: int = 0
    budget_used: dict[str, float] = field(default_factory=dict)


def make_researcher(config: StudyConfig, runtime_hooks: dict[str, Any], index: int = 0) -> Researcher:
    """Researcher `index` (0-based) of the study's `config.researchers`: its own seed (builtin) or style (llm)."""
    if config.policy == "builtin":
        from aar.researchers.builtin import BuiltinResearcher

        return BuiltinResearcher(seed=config.split_seed + TEAM_SEED_STRIDE * index)
    if config.policy == "llm":
        from aar.researchers.llm import STYLES, LLMResearcher

        researcher = LLMResearcher.from_config(config, **runtime_hooks)
        if config.researchers > 1:
            researcher.style = STYLES[index % len(STYLES)]
        return researcher
    raise UserError(f"unknown policy {config.policy!r}; use builtin or llm")


def build_runtime(
    config: StudyConfig,
    settings: Settings,
    store: Store,
    study_id: int,
    display: Display,
    announce: Callable[[str], object] | None,
) -> Runtime:
    setup, smoke = make_setups(config, settings)
    setup.splits  # noqa: B018 - validate the task and sizes before anything is spent
    budget = make_budget(store, study_id, config)
    runner_for, kind, pool = choose_executor(config, announce)
    library, spaces = library_sources(settings, setup.template)
    hooks = {"store": store, "study_id": study_id, "budget": budget, "display": display}
    researcher = make_researcher(config, hooks)
    helpers = [make_researcher(config, hooks, i) for i in range(1, config.researchers)]
    priors = load_priors(
        store,
        study_id=study_id,
        task_fingerprint=setup.fingerprint,
        pair=config.pair,
        feedback=config.feedback,
    )
    rt = Runtime(
        config=config, settings=settings, store=store, study_id=study_id, budget=budget,
        researcher=researcher, setup=setup, smoke_setup=smoke, runner_for=runner_for,
        sandbox_kind=kind, pool=pool, display=display, library=library, library_spaces=spaces,
        helpers=helpers, priors=priors,
    )  # fmt: skip
    return rt


def thread(study_id: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id(study_id)}, "recursion_limit": RECURSION_LIMIT}


def outcome_of(store: Store, study_id: int, values: Any = None) -> StudyOutcome:
    """The study's outcome as the store (status, reason, spend) and its last graph state (best, report) say."""
    state = (
        None
        if values is None
        else (values if isinstance(values, StudyState) else StudyState.model_validate(values))
    )
    best = state.best.model_dump(exclude={"code"}) if state and state.best else None
    with store.session() as session:
        study = StudyPublic.model_validate(find_study(session=session, ref=str(study_id)))
        research = research_runs(session=session, study_id=study_id)
        spent = budget_used(session=session, study_id=study_id)
    report = state.report_path if state else None
    return StudyOutcome(study_id, study.name, study.status, study.stop_reason, report, best, research, spent)


def start_study(
    config: StudyConfig,
    settings: Settings,
    store: Store,
    *,
    display: Display,
    announce: Callable[[str], object] | None = None,
    notify: Notify | None = None,
) -> StudyOutcome:
    """Create the study row and run the graph to the end, or until stopped (see `StudyControl`).

    The study ends finished (the graph reached its report), stopped (Ctrl-C, `aar stop`, SIGTERM) or
    failed (an exception, re-raised after its reason is recorded); `notify` gets the outcome either way.
    """
    study_id = create_study_row(config, settings, store)
    return run_study(config, settings, store, study_id, display=display, announce=announce, notify=notify)


def create_study_row(config: StudyConfig, settings: Settings, store: Store, *, queued: bool = False) -> int:
    """Check the config, then write the study's row: running in this process, or `queued` for a worker."""
    make_setups(config, settings)[0].splits  # noqa: B018 - a bad task, pair or size fails before any row is written
    if config.policy == "llm":  # a bad model spec or a missing key, too, before the row
        from aar.llm import make_client

        make_client(config.model)
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(
            name=config.name, goal=config.goal, task=config.task, pair=config.pair, policy=config.policy if config.policy == "builtin" else f"llm:{config.model}",
            feedback_mode=config.feedback, budget_limits=make_budget_limits(config)))  # fmt: skip
        study_id = int(study.id or 0)
        if queued:
            queue_study(session=session, study_id=study_id)
        else:
            begin_study_run(session=session, study_id=study_id)
    return study_id


def run_study(
    config: StudyConfig,
    settings: Settings,
    store: Store,
    study_id: int,
    *,
    display: Display,
    announce: Callable[[str], object] | None = None,
    notify: Notify | None = None,
) -> StudyOutcome:
    """Run a new study whose row this process holds as running (`start_study`, or a worker's claim)."""

    def body(control: StudyControl, saver: Any) -> Any:
        rt = build_runtime(config, settings, store, study_id, display, announce)
        rt.check_stop = control.check
        return _drive(build_graph(rt, saver), StudyState(config=config, study_id=study_id), control)

    return supervise(settings, store, study_id, body, say=announce, notify=notify)


def make_budget_limits(config: StudyConfig) -> dict[str, float]:
    return limits_of(config).as_store()


def resume_study(
    ref: str,
    settings: Settings,
    store: Store,
    *,
    display: Display,
    announce: Callable[[str], object] | None = None,
    notify: Notify | None = None,
    executor: ExecutorChoice | None = None,
    limits: dict[str, float] | None = None,
) -> StudyOutcome:
    """Continue a stopped, failed or interrupted study from its last checkpoint; finished experiments are
    never rerun. A finished study is left as it is (its outcome is returned); a live one is refused.
    `executor` (local | ray) replaces the one the study started with, for this run of it; `limits` (budget
    kind → new limit, `new_budget.CONFIG_FIELDS`) replace its budget's, for good (written to its row)."""
    with store.session() as session:
        study = find_study(session=session, ref=ref)
        study_id = int(study.id or 0)
        finished = study.status == StudyStatus.FINISHED
    with checkpointer(settings, store) as saver:
        snapshot = saver.get_tuple(thread(study_id))
    if finished and limits:
        raise UserError(
            f"study {ref!r} is finished; a new budget applies only to a study that did not finish"
        )
    if finished:  # nothing to do: its outcome as it ended
        return outcome_of(store, study_id, snapshot.checkpoint["channel_values"] if snapshot else None)
    if snapshot is None:
        raise UserError(f"study {ref!r} has no checkpoint to resume (was it started by `aar run`?)")
    first_config = StudyConfig.model_validate(snapshot.checkpoint["channel_values"]["config"])
    renewed = renew_budget(store, study_id, first_config, limits) if limits else None
    with store.session() as session:
        begin_study_run(session=session, study_id=study_id)
        requeued = recover_interrupted(session=session, study_id=study_id)

    def body(control: StudyControl, saver: Any) -> Any:
        values = saver.get_tuple(thread(study_id)).checkpoint["channel_values"]
        config = StudyConfig.model_validate(values["config"])
        if executor:
            config = config.model_copy(update={"executor": executor})
        config = with_limits(config, study_limits(store, study_id))  # the row's budget: renewed ones too
        rt = build_runtime(config, settings, store, study_id, display, announce)
        rt.check_stop = control.check
        if renewed:
            rt.event("plan", renewed)
        if requeued:
            rt.event("plan", f"resumed: {len(requeued)} interrupted experiment(s) requeued")
        graph = build_graph(rt, saver)
        return _drive(graph, None, control)

    return supervise(settings, store, study_id, body, say=announce, notify=notify)


def _drive(graph: Any, first: StudyState | None, control: StudyControl) -> Any:
    """Run the graph node by node, checking for a stop between nodes; return its last values.

    Once the study is wrapping up (a stop reason is set: finalize, report) it is not stopped any more.
    """
    values: Any = None
    for values in graph.stream(first, thread(control.study_id), stream_mode="values", durability="sync"):
        wrapping_up = values.get("stop_reason") if isinstance(values, dict) else values.stop_reason
        if not wrapping_up:
            control.check()
    return values if values is not None else graph.get_state(thread(control.study_id)).values


def supervise(
    settings: Settings,
    store: Store,
    study_id: int,
    body: Callable[[StudyControl, Any], Any],
    *,
    say: Callable[[str], object] | None,
    notify: Notify | None,
) -> StudyOutcome:
    """Run `body` under a heartbeat and stop handling; record how it ended (finished, stopped, failed)."""
    ended = (lambda _reason: notify(outcome_of(store, study_id))) if notify else None
    control = StudyControl(store, study_id, say=say or log.warning, on_hard_stop=ended)
    values = None
    with control, checkpointer(settings, store) as saver:
        try:
            values = body(control, saver)
        except StopRequested as exc:
            _end(store, study_id, StudyStatus.STOPPED, exc.reason)
        except KeyboardInterrupt:  # no handler of ours (not the main thread): stopped at once
            _end(store, study_id, StudyStatus.STOPPED, "stopped by the user (interrupted)")
            _notify(store, study_id, notify)
            raise
        except Exception as exc:
            _end(store, study_id, StudyStatus.FAILED, failure_reason(exc))
            exc.add_note(f"study {study_id} is marked failed; once the cause is fixed: aar resume {study_id}")
            _notify(store, study_id, notify)
            raise
        else:
            _end(store, study_id, StudyStatus.FINISHED, _reason_of(values))
        if values is None:
            values = saver.get_tuple(thread(study_id))
            values = values.checkpoint["channel_values"] if values else None
    outcome = outcome_of(store, study_id, values)
    if notify:
        notify(outcome)
    return outcome


def _reason_of(values: Any) -> str:
    reason = values.get("stop_reason") if isinstance(values, dict) else getattr(values, "stop_reason", None)
    return str(reason or "finished")


def _end(store: Store, study_id: int, status: StudyStatus, reason: str) -> None:
    """Record the end of this run (a no-op when the report node already marked the study finished)."""
    with store.session() as session:
        end_study_run(session=session, study_id=study_id, status=status, stop_reason=reason)


def _notify(store: Store, study_id: int, notify: Notify | None) -> None:
    if notify is not None:
        notify(outcome_of(store, study_id))


def failure_reason(exc: BaseException) -> str:
    """One line for why a study failed: the exception's type and the start of its message."""
    message = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def default_name() -> str:
    return time.strftime("study-%Y%m%d-%H%M%S")
