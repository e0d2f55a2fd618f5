"""Study start-up loads the task once: the smoke setup (the audit's tiny runs) shares the study setup's
examples instead of reading the task again (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from aar.config import Settings
from aar.graph.runtime import SMOKE_SIZES, make_setups
from aar.w2s import setup as w2s_setup
from tests.graph.conftest import study_config


def test_the_task_is_loaded_once_for_both_setups(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    real = w2s_setup.load_task

    def counting(name: str) -> Any:
        loads.append(name)
        return real(name)

    monkeypatch.setattr(w2s_setup, "load_task", counting)
    setup, smoke = make_setups(study_config("once"), settings)
    assert smoke.sizes == SMOKE_SIZES and smoke.baseline_hparams == {"epochs": 1}
    assert len(smoke.splits.dev) == SMOKE_SIZES.dev and len(setup.splits.dev) > SMOKE_SIZES.dev
    assert smoke.examples is setup.examples
    assert loads == ["rotten_tomatoes"]
