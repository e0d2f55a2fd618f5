"""The study queue in the store: `aar run --enqueue` writes a `queued` study, a worker claims and runs it.

No table of its own: the study row's status is `queued` until a worker takes it (one conditional UPDATE,
`aar.store.states.claim_queued_study`), and the config to run it with is the study's first agent-log
entry (node `queue`), so `aar log` and the dashboard show when and how it was queued. The deadline is
kept as a duration and starts when a worker takes the study, not when it was queued.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from aar.config import Settings, StudyConfig
from aar.graph.study import create_study_row, make_budget_limits
from aar.store import AgentEventBase, Store, StudyStatus, list_events, record_event
from aar.store.states import claim_queued_study, end_study_run, set_budget_limits_of

QUEUE_NODE = "queue"
NO_ENTRY = "queued without a queue entry (not by aar run --enqueue); nothing to run"


class Claimed(NamedTuple):
    """A study this worker took from the queue, with the config to run it with."""

    study_id: int
    config: StudyConfig


def enqueue(config: StudyConfig, settings: Settings, store: Store, *, deadline_s: float | None) -> int:
    """Check `config` as `aar run` would, then queue the study; its deadline (`deadline_s`) starts later.

    Raises:
        UserError: a bad task, pair, size or model (nothing is written then).
    """
    waiting = config.model_copy(update={"deadline": None})
    study_id = create_study_row(waiting, settings, store, queued=True)
    data: dict[str, Any] = {"config": waiting.model_dump(mode="json"), "deadline_s": deadline_s}
    message = "queued by aar run --enqueue; a worker (aar worker) runs it" + (
        f" with a deadline of {deadline_s:.0f}s from its start" if deadline_s else ""
    )
    with store.session() as session:
        record_event(session=session, study_id=study_id,
                     event_in=AgentEventBase(node=QUEUE_NODE, message=message, data=data))  # fmt: skip
    return study_id


def claim(store: Store, *, now: float | None = None) -> Claimed | None:
    """Take the oldest queued study (marked running by this process); None when the queue is empty.

    A queued study without a queue entry (not written by `enqueue`) is marked failed and skipped.
    """
    while True:
        with store.session() as session:
            study = claim_queued_study(session=session)
            if study is None:
                return None
            study_id = int(study.id or 0)
            events = list_events(session=session, study_id=study_id)
            entry = next((e for e in events if e.node == QUEUE_NODE), None)
            if entry is None:
                end_study_run(
                    session=session, study_id=study_id, status=StudyStatus.FAILED, stop_reason=NO_ENTRY
                )
                continue
            config = StudyConfig.model_validate(entry.data["config"])
            if deadline_s := entry.data.get("deadline_s"):
                config = config.model_copy(update={"deadline": (now or time.time()) + float(deadline_s)})
                set_budget_limits_of(session=session, study_id=study_id, limits=make_budget_limits(config))
        return Claimed(study_id, config)
