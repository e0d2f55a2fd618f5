"""Starting and resuming studies: the store row, the runtime, the checkpointer, and the graph run."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aar.config import ExecutorChoice, Settings, StudyConfig
from aar.errors import UserError
from aar.graph.builder import RECURSION_LIMIT, build_graph
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
from aar.store import Store, StudyCreate, create_study, find_study, recover_interrupted


@dataclass(frozen=True)
class StudyOutcome:
    study_id: int
    name: str
    stop_reason: str | None
    report_path: str | None
    best: dict[str, Any] | None


@contextlib.contextmanager
def checkpointer(settings: Settings, store: Store) -> Iterator[Any]:
    """SQLite beside the store by default; PostgreSQL when the store is PostgreSQL."""
    url = str(store.engine.url)
    if url.startswith("postgresql"):
        from langgraph.checkpoint.postgres import PostgresSaver

        conn_url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with PostgresSaver.from_conn_string(conn_url) as saver:
            saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = settings.results_dir / "checkpoints.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def make_researcher(config: StudyConfig, runtime_hooks: dict[str, Any]) -> Researcher:
    if config.policy == "builtin":
        from aar.researchers.builtin import BuiltinResearcher

        return BuiltinResearcher(seed=config.split_seed)
    if config.policy == "llm":
        from aar.researchers.llm import LLMResearcher

        return LLMResearcher.from_config(config, **runtime_hooks)
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
    library, spaces = library_sources(settings)
    hooks = {"store": store, "study_id": study_id, "budget": budget, "display": display}
    researcher = make_researcher(config, hooks)
    rt = Runtime(
        config,
        settings,
        store,
        study_id,
        budget,
        researcher,
        setup,
        smoke,
        runner_for,
        kind,
        pool,
        display,
        library,
        spaces,
    )  # type: ignore[arg-type]
    return rt


def thread(study_id: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"study-{study_id}"}, "recursion_limit": RECURSION_LIMIT}


def _outcome(rt: Runtime, values: Any) -> StudyOutcome:
    state = values if isinstance(values, StudyState) else StudyState.model_validate(values)
    best = state.best.model_dump(exclude={"code"}) if state.best else None
    return StudyOutcome(rt.study_id, rt.config.name, state.stop_reason, state.report_path, best)


def start_study(
    config: StudyConfig,
    settings: Settings,
    store: Store,
    *,
    display: Display,
    announce: Callable[[str], object] | None = None,
) -> StudyOutcome:
    """Create the study row and run the graph to the end (or until interrupted)."""
    make_setups(config, settings)[0].splits  # noqa: B018 - a bad task, pair or size fails before any row is written
    if config.policy == "llm":  # a bad model spec or a missing key, too, before the row
        from aar.llm import make_client

        make_client(config.model)
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(
            name=config.name, goal=config.goal, task=config.task, pair=config.pair, policy=config.policy if config.policy == "builtin" else f"llm:{config.model}",
            feedback_mode=config.feedback, budget_limits=make_budget_limits(config)))  # fmt: skip
        study_id = int(study.id or 0)
    rt = build_runtime(config, settings, store, study_id, display, announce)
    with checkpointer(settings, store) as saver:
        graph = build_graph(rt, saver)
        values = graph.invoke(StudyState(config=config, study_id=study_id), thread(study_id))
    return _outcome(rt, values)


def make_budget_limits(config: StudyConfig) -> dict[str, float]:
    return limits_of(config).as_store()


def resume_study(
    ref: str,
    settings: Settings,
    store: Store,
    *,
    display: Display,
    announce: Callable[[str], object] | None = None,
    executor: ExecutorChoice | None = None,
) -> StudyOutcome:
    """Continue a study from its last checkpoint; finished experiments are never rerun.
    `executor` (local | ray) replaces the one the study started with, for this run of it."""
    with store.session() as session:
        study = find_study(session=session, ref=ref)
        study_id = int(study.id or 0)
        requeued = recover_interrupted(session=session, study_id=study_id)
    with checkpointer(settings, store) as saver:
        snapshot = saver.get_tuple(thread(study_id))
        if snapshot is None:
            raise UserError(f"study {ref!r} has no checkpoint to resume (was it started by `aar run`?)")
        values = snapshot.checkpoint["channel_values"]
        config = StudyConfig.model_validate(values["config"])
        if executor:
            config = config.model_copy(update={"executor": executor})
        rt = build_runtime(config, settings, store, study_id, display, announce)
        if requeued:
            rt.event("plan", f"resumed: {len(requeued)} interrupted experiment(s) requeued")
        graph = build_graph(rt, saver)
        state = graph.get_state(thread(study_id))
        if not state.next:
            return _outcome(rt, state.values)
        values = graph.invoke(None, thread(study_id))
    return _outcome(rt, values)


def default_name() -> str:
    return time.strftime("study-%Y%m%d-%H%M%S")
