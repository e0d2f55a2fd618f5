"""A low-fidelity launch holds and is charged its share of an experiment (issue 12.4, multi-fidelity)."""

from __future__ import annotations

import pytest

from aar.budget import BudgetExceeded, fmt_amount
from tests.test_budget import budget_for  # noqa: F401 - the fixture


def test_a_launch_holds_its_share_of_an_experiment(budget_for):  # noqa: F811
    budget, _ = budget_for(experiments=2.0)
    budget.charge("experiments", 1.7, key="e1")
    budget.reserve_launch(10.0, experiments=0.2)  # a low rung fits in the 0.3 left
    with pytest.raises(BudgetExceeded, match="experiments"):
        budget.reserve_launch(10.0, experiments=0.2)  # 0.1 left beside the one held
    budget.release(10.0, experiments=0.2)
    budget.reserve_launch(10.0, experiments=0.3)
    with pytest.raises(BudgetExceeded, match="experiments"):
        budget_for(experiments=2.0)[0].reserve_launch(10.0, experiments=2.2)  # a whole one would not fit


def test_fractional_experiments_print_to_a_tenth() -> None:
    assert fmt_amount("experiments", 12.4) == "12.4" and fmt_amount("experiments", 12.0) == "12"
    assert fmt_amount("experiments", 11.98) == "12" and fmt_amount("experiments", 1234.5) == "1,234.5"
    assert fmt_amount("device_seconds", 12.4) == "12"
