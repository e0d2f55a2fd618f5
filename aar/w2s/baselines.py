"""Trusted baselines per seed: the weak supervisor (and its ensemble members) and the strong ceiling.

The weak supervisor is calibrated on its own held-out part of weak_train (`Setup.calibration`, see
calibration.py): it trains on the rest, and its soft labels on every split go through the chosen map.

Cached under `cache/baselines/` by a content hash of everything that produced them (data, splits, model,
template config, runner code, seed), so every experiment and study on the same setup shares them: a cached
baseline runs no job and costs nothing. A computed one runs through `Setup.trusted` when the setup carries
one (a device-pool slot in the study's sandbox, charged to the ledger), else in this process.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aar.w2s.cache import content_hash, load_arrays, save_arrays
from aar.w2s.calibration import calibrate
from aar.w2s.jobs import SeedData, run_trusted, write_job_data
from aar.w2s.ladder import Rung
from aar.w2s.predictions import read_seed_predictions
from aar.w2s.setup import Setup


@dataclass(frozen=True)
class WeakLabels:
    """The weak supervisor's soft labels for one seed (P(label=1)), and its ensemble members' on w2s_train."""

    w2s_train: np.ndarray
    dev: np.ndarray
    test: np.ndarray
    members: np.ndarray  # [n_w2s_train, members] (uncalibrated: each member is its own model)
    # The calibration chosen on the held-out part of weak_train: "none" | "temperature" | "isotonic".
    calibration: str = "none"


CALIBRATION_FRAC = 0.2  # of weak_train held out from the weak model to calibrate it


@dataclass(frozen=True)
class Ceiling:
    """The strong model trained on w2s_train ground truth: P(label=1) on dev and test."""

    dev: np.ndarray
    test: np.ndarray


def _features_or_empty(setup: Setup, rung: Rung) -> dict[str, np.ndarray] | None:
    return setup.features(rung) if setup.template.uses_features else None


def _train_job(
    setup: Setup,
    rung: Rung,
    seeds: list[tuple[int, list[int]]],
    train_split: str,
    evals: list[str],
    label: str,
) -> dict[int, np.ndarray]:
    """Train `rung` on `train_split`'s ground truth for each (seed, row subset); predict on `evals` splits.
    One job (`label` names it in the ledger), through `setup.trusted` when set."""
    feats = _features_or_empty(setup, rung)
    train, labels = setup.splits.get(train_split), setup.labels(train_split)
    eval_examples = [e for split in evals for e in setup.splits.get(split)]
    seed_data = []
    for seed, rows in seeds:
        sub = [train[i] for i in rows]
        features = {}
        if feats is not None:
            train_feats = feats[train_split][rows]
            ev = np.concatenate([feats[s] for s in evals])
            features = {
                "strong": {"weak_train": train_feats, "w2s_train": train_feats, "dev": ev[:0], "eval": ev}
            }
        seed_data.append(
            SeedData(
                seed, sub, sub, labels[rows].astype(float), [], np.zeros(0), eval_examples, None, features
            )
        )
    config = {
        "template": setup.template.name,
        "hparams": setup.hparams,
        "roles": ["strong"],
        "models": {"strong": setup.model_spec(rung)},
    }
    method = setup.template.dir.parent / "methods" / "naive.py"
    with tempfile.TemporaryDirectory(prefix="aar-trusted-") as tmp:
        data = write_job_data(Path(tmp) / "data", config, seed_data)
        run_trusted(setup.template.runner, data, Path(tmp) / "out", method, setup.trusted, label=label)
        ids = [e.id for e in eval_examples]
        return {s: read_seed_predictions(Path(tmp) / "out" / f"seed_{s}", ids).final for s, _ in seeds}


def calibration_rows(n: int, seed: int, mode: str) -> tuple[list[int], list[int]]:
    """(rows the weak model trains on, rows held out to calibrate it) of weak_train for `seed`."""
    if mode == "none":
        return list(range(n)), []
    held = set(np.random.default_rng([seed, 11]).permutation(n)[: int(CALIBRATION_FRAC * n)].tolist())
    return [i for i in range(n) if i not in held], sorted(held)


def weak_labels(setup: Setup, seed: int) -> WeakLabels:
    """Weak supervisor for `seed` (weak_train less its calibration part), calibrated, plus members
    (80% subsamples of all of weak_train), cached."""
    mode = setup.calibration
    key = content_hash("weak", setup.key_parts(), setup.pair.weak.name, seed, setup.members, mode)
    path = setup.cache_dir / "baselines" / f"weak-{key}.npz"
    if (hit := load_arrays(path)) is not None:
        return WeakLabels(
            hit["w2s_train"], hit["dev"], hit["test"], hit["members"], str(hit.get("calibration", "none"))
        )
    train = setup.splits.get("weak_train")
    fit_rows, held = calibration_rows(len(train), seed, mode)
    rng = np.random.default_rng([seed, 7])
    subsets = [(seed, fit_rows)]
    subsets += [
        (seed * 1000 + k + 1, sorted(rng.choice(len(train), int(0.8 * len(train)), replace=False)))
        for k in range(setup.members)
    ]
    evals = ["w2s_train", "dev", "test"] + (["weak_train"] if held else [])
    label = f"baseline: weak model {setup.pair.weak.name}, seed {seed} ({len(subsets)} fits)"
    preds = _train_job(setup, setup.pair.weak, subsets, "weak_train", evals, label)
    n_w2s, n_dev, n_test = len(setup.splits.w2s_train), len(setup.splits.dev), len(setup.splits.test)
    main = preds[seed]
    # Only the held-out rows' labels are read: the weak model never trained on them.
    fitted = calibrate(main[n_w2s + n_dev + n_test :][held], setup.labels("weak_train")[held], mode, seed)
    main = fitted.calibrator(main[: n_w2s + n_dev + n_test])
    members = (
        np.stack([preds[s][:n_w2s] for s, _ in subsets[1:]], axis=1)
        if setup.members
        else np.zeros((n_w2s, 0))
    )
    result = WeakLabels(
        main[:n_w2s], main[n_w2s : n_w2s + n_dev], main[n_w2s + n_dev :], members, fitted.calibrator.kind
    )
    save_arrays(
        path, w2s_train=result.w2s_train, dev=result.dev, test=result.test, members=result.members,
        calibration=np.array(result.calibration),
    )  # fmt: skip
    return result


def ceiling(setup: Setup, seed: int) -> Ceiling:
    """Strong model trained on w2s_train ground truth for `seed`, cached."""
    key = content_hash("ceiling", setup.key_parts(), setup.pair.strong.name, seed)
    path = setup.cache_dir / "baselines" / f"ceiling-{key}.npz"
    if (hit := load_arrays(path)) is not None:
        return Ceiling(**hit)
    everything = list(range(len(setup.splits.w2s_train)))
    label = f"baseline: ceiling {setup.pair.strong.name}, seed {seed}"
    preds = _train_job(setup, setup.pair.strong, [(seed, everything)], "w2s_train", ["dev", "test"], label)[
        seed
    ]
    result = Ceiling(preds[: len(setup.splits.dev)], preds[len(setup.splits.dev) :])
    save_arrays(path, dev=result.dev, test=result.test)
    return result
