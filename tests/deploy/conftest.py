"""Fixtures for the deployment tests: PostgreSQL in a private schema (the store tests' fixture)."""

from __future__ import annotations

from tests.store.conftest import pg_url  # noqa: F401  (shared fixture)
