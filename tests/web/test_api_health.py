"""`GET /api/health`: compose's healthcheck of the dashboard; 200 while the store answers, else 503."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from aar.store import open_store
from aar.web import create_app


def test_health_follows_the_store(tmp_path: Path) -> None:
    store = open_store(url=f"sqlite:///{tmp_path / 'db' / 'aar.db'}", results_dir=tmp_path / "db")
    client = TestClient(create_app(store), raise_server_exceptions=False)
    try:
        assert (client.get("/api/health").status_code, client.get("/api/health").json()["status"]) == (
            200,
            "ok",
        )
        store.engine.dispose()
        shutil.rmtree(tmp_path / "db")  # the database is gone: no connection can be opened
        gone = client.get("/api/health")
        assert gone.status_code == 503 and gone.json()["status"] == "unavailable"
        assert "cannot open the database" in gone.json()["store"]
    finally:
        store.close()
