"""Shared fixtures: isolated results folders, a shared embedding cache, small real setups."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aar.config import REPO_ROOT
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEMPLATES = REPO_ROOT / "experiment_templates"
SMALL = SplitSizes(weak_train=200, w2s_train=800, dev=200, test=400)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`bin/test` runs `-n 2 --dist loadgroup`), keep a module's tests on one worker
    when they share a module-scoped fixture (a Ray cluster, a compose stack, a hostile study): each worker
    would otherwise build its own copy, and a module's tests keep the order they are written in (the
    Ray lost-node test kills the cluster, so it runs last). A test that names its own `xdist_group` keeps
    it. Without xdist the mark does nothing."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        d.scope in ("module", "class", "package") for defs in info.name2fixturedefs.values() for d in defs
    )


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Embeddings/baselines cache shared by the whole session (real models, computed once)."""
    return Path(os.environ.get("AAR_TEST_CACHE", tmp_path_factory.mktemp("cache")))


@pytest.fixture()
def results_env(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh results folder for the test, with the shared cache."""
    monkeypatch.setenv("AAR_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("AAR_CACHE", str(shared_cache))
    return tmp_path / "results"


@pytest.fixture()
def fresh_baselines(results_env: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache with the shared embeddings but no baselines: every baseline the test needs is computed."""
    cache = results_env.parent / "cache"
    cache.mkdir()
    (cache / "embeddings").symlink_to(shared_cache / "embeddings", target_is_directory=True)
    monkeypatch.setenv("AAR_CACHE", str(cache))
    return cache


def small_setup(
    cache: Path, pair: str = "static64→minilm-l6", task: str = "rotten_tomatoes", **kw: object
) -> Setup:
    return Setup(task, parse_pair(pair), get_template("probe", TEMPLATES), sizes=SMALL, cache_dir=cache, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def probe_setup(shared_cache: Path) -> Setup:
    return small_setup(shared_cache)
