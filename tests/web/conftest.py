"""Fixtures for the dashboard tests: a seeded store and a test client over it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aar.store import Store
from aar.web import create_app
from tests.report.conftest import seeded, store  # noqa: F401  (shared fixtures)
from tests.report.seed import Seeded


@pytest.fixture
def client(store: Store, seeded: Seeded) -> TestClient:  # noqa: F811
    """A client of the dashboard over the demo study; server errors surface as responses."""
    return TestClient(create_app(store), raise_server_exceptions=False)
