"""The dashboard in real headless Chromium (Debian's `chromium`, driven by Playwright).

Screenshots go to tests/artifacts/. Under CI=true a missing browser fails these tests instead of
skipping them (`.ci/setup_browser.sh` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from aar.store import Store, open_store
from aar.web import create_app
from tests.report.seed import TUNED_MARK, Seeded, finish_ok, queue, seed_study

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = os.environ.get("AAR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def chromium_or_skip() -> str:
    """The browser's path; skip without it, or fail when CI promised it."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide Chromium at {CHROMIUM} (source .ci/setup_browser.sh)")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium."""
    executable = chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide the playwright package")
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def live_store(tmp_path: Path) -> Iterator[Store]:
    """A file-backed store, so the server's threads and the test share it."""
    store = open_store(url=f"sqlite:///{tmp_path / 'aar.db'}", results_dir=tmp_path)
    yield store
    store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(live_store: Store) -> Iterator[str]:
    """The dashboard served by uvicorn on a free loopback port, in a thread."""
    port = _free_port()
    config = uvicorn.Config(create_app(live_store), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the dashboard did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; console errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _plots_rendered(page: Any) -> None:
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('img.plot')];"
        " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0); }",
        timeout=20_000,
    )


def test_review_a_study_in_the_browser(server: str, live_store: Store, page: Any) -> None:
    seeded: Seeded = seed_study(live_store)
    page.goto(server + "/")
    shot(page, "01-studies")
    page.click(f"a.study-link[href='/studies/{seeded.study_id}']")
    page.wait_for_url(f"**/studies/{seeded.study_id}")
    _plots_rendered(page)
    assert page.locator("img.plot").count() == 4
    assert "Stronger confidence weight helps more" in page.inner_text("ul.tree")
    shot(page, "02-study")
    page.click("a.sort[data-sort='pgr']")  # sorted by PGR descending already: this flips to ascending
    page.wait_for_url("**order=asc**")
    first = page.locator("#experiments-table tbody tr").first.locator("td.pgr").inner_text()
    assert first == "0.050"  # the weak-label-shuffle ablation
    tuned = seeded.experiments["aux_conf_tuned"][0]
    page.click(f"a.experiment-link[href='/experiments/{tuned}']")
    page.wait_for_url(f"**/experiments/{tuned}")
    added = page.locator("pre.diff-body span.add", has_text=TUNED_MARK)
    assert added.count() == 2  # against the template and against the parent hypothesis
    assert added.first.is_visible()
    _plots_rendered(page)
    shot(page, "03-experiment")


def test_running_study_updates_without_reload(server: str, live_store: Store, page: Any) -> None:
    seeded = seed_study(live_store, name="running")
    pending = queue(live_store, seeded.study_id, None, None, {"method": "naive"}, 9)
    page.goto(f"{server}/studies/{seeded.study_id}")
    _plots_rendered(page)
    page.evaluate("window.__notReloaded = true")
    ok_before = page.inner_text("#progress-ok")
    queued_before = page.inner_text("#progress-queued")
    assert queued_before == "1"
    shot(page, "04-running-before")
    finish_ok(live_store, pending, 0.95)
    page.wait_for_function(
        f"() => document.getElementById('progress-ok').textContent === '{int(ok_before) + 1}'", timeout=20_000
    )
    assert page.inner_text("#progress-queued") == "0"
    page.wait_for_function("() => document.getElementById('progress-best').textContent.startsWith('0.950')")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#experiments-table td.pgr')].some(td => td.textContent === '0.950')"
    )
    assert page.evaluate("window.__notReloaded") is True
    _plots_rendered(page)
    shot(page, "05-running-after")
