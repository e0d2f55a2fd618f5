"""A study's checkpoint revives its own state types and nothing else, without LangGraph's warnings."""

from __future__ import annotations

import logging

import pytest

from aar.config import Settings
from aar.graph.checkpoints import checkpointer, thread_id
from aar.graph.state import Candidate, Outcome, Proposal, StudyState
from tests.graph.conftest import study_config


def _state() -> StudyState:
    proposal = Proposal(text="t", hparams={"lr": 0.01})
    return StudyState(
        config=study_config("ckpt"), study_id=7, proposals=[proposal],
        candidates=[Candidate(hypothesis_id=1, proposal=proposal)],
        outcomes=[Outcome(hypothesis_id=1, experiment_id=2, method="m", status="ok", dev_pgr=0.3)],
    )  # fmt: skip


def test_state_round_trips_without_type_warnings(settings: Settings, store, caplog: pytest.LogCaptureFixture):
    state = _state()
    config = {"configurable": {"thread_id": thread_id(7), "checkpoint_ns": ""}}
    with checkpointer(settings, store) as saver:
        checkpoint = {"v": 1, "id": "1", "ts": "2026-11-28T00:00:00+00:00", "channel_values": {"state": state},
                      "channel_versions": {}, "versions_seen": {}}  # fmt: skip
        saver.put(config, checkpoint, {}, {})
    with caplog.at_level(logging.WARNING), checkpointer(settings, store) as saver:
        back = saver.get_tuple({"configurable": {"thread_id": thread_id(7)}})
    assert back is not None and back.checkpoint["channel_values"]["state"] == state
    assert not [r for r in caplog.records if "unregistered type" in r.getMessage()], caplog.text
