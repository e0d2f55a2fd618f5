"""Bad ids and malformed parameters give clean 404 / 422 responses, never a traceback; writes are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.report.seed import Seeded

PAGES_404 = ["/studies/999", "/studies/abc", "/experiments/999", "/experiments/-1", "/studies/1/experiments/99",
             "/nope", "/studies/999/log", "/studies/999/plots/best_so_far.svg"]  # fmt: skip
PAGES_422 = ["/studies/1?sort=bogus", "/studies/1?page=0", "/studies/1?per_page=abc", "/studies/1?split=train",
             "/experiments/0", "/experiments/99999999999999999999999", "/studies/1/plots/nope.svg",
             "/studies/1/log?page=-3"]  # fmt: skip
API_404 = ["/api/studies/999", "/api/experiments/999", "/api/artifacts/" + "0" * 64, "/api/nope"]
API_422 = ["/api/studies/1/experiments?order=up", "/api/studies/1/experiments?per_page=100000",
           "/api/artifacts/zz", "/api/studies/1/log?per_page=0"]  # fmt: skip


def _clean(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text


@pytest.mark.parametrize("url", PAGES_404)
def test_page_404(client: TestClient, seeded: Seeded, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404, url
    assert response.headers["content-type"].startswith("text/html")
    _clean(response.text)


@pytest.mark.parametrize("url", PAGES_422)
def test_page_422(client: TestClient, seeded: Seeded, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, url
    assert "malformed request parameters" in response.text
    _clean(response.text)


@pytest.mark.parametrize("url", API_404)
def test_api_404(client: TestClient, seeded: Seeded, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404, url
    assert "detail" in response.json()


@pytest.mark.parametrize("url", API_422)
def test_api_422(client: TestClient, seeded: Seeded, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, url
    assert response.json()["errors"]


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_read_only(client: TestClient, seeded: Seeded, method: str) -> None:
    assert getattr(client, method)(f"/api/studies/{seeded.study_id}").status_code == 405
