"""Study status in real headless Chromium: a stopped, a failed, a finished and a dead study, each with its
stop reason and without the green "live" marker; a study that really runs keeps it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aar.store import Store, StudyCreate, StudyStatus, create_study, set_study_status
from aar.store.models import STALE_AFTER_S, Study, utcnow
from aar.store.states import begin_study_run, end_study_run
from tests.web.test_browser import browser, live_store, page, server, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

ENDS = {
    "stopped-one": (StudyStatus.STOPPED, "stopped by the user (aar stop)"),
    "failed-one": (StudyStatus.FAILED, "InfraError: docker daemon not reachable"),
    "finished-one": (StudyStatus.FINISHED, "budget: experiments"),
}


def _seed(store: Store) -> dict[str, int]:
    """Studies that ended each way, one whose host died (stale heartbeat) and one alive."""
    ids = {}
    with store.session() as session:
        for name in [*ENDS, "dead-one", "alive-one"]:
            study = create_study(session=session, study_in=StudyCreate(name=name, goal=f"goal of {name}"))
            ids[name] = int(study.id or 0)
            begin_study_run(session=session, study_id=ids[name])
        for name, (status, reason) in ENDS.items():
            if status == StudyStatus.FINISHED:
                set_study_status(session=session, study_id=ids[name], status=status, stop_reason=reason)
            else:
                end_study_run(session=session, study_id=ids[name], status=status, stop_reason=reason)
        dead = session.get(Study, ids["dead-one"])
        assert dead is not None
        dead.heartbeat_at = utcnow() - timedelta(seconds=STALE_AFTER_S + 60)
        session.add(dead)
    return ids


def _row(tab: Any, name: str) -> str:
    return str(tab.locator("#studies tr", has_text=name).inner_text())


def test_stopped_failed_finished_and_dead_studies_show_status_and_reason(
    server: str,  # noqa: F811
    live_store: Store,  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    ids = _seed(live_store)
    page.goto(server + "/")
    shot(page, "status-01-studies")
    for name, (status, reason) in ENDS.items():
        row = _row(page, name)
        assert status.value in row and reason in row, row
    assert "interrupted" in _row(page, "dead-one") and "no heartbeat since" in _row(page, "dead-one")
    assert "running" in _row(page, "alive-one")

    for name, (status, reason) in [
        *ENDS.items(),
        ("dead-one", (StudyStatus.INTERRUPTED, "no heartbeat since")),
    ]:
        page.goto(f"{server}/studies/{ids[name]}")
        assert page.locator("#study-status").inner_text() == status.value
        assert reason in page.locator("#stop-reason").inner_text()
        assert page.locator(".live").count() == 0, name  # no green "● live" on a study that does not run
        assert f"{status.value}, not running" in page.locator("#not-live").inner_text()
        shot(page, f"status-{name}")
    page.goto(f"{server}/studies/{ids['finished-one']}")
    assert " at " in page.locator("#stop-reason").inner_text()  # when it ended

    page.goto(f"{server}/studies/{ids['alive-one']}")
    assert page.locator("#study-status").inner_text() == "running"
    assert page.locator(".live").count() == 1 and page.locator("#stop-reason").count() == 0
    with live_store.session() as session:  # it ends while the page is open
        end_study_run(session=session, study_id=ids["alive-one"], status=StudyStatus.STOPPED, stop_reason="x")
    page.wait_for_function("() => document.querySelectorAll('.live').length === 0", timeout=15_000)
    assert page.locator("#study-status").inner_text() == "stopped"
