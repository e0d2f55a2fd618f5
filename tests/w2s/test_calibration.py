"""Calibrating the weak supervisor on its held-out part of weak_train (aar/w2s/calibration.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from aar.w2s import baselines
from aar.w2s.calibration import calibrate, fit, log_loss
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from tests.conftest import small_setup

TINY = SplitSizes(weak_train=120, w2s_train=96, dev=32, test=32)


def sample(n: int, seed: int, distort) -> tuple[np.ndarray, np.ndarray]:
    """A weak model whose P(label=1) is `distort` of the true probability sigmoid(z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return distort(z), y


def overconfident(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-3 * z))  # a temperature problem


def biased(z: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-z))) ** 0.4  # every p pushed up: mean weak p far above the true rate


@pytest.mark.parametrize(("distort", "expected"), [(overconfident, "temperature"), (biased, "isotonic")])
def test_calibration_lowers_log_loss_and_picks_the_better_map(distort, expected):
    p, y = sample(300, 0, distort)
    chosen = calibrate(p, y)
    fresh_p, fresh_y = sample(20_000, 1, distort)
    scored = {k: log_loss(fit(k, p, y)(fresh_p), fresh_y) for k in ("temperature", "isotonic")}
    assert chosen.calibrator.kind == expected == min(scored, key=lambda k: scored[k])
    assert log_loss(chosen.calibrator(fresh_p), fresh_y) < log_loss(fresh_p, fresh_y) - 0.02
    assert set(chosen.cv_losses) == {"none", "temperature", "isotonic"}


def test_calibration_keeps_a_calibrated_model_and_refuses_unknown_modes():
    p, y = sample(300, 0, lambda z: 1 / (1 + np.exp(-z)))
    fresh_p, fresh_y = sample(20_000, 1, lambda z: 1 / (1 + np.exp(-z)))
    assert log_loss(calibrate(p, y).calibrator(fresh_p), fresh_y) < log_loss(fresh_p, fresh_y) + 0.01
    assert calibrate(p[:5], y[:5]).calibrator.kind == "none"  # too few held-out examples
    with pytest.raises(ValueError, match="unknown calibration"):
        calibrate(p, y, "platt")


def test_isotonic_is_monotone_and_never_certain():
    p, y = sample(300, 0, biased)
    cal = fit("isotonic", p, y)
    grid = cal(np.linspace(0, 1, 101))
    assert (np.diff(grid) >= -1e-12).all() and grid.min() > 0 and grid.max() < 1


@dataclass
class TamperedLabels(Setup):
    """A setup whose host labels of `tamper` splits are flipped (every other split is the truth)."""

    tamper: tuple[str, ...] = ()
    held_out_only: bool = False

    def labels(self, split: str) -> np.ndarray:
        y = super().labels(split)
        if split not in self.tamper:
            return y
        if self.held_out_only:  # only weak_train's calibration rows, which the weak model never saw
            _, held = baselines.calibration_rows(len(y), 0, self.calibration)
            y = y.copy()
            y[held] = 1 - y[held]
            return y
        return 1 - y


def linked_cache(tmp: Path, shared: Path) -> Path:
    """A fresh baselines cache sharing the (label-free) embeddings cache."""
    tmp.mkdir()
    (tmp / "embeddings").symlink_to(shared / "embeddings", target_is_directory=True)
    return tmp


def weak(shared: Path, tmp: Path, **kw) -> baselines.WeakLabels:
    base = small_setup(linked_cache(tmp, shared))
    setup = TamperedLabels(
        base.task, base.pair, base.template, TINY, cache_dir=base.cache_dir, members=0,
        calibration="isotonic", **kw,
    )  # fmt: skip
    return baselines.weak_labels(setup, 0)


def test_calibration_reads_only_the_held_out_weak_train_labels(shared_cache: Path, tmp_path: Path):
    truth = weak(shared_cache, tmp_path / "a")
    assert truth.calibration == "isotonic"
    # Flipping every dev, test and w2s_train label on the host changes nothing the weak side produces.
    blind = weak(shared_cache, tmp_path / "b", tamper=("dev", "test", "w2s_train"))
    for split in ("w2s_train", "dev", "test"):
        np.testing.assert_array_equal(getattr(truth, split), getattr(blind, split))
    # Positive control: flipping only the held-out weak_train labels (not the weak model's training
    # rows) changes the calibrated labels, so the test sees which labels calibration reads.
    flipped = weak(shared_cache, tmp_path / "c", tamper=("weak_train",), held_out_only=True)
    assert np.abs(truth.w2s_train - flipped.w2s_train).max() > 0.1
