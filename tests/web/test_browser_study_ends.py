"""Issue 11's "Done when", in real headless Chromium: a stopped, a failed and a finished study, each with
real LLM calls (an invalid reply, its retry, a tool call) and a structured-output mode switch, show their
status and stop reason on the study page, and their LLM-call view on the agent log."""

from __future__ import annotations

from typing import Any

import pytest

from aar.store import Store, StudyStatus, set_study_status
from aar.store.states import begin_study_run, end_study_run
from tests.report.seed import seed_study
from tests.web.llm_calls import record_calls
from tests.web.test_browser import browser, live_store, page, server, shot  # noqa: F401  (shared fixtures)
from tests.web.test_llm_mode_switch_view import switch_modes

pytestmark = pytest.mark.browser

ENDS = {
    "ends-stopped": (StudyStatus.STOPPED, "stopped by the user (aar stop)"),
    "ends-failed": (StudyStatus.FAILED, "LLMUnreachableError: the study's LLM could not be reached"),
    "ends-finished": (StudyStatus.FINISHED, "researcher: enough for this budget"),
}


def _seed(store: Store) -> dict[str, int]:
    """Each study: seeded results, LLM calls and a mode switch recorded for real, then ended its way."""
    ids = {}
    for name, (status, reason) in ENDS.items():
        study_id = seed_study(store, name=name).study_id
        ids[name] = study_id
        with store.session() as session:
            begin_study_run(session=session, study_id=study_id)
        record_calls(store, study_id)
        switch_modes(store, study_id)
        with store.session() as session:
            if status == StudyStatus.FINISHED:
                set_study_status(session=session, study_id=study_id, status=status, stop_reason=reason)
            else:
                end_study_run(session=session, study_id=study_id, status=status, stop_reason=reason)
    return ids


def test_ended_studies_show_status_reason_and_llm_calls(
    server: str,  # noqa: F811
    live_store: Store,  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    ids = _seed(live_store)
    for name, (status, reason) in ENDS.items():
        page.goto(f"{server}/studies/{ids[name]}")
        assert page.locator("#study-status").inner_text() == status.value
        assert reason in page.locator("#stop-reason").inner_text()
        assert page.locator(".live").count() == 0, name

        page.goto(f"{server}/studies/{ids[name]}/log")
        switches = page.locator("#llm-mode-switches")
        assert switches.is_visible(), name
        assert "rejected json_schema structured output (HTTP 500" in switches.inner_text()
        calls = page.locator("tbody.llm-call")
        assert calls.count() == 4, name  # the seed's propose, implement (invalid), its retry, analyze (tools)
        invalid = calls.filter(has_text="implement").first
        assert "not valid JSON" in invalid.locator(".call-error").inner_text()  # the validation error
        invalid.locator("details.chat summary").first.click()
        roles = [r.lower() for r in invalid.locator(".msg .role").all_inner_texts()]
        assert roles[:2] == ["system", "user"] and "assistant" in roles  # role-labelled, not a JSON wall
        assert "structured output: tools" in calls.filter(has_text="claude-haiku").first.inner_text()
        steps = page.locator("#agent-steps").inner_text()
        assert "structured output: openai-compatible rejected json_schema" in steps
        shot(page, f"ends-{name}-log")
