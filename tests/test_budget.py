"""Budget limits over a real store ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.budget import (
    DEFAULT_WALL_S,
    NAIVE_TUNING_TRIALS,
    REPORT_S,
    Budget,
    BudgetExceeded,
    Limits,
    check_minimum,
    finalize_reserve,
    minimum_experiments,
)
from aar.errors import UserError
from aar.store import Study, StudyCreate, create_study, open_store


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


def test_finalize_reserve_stops_search_early_and_clamps_jobs(budget_for):
    budget, clock = budget_for(deadline=1100.0)
    budget.finalize_reserve_s = 40.0
    assert budget.wall_limit(final=False) == 60  # search jobs: to the deadline less the reserve
    assert budget.wall_limit(final=True) == 100  # finalize's jobs: to the deadline itself
    clock[0] = 1061.0  # inside the reserve: search is over, finalize is not
    assert budget.exhausted() == "deadline"
    with pytest.raises(BudgetExceeded, match="reserved for finalize"):
        budget.reserve_launch(1)
    with pytest.raises(BudgetExceeded):
        budget.wall_limit(final=False)
    assert budget.wall_limit(final=True) == 39
    clock[0] = 1098.0
    with pytest.raises(BudgetExceeded):
        budget.wall_limit(final=True)  # under MIN_WALL_S: not worth starting


def test_wall_limit_without_a_deadline_is_the_default(budget_for):
    budget, _ = budget_for()
    assert budget.wall_limit(final=False) == DEFAULT_WALL_S


def test_finalize_reserve_from_timed_jobs():
    # 2 finalists: 10 jobs (2 runs each, the naive baseline on test and the tuned naive's 5 new trials)
    # at the median, plus the report
    assert NAIVE_TUNING_TRIALS - 1 == 5
    assert finalize_reserve([10, 30, 20], 2, fallback_job_s=99) == pytest.approx(10 * 20 + REPORT_S)
    # search jobs on 1 seed, finalists on 5: each final job 1.2 x (1 + 0.25 x 4) = 2.4 x a search job
    assert finalize_reserve([], 1, fallback_job_s=10, seed_ratio=5) == pytest.approx(8 * 24 + REPORT_S)
    assert finalize_reserve([10], 0, fallback_job_s=10) == REPORT_S


def test_too_small_experiment_budget_is_refused_with_the_minimum():
    assert minimum_experiments(3, 2) == 7
    with pytest.raises(UserError, match=r"--max-experiments 4 is too small: needs at least 7 experiments"):
        check_minimum(4, per_round=3, finalists=2)
    check_minimum(7, per_round=3, finalists=2)
    check_minimum(None, per_round=3, finalists=2)


def test_budget_lines_are_rounded_for_people(budget_for):
    budget, _ = budget_for(experiments=16, deadline=1000.0 + 3589.197, usd=2.0)
    with budget.store.session() as session:
        study = session.get(Study, budget.study_id)
        study.budget_limits = budget.limits.as_store()
        session.add(study)
    budget.charge("experiments", 3, key="e")
    budget.charge("device_seconds", 12.3456, key="d")
    budget.charge("usd", 0.123456, key="u")
    text = budget.describe()
    assert "experiments: 3 used of 16, 13 left" in text
    assert "device_seconds: 12 used, no limit" in text
    assert "usd: $0.12 used of $2.00, $1.88 left" in text
    assert "(59m 49s left)" in text and "3589.1" not in text
    left = budget.remaining()  # what the researcher (and an LLM's prompt) sees
    assert left["deadline_s"] == 3589 and left["usd"] == 1.88 and left["experiments"] == 13


def test_baseline_jobs_count_as_device_seconds_and_show_apart(budget_for):
    """A baseline job's device time counts against the device-seconds limit like a method job's, and the
    budget lines (terminal, `aar show`, report) say how much of it was baselines."""
    budget, _ = budget_for(device_seconds=100.0)
    with budget.store.session() as session:
        study = session.get(Study, budget.study_id)
        study.budget_limits = budget.limits.as_store()
        session.add(study)
    budget.charge_baseline(40.4, "baseline: weak model static64, seed 0 (5 fits)")
    budget.charge_baseline(20.0, "baseline: ceiling minilm-l6, seed 0")  # each job charged, none merged
    budget.charge("device_seconds", 25.0, key="experiment:1:attempt:1:device_seconds")
    assert budget.used()["device_seconds"] == pytest.approx(85.4)
    assert "device_seconds: 85 used of 100, 15 left (baselines 60, method jobs 25)" in budget.describe()
    budget.charge_baseline(20.0, "baseline: naive")
    with pytest.raises(BudgetExceeded):  # baselines used the limit up: no launch
        budget.reserve_launch(1.0)


def test_host_work_stops_near_the_deadline(budget_for):
    budget, clock = budget_for(deadline=1010.0)
    budget.check_time()  # 10 s left: go on
    clock[0] = 1006.0
    with pytest.raises(BudgetExceeded) as info:
        budget.check_time()
    assert info.value.limit == "deadline"
    budget_for()[0].check_time()  # no deadline: never stops
