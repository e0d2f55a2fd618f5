"""Fixtures for study tests: small real setups, the local sandbox, isolated stores."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aar.config import Settings, StudyConfig
from aar.graph.study import start_study
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


@pytest.fixture()
def researcher_spy(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """What the builtin researcher was shown: every view `propose` got, and every outcome `analyze` got."""
    return spy_on_researcher(monkeypatch)


@dataclass
class SharedStudy:
    """One finished builtin study (dev feedback) and what was seen while it ran."""

    outcome: Any
    store: Store
    config: StudyConfig
    events: Events
    seen: list[Any]
    analyzed: list[Any]


@pytest.fixture(scope="session")
def dev_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Iterator[SharedStudy]:
    """One builtin study in dev-feedback mode, 8 experiments, 3 per round, run once for the tests that
    only read it (end to end, the budget end, what the researcher was shown): a study is the slowest
    thing a test does. Its modules run on one xdist worker (tests/conftest.py SAME_WORKER)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AAR_RESULTS_DIR", str(tmp_path_factory.mktemp("dev-study") / "results"))
        mp.setenv("AAR_CACHE", str(shared_cache))
        seen, analyzed = spy_on_researcher(mp)
        settings = Settings()
        store = open_store(settings)
        config, events = study_config("shared", max_experiments=8, per_round=3), Events()
        outcome = start_study(config, settings, store, display=events)
    yield SharedStudy(outcome, store, config, events, seen, analyzed)
    store.close()


CONSTANT = '''"""Predict the weak labels' majority class for everything, fully confident (no learning at all)."""

import numpy as np

SPACE: dict = {}


def train(ctx):
    yes = float(np.mean(ctx.weak_p("dev") > 0.5)) >= 0.5
    p = np.full(ctx.n("eval"), 0.999 if yes else 0.001)
    ctx.write_predictions(0, p)
    ctx.write_predictions("final", p)
'''


@pytest.fixture(scope="session")
def blind_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Iterator[SharedStudy]:
    """Issue 9's tiny blind study, run once: a constant-majority method (`CONSTANT`, the label-free trick)
    in the library, tried first, then aux_conf; two seeds, 6 experiments. Read by the wrong-verdicts test
    and the blind-mode test (what the researcher was shown), on one xdist worker (tests/conftest.py SAME_WORKER)."""
    from aar.graph import study as study_module
    from aar.researchers import builtin

    real_sources = study_module.library_sources

    def with_constant(s: Any, template: Any = None) -> Any:
        sources, spaces = real_sources(s, template)
        return {**sources, "constant": CONSTANT}, {**spaces, "constant": {}}

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AAR_RESULTS_DIR", str(tmp_path_factory.mktemp("blind-study") / "results"))
        mp.setenv("AAR_CACHE", str(shared_cache))
        mp.setattr(study_module, "library_sources", with_constant)
        mp.setattr(builtin, "LIBRARY_ORDER", ("constant", "aux_conf"))
        seen, analyzed = spy_on_researcher(mp)
        settings = Settings()
        store = open_store(settings)
        config = study_config(
            "verdicts", feedback="blind", seeds=2, per_round=2, max_experiments=6, finalists=1
        )  # fmt: skip
        events = Events()
        outcome = start_study(config, settings, store, display=events)
    yield SharedStudy(outcome, store, config, events, seen, analyzed)
    store.close()


def spy_on_researcher(mp: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """Record every view the builtin researcher's `propose` gets and every outcome `analyze` gets."""
    from aar.researchers import builtin

    seen: list[Any] = []
    analyzed: list[Any] = []
    real_propose, real_analyze = builtin.BuiltinResearcher.propose, builtin.BuiltinResearcher.analyze

    def spy_propose(self: Any, view: Any) -> Any:
        seen.append(view)
        return real_propose(self, view)

    def spy_analyze(self: Any, outcome: Any, view: Any) -> Any:
        analyzed.append(outcome)
        return real_analyze(self, outcome, view)

    mp.setattr(builtin.BuiltinResearcher, "propose", spy_propose)
    mp.setattr(builtin.BuiltinResearcher, "analyze", spy_analyze)
    return seen, analyzed
