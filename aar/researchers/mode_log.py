"""Structured-output mode switches of a study's LLM client, in the agent log and on the terminal.

A switch (llama-cpp-python answering HTTP 500 to `response_format: json_schema`, and the client moving
to `json_object`, see aar/llm/modes.py) changes how every later call is asked: a reader of the log, the
dashboard's LLM-call view and the terminal must see it, not only the Python log.
"""

from __future__ import annotations

from collections.abc import Callable

from aar.llm.modes import ModeSwitch
from aar.store import AgentEventBase, Store, record_event

# The agent-log node of steps about the LLM endpoint itself (not a graph node's work).
LLM_NODE = "llm"
# `AgentEvent.data["kind"]` of a mode switch (what the LLM-call view looks for).
MODE_SWITCH = "llm_mode_switch"


def mode_switch_recorder(
    store: Store, study_id: int, show: Callable[[str, str], object]
) -> Callable[[ModeSwitch], None]:
    """The `on_mode_switch` hook of a study's LLM client: each switch becomes an agent-log step (node
    `llm`, `data.kind` = `llm_mode_switch`) and a line on the terminal (or the `--json` stream) via `show`."""

    def record(switch: ModeSwitch) -> None:
        message = f"structured output: {switch.describe()}"
        data = {"kind": MODE_SWITCH, "provider": switch.provider, "rejected": switch.rejected,
                "now": switch.now, "status": switch.status}  # fmt: skip
        with store.session() as session:
            record_event(
                session=session,
                study_id=study_id,
                event_in=AgentEventBase(node=LLM_NODE, message=message, data=data),
            )
        show(LLM_NODE, message)

    return record
