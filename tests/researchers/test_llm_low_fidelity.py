"""The LLM researcher may ask for a low-fidelity first look (issue 12.4, multi-fidelity): the study's low
rung when it has one, never anything else; the prompt says what it costs and what it cannot become."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.budget import Budget, Limits
from aar.config import StudyConfig
from aar.researchers.llm import LLMResearcher
from aar.researchers.types import Fidelity
from aar.store import Store, StudyCreate, create_study, open_store
from tests.fakes.llm import ScriptedLLM
from tests.researchers.test_builtin_search import view

REPLY = {"hypotheses": [
    {"text": "a", "rationale": "r", "expected_effect": "e", "base_method": "aux_conf", "hparams": {"lr": 0.001},
     "low_fidelity": True},
    {"text": "b", "rationale": "r", "expected_effect": "e", "base_method": "aux_conf"},
]}  # fmt: skip


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(url=f"sqlite:///{tmp_path / 'aar.db'}", results_dir=tmp_path)
    yield opened
    opened.close()


def researcher(store: Store, client: ScriptedLLM) -> LLMResearcher:
    with store.session() as session:
        study = create_study(
            session=session, study_in=StudyCreate(name="lf", goal="g", task="t", policy="llm")
        )
    config = StudyConfig(name="lf", goal="g", policy="llm", model="scripted/x")
    budget = Budget(store, int(study.id or 0), Limits(None, None, None, None, None))
    return LLMResearcher(client, store, int(study.id or 0), budget, config, display=lambda n, m: None)


def test_a_low_fidelity_request_runs_on_the_studys_low_rung(store: Store) -> None:
    client = ScriptedLLM([REPLY, REPLY])
    sized = dataclasses.replace(view([]), seeds=3, w2s_train_size=900)
    mine = researcher(store, client)
    low, full = mine.propose(sized)
    assert low.fidelity == Fidelity(rung=0, seeds=2, w2s_fraction=1 / 3) and full.fidelity is None
    prompt = client.calls[0].messages[-1].content
    assert (
        "Set `low_fidelity`" in prompt and "rung 0: 2 seeds, 1/3 w2s_train, 0.22 of an experiment" in prompt
    )
    # a study too small for a low rung (2 seeds): the request runs in full, and the prompt offers none
    low, _ = LLMResearcher(client, store, mine.study_id, mine.budget, mine.config).propose(
        dataclasses.replace(sized, seeds=2)
    )
    assert low.fidelity is None and "low_fidelity" not in client.calls[1].messages[-1].content
