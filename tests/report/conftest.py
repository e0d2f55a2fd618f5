"""Fixtures for the report tests: a temporary store seeded with a complete study."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.store import Store, open_store
from tests.report.seed import Seeded, seed_study


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store in a temporary results folder."""
    opened = open_store(url=f"sqlite:///{tmp_path / 'aar.db'}", results_dir=tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def seeded(store: Store) -> Seeded:
    """The demo study."""
    return seed_study(store)
