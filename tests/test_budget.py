"""Budget limits over a real store ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.budget import Budget, BudgetExceeded, Limits
from aar.store import StudyCreate, create_study, open_store


@pytest.fixture()
def budget_for(tmp_path: Path):
    store = open_store(url=None, results_dir=tmp_path)
    with store.session() as session:
        study_id = int(create_study(session=session, study_in=StudyCreate(name="b", goal="g")).id or 0)
    clock = [1000.0]

    def make(**limits):
        return Budget(store, study_id, Limits(**limits), clock=lambda: clock[0]), clock

    yield make
    store.close()


def test_llm_dollars_checked_before_the_call(budget_for):
    budget, _ = budget_for(usd=1.0)
    budget.check_llm(est_usd=0.5)
    budget.charge("usd", 0.8, key="call:1")
    with pytest.raises(BudgetExceeded) as info:
        budget.check_llm(est_usd=0.5)
    assert info.value.limit == "usd"
    budget.charge("usd", 0.8, key="call:1")  # the same event is never charged twice
    assert budget.used()["usd"] == pytest.approx(0.8)


def test_launch_reservations_cap_parallel_launches(budget_for):
    budget, _ = budget_for(experiments=2)
    budget.reserve_launch(10)
    budget.reserve_launch(10)
    with pytest.raises(BudgetExceeded, match="experiments"):
        budget.reserve_launch(10)  # two in flight already hold the whole budget
    budget.release(10)
    budget.reserve_launch(10)


def test_device_time_overruns_by_at_most_one_job(budget_for):
    budget, _ = budget_for(device_seconds=100)
    budget.charge("device_seconds", 90, key="exp:1")
    budget.reserve_launch(50)  # starts under the limit: allowed to finish past it
    budget.release(50)
    budget.charge("device_seconds", 50, key="exp:2")
    with pytest.raises(BudgetExceeded, match="device_seconds"):
        budget.reserve_launch(1)
    assert budget.exhausted() == "device_seconds"


def test_deadline(budget_for):
    budget, clock = budget_for(deadline=1060.0)
    assert budget.seconds_left() == 60
    clock[0] = 1061.0
    assert budget.exhausted() == "deadline"
    with pytest.raises(BudgetExceeded, match="deadline"):
        budget.check_llm()


def test_unlimited_by_default(budget_for):
    budget, _ = budget_for()
    budget.charge("usd", 1e6, key="x")
    budget.check_llm(est_usd=1e6)
    assert budget.exhausted() is None and budget.remaining()["usd"] is None


def test_hold_back_keeps_experiments_for_the_final_checks(budget_for):
    budget, _ = budget_for(experiments=4)
    budget.hold_back = 2
    budget.reserve_launch(1)
    budget.reserve_launch(1)
    with pytest.raises(BudgetExceeded, match="experiments"):
        budget.reserve_launch(1)  # the last two are for the finalists
