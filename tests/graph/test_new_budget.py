"""A resumed study's new budget is checked against what the study used (aar/graph/new_budget.py)."""

from __future__ import annotations

import pytest

from aar.config import StudyConfig
from aar.errors import UserError
from aar.graph.new_budget import check_new_limits, with_limits

CONFIG = StudyConfig(
    name="s", goal="g", per_round=2, finalists=2, max_experiments=10, max_usd=1.0, deadline=100.0
)
USED = {"experiments": 6.0, "usd": 0.4, "tokens": 5000.0, "device_seconds": 7200.0}


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"experiments": 11}, "--max-experiments 11 is too small: the study used 6; needs at least 12"),
        ({"usd": 0.4}, "--max-usd 0.4 is too small: the study already used 0.4"),
        ({"tokens": 100}, "--max-tokens 100 is too small: the study already used 5000"),
        ({"device_seconds": 3600}, "--max-device-hours 1 is too small: the study already used 2"),
    ],
)
def test_a_limit_the_study_already_used_is_refused_with_the_minimum(limits: dict, message: str) -> None:
    with pytest.raises(UserError) as refused:
        check_new_limits(limits, config=CONFIG, used=USED)
    assert message in str(refused.value)


def test_limits_with_room_pass_and_replace_only_their_fields() -> None:
    check_new_limits({"experiments": 12, "usd": 0.5, "deadline": 500.0}, config=CONFIG, used=USED)
    renewed = with_limits(CONFIG, {"experiments": 12.0, "deadline": 500.0})
    assert (renewed.max_experiments, renewed.deadline, renewed.max_usd) == (12.0, 500.0, 1.0)
    assert renewed.per_round == 2 and CONFIG.max_experiments == 10  # a copy
