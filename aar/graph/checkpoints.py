"""Where a study's graph checkpoints live: SQLite beside the store, or the store's PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

from aar.config import Settings
from aar.store import Store

# The types a study's checkpoint holds (StudyState and what it nests). Only these are revived from
# msgpack: nothing else in a checkpoint file can name a class to build, and LangGraph stops warning that
# unregistered types will be blocked (it printed four warnings on every `aar resume`).
CHECKPOINT_TYPES = [
    ("aar.config", "StudyConfig"),
    ("aar.graph.state", "StudyState"),
    ("aar.graph.state", "Candidate"),
    ("aar.researchers.types", "Proposal"),
    ("aar.researchers.types", "Outcome"),
    ("aar.researchers.types", "Fidelity"),
]


def serializer() -> Any:
    """LangGraph's serializer, reviving only CHECKPOINT_TYPES."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


def thread_id(study_id: int) -> str:
    """The checkpoint thread of a study."""
    return f"study-{study_id}"


@contextlib.contextmanager
def checkpointer(settings: Settings, store: Store) -> Iterator[Any]:
    """SQLite beside the store by default; PostgreSQL when the store is PostgreSQL."""
    url = str(store.engine.url)
    if url.startswith("postgresql"):
        from langgraph.checkpoint.postgres import PostgresSaver

        conn_url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with PostgresSaver.from_conn_string(conn_url) as saver:
            saver.serde = serializer()
            saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = settings.results_dir / "checkpoints.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        yield SqliteSaver(conn, serde=serializer())
    finally:
        conn.close()


def delete_checkpoints(settings: Settings, store: Store, study_id: int) -> bool:
    """Forget a study's checkpoints (for `aar rm`); False when it had none."""
    serde_log = logging.getLogger("langgraph.checkpoint.serde.jsonplus")
    level = serde_log.level
    serde_log.setLevel(logging.ERROR)  # reading the checkpoint only to see it exists: no type warnings
    try:
        with checkpointer(settings, store) as saver:
            had = saver.get_tuple({"configurable": {"thread_id": thread_id(study_id)}}) is not None
            saver.delete_thread(thread_id(study_id))
    finally:
        serde_log.setLevel(level)
    return had
