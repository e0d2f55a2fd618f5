"""Fixtures for study tests: small real setups, the local sandbox, isolated stores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from aar.config import Settings, StudyConfig
from aar.store import Store, open_store

SIZES = "weak_train=200,w2s_train=800,dev=200,test=400"


def study_config(name: str, **overrides: Any) -> StudyConfig:
    base: dict[str, Any] = {
        "name": name, "goal": "raise PGR", "sizes": SIZES, "seeds": 2, "per_round": 2, "finalists": 1,
        "sandbox": "local", "unsafe_local": True, "max_experiments": 8, "deadline": time.time() + 900,
    }  # fmt: skip
    return StudyConfig(**{**base, **overrides})


@pytest.fixture()
def settings(results_env: Path) -> Settings:
    return Settings()


@pytest.fixture()
def store(settings: Settings) -> Store:
    s = open_store(settings)
    yield s  # type: ignore[misc]
    s.close()


class Events:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, node: str, message: str) -> None:
        self.lines.append((node, message))

    def nodes(self) -> list[str]:
        return [n for n, _ in self.lines]
