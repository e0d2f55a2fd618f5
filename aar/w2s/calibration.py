"""Calibrating the weak supervisor's soft labels on its own held-out part of weak_train (host only).

A miscalibrated weak model misleads every method that reads its soft labels as probabilities (a prior
from their mean, a confidence threshold, a product with the student). The host holds out a fraction of
weak_train from the weak model's training, and fits a monotone map from its P(label=1) to the held-out
truth: temperature scaling (Guo et al. 2017, https://arxiv.org/abs/1706.04599) or isotonic regression
(Zadrozny & Elkan 2002). Which one (or none) is chosen by cross-validated log-loss on that held-out part,
so the more flexible isotonic map wins only when it predicts better, not because it fits its own data.
Only the held-out part's labels are read here; nothing else about a job's data changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

KINDS = ("none", "temperature", "isotonic")
MODES = ("auto", *KINDS)  # auto = the kind with the lowest cross-validated log-loss
_EPS = 1e-6
_ISO_EPS = 0.005  # isotonic blocks of one class would otherwise give p = 0 or 1 (infinite log-loss)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy of P(label=1) `p` against 0/1 labels `y`."""
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


@dataclass(frozen=True)
class Calibrator:
    """A monotone map of P(label=1): identity, logit / temperature, or an isotonic step curve."""

    kind: str = "none"
    temperature: float = 1.0
    knots_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    knots_y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        if self.kind == "temperature":
            return np.asarray(1 / (1 + np.exp(-_logit(p) / self.temperature)))
        if self.kind == "isotonic":
            return np.asarray(np.interp(p, self.knots_x, self.knots_y))
        return p


def fit_temperature(p: np.ndarray, y: np.ndarray) -> Calibrator:
    """The temperature T > 0 minimising log-loss of sigmoid(logit(p) / T)."""
    z = _logit(p)

    def nll(log_t: float) -> float:
        return log_loss(1 / (1 + np.exp(-z / np.exp(log_t))), y)

    best = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return Calibrator("temperature", temperature=float(np.exp(best.x)))


def fit_isotonic(p: np.ndarray, y: np.ndarray) -> Calibrator:
    """Isotonic regression by pool-adjacent-violators; knots at each block's mean p, linearly joined."""
    order = np.argsort(p, kind="stable")
    xs, ys = np.asarray(p, dtype=float)[order], np.asarray(y, dtype=float)[order]
    blocks: list[list[float]] = []  # [sum_x, sum_y, count]
    for x, t in zip(xs, ys, strict=True):
        blocks.append([x, t, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            sx, sy, n = blocks.pop()
            blocks[-1] = [blocks[-1][0] + sx, blocks[-1][1] + sy, blocks[-1][2] + n]
    knots_x = np.array([b[0] / b[2] for b in blocks])
    knots_y = np.clip(np.array([b[1] / b[2] for b in blocks]), _ISO_EPS, 1 - _ISO_EPS)
    return Calibrator("isotonic", knots_x=knots_x, knots_y=knots_y)


def fit(kind: str, p: np.ndarray, y: np.ndarray) -> Calibrator:
    """A calibrator of `kind` fitted to held-out predictions `p` and their labels `y`."""
    if kind == "temperature":
        return fit_temperature(p, y)
    if kind == "isotonic":
        return fit_isotonic(p, y)
    if kind == "none":
        return Calibrator()
    raise ValueError(f"unknown calibration {kind!r}; known: {', '.join(KINDS)}")


def cv_log_loss(kind: str, p: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Log-loss of `kind` fitted on k-1 folds of (p, y) and scored on the remaining fold, pooled."""
    idx = np.random.default_rng(seed).permutation(len(p))
    out = np.empty(len(p))
    for part in np.array_split(idx, min(folds, len(p))):
        rest = np.setdiff1d(idx, part)
        out[part] = fit(kind, p[rest], y[rest])(p[part])
    return log_loss(out, y)


@dataclass(frozen=True)
class Calibration:
    """The chosen calibrator and each candidate's cross-validated log-loss on the held-out part."""

    calibrator: Calibrator
    cv_losses: dict[str, float]


MIN_HELD_OUT = 10  # below this (or with one class only), a calibrator is noise: keep the raw labels


def calibrate(p: np.ndarray, y: np.ndarray, mode: str = "auto", seed: int = 0) -> Calibration:
    """Fit the calibrator `mode` asks for (`auto`: lowest cross-validated log-loss) on held-out (p, y)."""
    if mode not in MODES:
        raise ValueError(f"unknown calibration {mode!r}; known: {', '.join(MODES)}")
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if len(p) < MIN_HELD_OUT or len(np.unique(y)) < 2:
        return Calibration(Calibrator(), {})
    kinds = KINDS if mode == "auto" else (mode,)
    losses = {k: cv_log_loss(k, p, y, seed=seed) for k in kinds}
    best = min(losses, key=lambda k: losses[k])
    return Calibration(fit(best, p, y), losses)
