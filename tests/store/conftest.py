"""Fixtures for the store tests: the same suite on in-memory SQLite and on a real PostgreSQL server.

PostgreSQL tests use `AAR_TEST_POSTGRES_URL` (set by `.ci/setup_postgres.sh`), each in a fresh schema.
Under CI=true a missing URL fails the `postgres` tests instead of skipping them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from aar.store import Store, open_store
from aar.store.engine import parse_url

REPO = Path(__file__).resolve().parents[2]


def postgres_url_or_skip() -> str:
    """The test server's URL; skip without one, or fail when CI promised one."""
    url = os.environ.get("AAR_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("CI must provide a PostgreSQL server: AAR_TEST_POSTGRES_URL is not set")
    pytest.skip("AAR_TEST_POSTGRES_URL is not set (source .ci/setup_postgres.sh)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose connections live in a fresh, private schema of the test server."""
    base = parse_url(postgres_url_or_skip())
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """In-memory SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return "sqlite://"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database other processes can open too: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    """An open, migrated store with its artifacts in a temporary folder."""
    opened = open_store(url=db_url, results_dir=tmp_path / "results")
    yield opened
    opened.close()


@pytest.fixture
def session(store: Store) -> Iterator[Session]:
    """One transaction on the store, committed at the end of the test."""
    with store.session() as opened:
        yield opened


def run_aar(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m aar ARGS` with only the given `AAR_*` settings."""
    # Rich wraps stderr at 80 columns when it is not a terminal; a wide one keeps messages on one line.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AAR_")} | {"COLUMNS": "400"} | env
    return subprocess.run(
        [sys.executable, "-m", "aar", *args],
        env=full_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
