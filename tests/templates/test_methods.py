"""Each library method on tiny real data, plus the math of the losses."""

from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import torch

from aar.w2s.experiment import ExperimentSpec, run_experiment
from aar.w2s.templates import LIBRARY_METHODS, method_meta, resolve_method
from tests.conftest import TEMPLATES


def common() -> ModuleType:
    """The templates' shared runner code (what a job imports as `common`)."""
    import sys

    sys.path.insert(0, str(TEMPLATES))
    import common

    return common


def load(name: str):
    return common().load_method(TEMPLATES / "methods" / f"{name}.py")


def ctx(weak=(0.9, 0.1, 0.8, 0.2), emb=None, **hp):
    """The runner's context over w2s_train's weak labels (each its own one-member ensemble), `hp`, and
    frozen strong features `emb` when given; no model is trained through it."""
    rows = [{"id": str(i), "weak_p": float(w), "weak_members": [float(w)]} for i, w in enumerate(weak)]
    backend = SimpleNamespace(embeddings=lambda role, split: emb)
    return common().Context(hparams=hp, seed=0, data={"w2s_train": rows}, out_dir=Path("/nonexistent"),
                            backend=backend, roles=["strong"])  # fmt: skip


@pytest.mark.parametrize("name", LIBRARY_METHODS)
def test_library_method_runs_end_to_end(probe_setup, name: str):
    result = run_experiment(ExperimentSpec(probe_setup, resolve_method(name, TEMPLATES), name, [0]))
    assert result.status == "ok", result.error
    s = result.seed_results[0].splits["dev"]
    assert 0.4 < s.w2s_acc <= 1.0 and s.curve


def test_aux_conf_reduces_to_ce_without_alpha_and_follows_own_predictions_with_it():
    aux, naive = load("aux_conf"), load("naive")
    logits = torch.tensor([[2.0, -2.0], [-1.0, 1.0], [0.5, 0.0], [0.0, 3.0]])
    weak = torch.tensor([0.9, 0.1, 0.8, 0.2])
    torch.testing.assert_close(
        aux.loss(logits, weak, 0.5, ctx(aux_alpha=0.0)), naive.loss(logits, weak, 0.5, ctx())
    )
    # full alpha after warm-up: targets are the strong model's hardened predictions, not the weak labels
    hard = aux.loss(logits, weak, 1.0, ctx(aux_alpha=1.0, aux_warmup=0.2))
    assert hard[0] < naive.loss(logits, weak, 1.0, ctx())[0] + 1e-6
    # warm-up: at progress 0 alpha is 0
    torch.testing.assert_close(
        aux.loss(logits, weak, 0.0, ctx(aux_alpha=1.0, aux_warmup=0.2)), naive.loss(logits, weak, 0, ctx())
    )


def test_product_loss_target_leans_to_confident_student():
    product = load("product")
    logits = torch.tensor([[4.0, -4.0]])  # strongly class 0
    weak = torch.tensor([0.6])  # weakly class 1
    loss_full = product.loss(logits, weak, 1.0, ctx(product_beta=1.0))
    naive = load("naive").loss(logits, weak, 1.0, ctx())
    assert loss_full.item() < naive.item()


def test_confident_filter_keeps_the_most_confident():
    weights = load("confident_filter").weights(
        None, np.array([0.5, 0.55, 0.95, 0.02, 0.6]), ctx(keep_frac=0.4)
    )
    assert list(weights) == [0, 0, 1, 1, 0]


def test_early_stop_picks_best_weak_agreement_after_min_progress():
    history = [
        {"step": s, "dev_weak_agreement": a} for s, a in [(10, 0.99), (20, 0.7), (30, 0.8), (40, 0.75)]
    ]
    assert load("early_stop").select_step(history, ctx(min_progress=0.3)) == 30


def test_bootstrap_declares_an_intermediate():
    assert method_meta(TEMPLATES / "methods" / "bootstrap.py")["REQUIRES"] == {"intermediate": True}


def test_priors_are_label_free_and_selectable():
    """One prior for every method that hardens labels: the runner's `ctx.class_prior()` (common.py)."""
    weak = np.array([0.45, 0.45, 0.45, 0.6, 0.3, 0.9, 0.2, 0.45, 0.45, 0.6])  # mean 0.485, rate 0.3
    assert ctx(weak).class_prior() == pytest.approx(0.3)  # default: the rate of weak labels above 0.5
    assert ctx(weak, prior="calibrated_mean").class_prior() == pytest.approx(weak.mean())
    assert ctx(weak, prior="fixed", prior_value=0.42).class_prior() == 0.42
    for name in ("aux_conf", "self_train", "denoised_aux_conf", "low_rank"):
        assert "ctx.class_prior()" in (TEMPLATES / "methods" / f"{name}.py").read_text()
        space = method_meta(TEMPLATES / "methods" / f"{name}.py")["SPACE"]
        assert (
            space["prior"]["choices"] == ["weak_rate", "calibrated_mean", "fixed"] and "prior_value" in space
        )


@pytest.mark.parametrize("name", ["aux_conf", "denoised_aux_conf"])
def test_aux_conf_hardens_to_the_weak_rate_not_the_mean_soft_label(name: str):
    """The issue's bug: a weak model whose mean soft label (0.485) overstates its rate of positives (0.3).

    Planted: the old prior (the batch's mean weak_p) hardens 50% of the batch to 1; this one, 30%."""
    weak = torch.tensor([0.45, 0.45, 0.45, 0.6, 0.3, 0.9, 0.2, 0.45, 0.45, 0.6])
    logits = torch.stack([torch.zeros(10), torch.linspace(-2, 2, 10)], dim=1)
    loss = load(name).loss(logits, weak, 1.0, ctx(weak.numpy(), aux_alpha=1.0, aux_warmup=0.0))
    targets = [round(float(torch.exp(-v)), 3) for v in loss]  # full alpha: the hard target's likelihood
    p = torch.softmax(logits, dim=1)[:, 1]
    hardened = [i for i, t in enumerate(targets) if abs(t - float(p[i])) < 1e-3]
    assert hardened == [7, 8, 9]  # the student's top 30 %


def separable(n: int = 400, noise: float = 0.25, seed: int = 0):
    """Two well-separated clusters (the strong embedding) and weak labels with `noise` of them flipped."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    emb = rng.normal(0, 1, (n, 8)) + (6.0 * y[:, None] - 3.0) * np.eye(8)[0]
    flip = rng.random(n) < noise
    weak = np.where(flip, 1 - y, y).astype(np.float32) * 0.8 + 0.1
    return emb, weak, y


def acc(p, y) -> float:
    return float(np.mean((np.asarray(p) > 0.5) == y))


def test_knn_denoising_fixes_planted_label_noise_on_separable_embeddings():
    emb, weak, y = separable()
    assert acc(weak, y) < 0.8
    assert acc(common().neighbour_mean(emb, weak, 20), y) > 0.97
    # Planted: neighbours from an embedding that does not know the classes fix nothing.
    blind = np.random.default_rng(1).normal(size=emb.shape)
    assert acc(common().neighbour_mean(blind, weak, 20), y) < 0.7
    # Both methods smooth with the strong model's own features, through ctx.neighbour_mean.
    assert acc(load("knn_denoise").smooth(ctx(weak, emb), weak, 20, 1.0), y) > 0.97
    assert acc(load("knn_denoise").smooth(ctx(weak, blind), weak, 20, 1.0), y) < 0.7
    denoised = load("denoised_aux_conf").denoised_labels
    assert acc(denoised(ctx(weak, emb, knn_k=20, knn_mix=1.0)), y) > 0.97
    assert acc(denoised(ctx(weak, blind, knn_k=20, knn_mix=1.0)), y) < 0.7


def test_knn_never_counts_an_example_as_its_own_neighbour():
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    np.testing.assert_allclose(common().neighbour_mean(emb, np.array([1.0, 0.0, 0.0]), 1), [0, 1, 0])


def test_self_training_relabels_only_confident_examples_and_keeps_the_prior():
    _, weak, y = separable(noise=0.3)
    strong = np.where(y == 1, 0.7, 0.3) + np.random.default_rng(2).normal(0, 0.1, len(y))
    relabel = load("self_train").relabel
    labels = relabel(strong, weak, prior=float(np.mean(weak > 0.5)), frac=0.5)
    assert np.mean(np.isin(labels, [0.0, 1.0])) == 0.5  # the confident half hardened, the rest weak
    assert acc(labels, y) > acc(weak, y) + 0.1  # the student's confident view corrects weak labels
    assert relabel(strong, weak, prior=0.5, frac=0.0).tolist() == weak.tolist()  # nothing confident enough
    hard = relabel(strong, weak, prior=0.3, frac=1.0)
    assert np.mean(hard) == pytest.approx(0.3, abs=0.01)  # hardened at the prior's quantile


def test_strong_ensemble_members_see_different_resamples():
    weights = load("strong_ensemble").member_weights
    a, b = weights(500, 0, 0), weights(500, 0, 1)
    assert not np.array_equal(a, b) and abs(a.mean() - 1) < 0.15 and (a == 0).any()
    np.testing.assert_array_equal(a, weights(500, 0, 0))


def test_low_rank_student_keeps_the_salient_direction_not_the_weak_errors(tmp_path: Path):
    """Strong features: the label on a high-variance axis, plus low-variance axes; the weak supervisor
    leans hard on one of those (its logit is axis 0 + 15 × axis 1), so its errors are a linear function of
    the strong features. A full-rank head on the weak labels learns them; a rank-1 head cannot, and
    recovers the truth. Planted: project onto the *last* principal directions, or skip the projection,
    and the rank-1 student falls to the weak accuracy."""
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    emb = np.concatenate([(6.0 * y[:, None] - 3.0) + rng.normal(0, 1, (n, 1)), rng.normal(0, 0.3, (n, 7))], 1)
    weak = 1 / (1 + np.exp(-(emb[:, 0] + 15 * emb[:, 1])))
    _, directions, _ = load("low_rank").basis(emb, 1)
    assert abs(directions[0, 0]) > 0.99  # the top principal direction, found without labels

    weak_acc = acc(weak, y)
    assert weak_acc < 0.8
    # full rank imitates the supervisor's errors; rank 1 cannot
    assert low_rank_acc(tmp_path, emb, weak, y, rank=8, rank_rounds=0) < weak_acc + 0.05
    assert low_rank_acc(tmp_path, emb, weak, y, rank=1, rank_rounds=0) > 0.97


def low_rank_acc(tmp_path: Path, emb: np.ndarray, weak: np.ndarray, y: np.ndarray, **hp) -> float:
    """Accuracy of low_rank's final predictions, run through the runner's Context on `emb` (both splits)."""
    rows = [{"id": str(i), "weak_p": float(w), "weak_members": [float(w)]} for i, w in enumerate(weak)]
    out = tmp_path / "-".join(f"{k}{v}" for k, v in hp.items())
    c = common().Context(hparams={"lr": 0.01, "epochs": 20, **hp}, seed=0,
                         data={"w2s_train": rows, "eval": rows}, out_dir=out,
                         backend=SimpleNamespace(embeddings=lambda role, split: emb), roles=["strong"])  # fmt: skip
    load("low_rank").train(c)
    assert (out / "predictions" / "step_20.jsonl").exists()  # the curve is over the last student's epochs
    return acc([r["p"] for r in common().read_jsonl(out / "predictions" / "final.jsonl")], y)


def test_low_rank_self_training_hardens_at_the_prior_not_at_one_half(tmp_path: Path):
    """A supervisor that leans positive (every soft label shifted up: it calls ~87 % of a balanced set
    positive) but ranks along the salient axis: its soft labels' student inherits the shift; one round
    hardened at the label-free prior's quantile (here `fixed` 0.5) puts the boundary where the classes
    part. Planted: harden at 0.5 instead of the prior's quantile, and the round changes nothing."""
    rng = np.random.default_rng(1)
    n = 2000
    y = rng.integers(0, 2, n)
    emb = np.concatenate([(6.0 * y[:, None] - 3.0) + rng.normal(0, 1, (n, 1)), rng.normal(0, 0.3, (n, 3))], 1)
    weak = 1 / (1 + np.exp(-(0.5 * emb[:, 0] + 1.8)))
    assert acc(weak, y) < 0.8
    shifted = low_rank_acc(tmp_path, emb, weak, y, rank=2, rank_rounds=0)
    assert shifted < 0.85
    fixed = low_rank_acc(tmp_path, emb, weak, y, rank=2, rank_rounds=1, prior="fixed", prior_value=0.5)
    assert fixed > 0.97
    harden = load("low_rank").harden
    assert harden(np.linspace(0, 1, 10), 0.3).tolist() == [0] * 7 + [1] * 3
