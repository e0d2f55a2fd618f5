"""The agent log's LLM-call view in real headless Chromium: role-labelled messages, long parts collapsed
until clicked, and a page as wide as the window (not one 2,646 px escaped-JSON wall)."""

from __future__ import annotations

from typing import Any

import pytest

from aar.store import Store
from tests.report.seed import seed_study
from tests.web.llm_calls import LONG_LINE, record_calls
from tests.web.test_browser import browser, live_store, page, server, shot  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser


def test_llm_calls_read_as_collapsible_messages(server: str, live_store: Store, page: Any) -> None:  # noqa: F811
    seeded = seed_study(live_store, name="llm-view")
    record_calls(live_store, seeded.study_id)
    page.goto(f"{server}/studies/{seeded.study_id}/log")
    implement = page.locator("tbody.llm-call", has_text="implement").nth(1)  # the retry, with valid code
    chat = implement.locator("details.chat")
    assert not chat.evaluate("d => d.open")  # one line per call until opened
    chat.locator("summary").first.click()
    roles = implement.locator(".msg .role").all_inner_texts()
    assert [r.lower() for r in roles] == ["system", "user", "assistant", "user", "assistant"]
    system = implement.locator(".msg.role-system details.long")
    assert system.locator("summary").is_visible()
    assert not implement.get_by_text("LAST-SYSTEM-LINE").is_visible()  # collapsed
    system.locator("summary").click()
    assert implement.get_by_text("LAST-SYSTEM-LINE").is_visible()
    code = implement.locator(".msg.role-assistant", has_text="method_code").locator("pre.msg-text")
    if not code.is_visible():  # 31 lines: collapsed too
        implement.locator(".msg.role-assistant", has_text="method_code").locator("summary").click()
    assert implement.locator(".msg .field").all_inner_texts() == ["method_code"]
    assert "\n    x29 = 29\n" in code.inner_text()  # code with its line breaks, not a JSON string
    # Nothing runs off to the right, everything open: the page is no wider than the window.
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert page.get_by_text(LONG_LINE[:40]).first.is_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width
    shot(page, "06-llm-calls")
