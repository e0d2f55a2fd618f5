from pathlib import Path

import numpy as np
import pytest

from aar.w2s import baselines
from aar.w2s.scoring import accuracy
from tests.conftest import small_setup


def test_weak_and_ceiling_are_real_and_ordered(probe_setup):
    weak, ceil = baselines.weak_labels(probe_setup, 0), baselines.ceiling(probe_setup, 0)
    y = probe_setup.labels("test")
    assert weak.w2s_train.shape == (800,) and weak.members.shape == (800, 4)
    assert ((weak.w2s_train > 0) & (weak.w2s_train < 1)).all()  # soft labels
    assert accuracy(weak.test, y) > 0.5
    assert accuracy(ceil.test, y) > accuracy(weak.test, y)  # minilm-l6 beats static64 on this task


def test_baselines_are_cached_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    setup = small_setup(tmp_path)
    calls: list[str] = []
    real = baselines.run_trusted
    monkeypatch.setattr(baselines, "run_trusted", lambda *a, **k: calls.append("run") or real(*a, **k))
    first = baselines.weak_labels(setup, 1)
    again = baselines.weak_labels(small_setup(tmp_path), 1)
    assert calls == ["run"]
    np.testing.assert_array_equal(first.w2s_train, again.w2s_train)
    baselines.weak_labels(small_setup(tmp_path, split_seed=5), 1)  # a different split is a different key
    baselines.weak_labels(setup, 2)  # so is a different seed
    assert calls == ["run"] * 3
