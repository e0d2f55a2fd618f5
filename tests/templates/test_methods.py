"""Each library method on tiny real data, plus the math of the losses."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aar.w2s.experiment import ExperimentSpec, run_experiment
from aar.w2s.templates import LIBRARY_METHODS, method_meta, resolve_method
from tests.conftest import TEMPLATES


def load(name: str):
    import sys

    sys.path.insert(0, str(TEMPLATES))
    import common

    return common.load_method(TEMPLATES / "methods" / f"{name}.py")


def ctx(**hp):
    return SimpleNamespace(hparams=hp)


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
