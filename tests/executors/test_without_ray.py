"""Without Ray installed, `--executor ray` is a user error in one line, and the local executor needs no Ray."""

from __future__ import annotations

import importlib
import sys

import pytest

from aar.errors import UserError
from aar.graph.runtime import choose_executor
from tests.graph.conftest import study_config


def test_the_ray_executor_without_ray_is_one_clear_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.delitem(sys.modules, "aar.executors.ray_cluster", raising=False)
    with pytest.raises(UserError, match=r"--executor ray needs Ray: pip install"):
        importlib.import_module("aar.executors.ray_cluster")
    with pytest.raises(UserError, match=r"--executor ray needs Ray"):
        choose_executor(study_config("no-ray", executor="ray"), announce=None)
    _, kind, pool = choose_executor(study_config("local", executor="local"), announce=None)
    assert kind == "local" and pool.size == 1
