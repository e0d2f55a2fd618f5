"""Loopback by default; a token is required to bind elsewhere, and then on every request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aar.errors import UserError
from aar.store import Store
from aar.web import create_app
from aar.web.security import check_binding, is_loopback
from tests.report.seed import Seeded


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    check_binding(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.org"])
def test_other_hosts_need_a_token(host: str) -> None:
    with pytest.raises(UserError, match="AAR_WEB_TOKEN"):
        check_binding(host, None)
    check_binding(host, "s3cret")


def test_token_is_required_on_requests(store: Store, seeded: Seeded) -> None:
    client = TestClient(create_app(store, token="s3cret"))
    assert client.get("/api/studies").status_code == 401
    assert client.get("/").status_code == 401
    assert client.get("/api/studies", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/studies", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/?token=s3cret").status_code == 200
    assert client.get(f"/studies/{seeded.study_id}").status_code == 200  # the cookie the link set


def test_assets_are_local_and_headers_strict(client: TestClient) -> None:
    page = client.get("/")
    assert "Content-Security-Policy" in page.headers
    assert "https://" not in page.text and "http://" not in page.text
    for asset in ("/static/app.js", "/static/app.css"):
        response = client.get(asset)
        assert response.status_code == 200 and response.text
    assert len(client.get("/static/app.js").text) < 3000  # keep the JavaScript small
