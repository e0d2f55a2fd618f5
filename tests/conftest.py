"""Shared fixtures: isolated results folders, a shared embedding cache, small real setups."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


# Modules whose tests read one session-scoped study (tests/graph/conftest.py: dev_study, blind_study), so
# one xdist worker runs them all and the study once.
SAME_WORKER = {
    "tests/graph/test_dev_feedback_view.py": "tests/graph/test_study_builtin.py",
    "tests/graph/test_verdicts_study.py": "tests/graph/test_study_builtin.py",
}


def xdist_scope(nodeid: str) -> str:
    """The unit of work one xdist worker takes: a test's module (its module-scoped fixtures are built once,
    its tests keep their written order: the Ray lost-node test kills the cluster, so it runs last), or the
    module it shares a session-scoped study with (`SAME_WORKER`)."""
    module = nodeid.split("::", 1)[0]
    return SAME_WORKER.get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` (bin/test) with `xdist_scope` as the unit. (pytest-xdist 3.8's `loadgroup` does
    not group under pytest 9.2: pytest-xdist#1386.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return ByModule(config, log)


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
