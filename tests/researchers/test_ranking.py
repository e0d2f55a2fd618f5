"""Ranking refuses constant and one-class predictions (issue 9: in blind mode a constant majority
prediction ranked first, confidence 1.0), and hypotheses are not "supported" on fewer than 3 seeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from aar.graph.nodes import _hypothesis_status, outcome_from
from aar.graph.state import Outcome
from aar.researchers.base import ResearchView, degenerate, score_of
from aar.researchers.builtin import BuiltinResearcher
from aar.store import HypothesisStatus
from aar.w2s.experiment import ExperimentSpec, run_experiment, score_split
from aar.w2s.predictions import SeedPredictions
from aar.w2s.templates import resolve_method
from tests.conftest import TEMPLATES

# The label-free trick: predict the weak labels' majority class for everything, with full confidence.
CONSTANT_MAJORITY = """
import numpy as np


def train(ctx):
    yes = float(np.mean(ctx.weak_p("dev") > 0.5)) >= 0.5
    p = np.full(ctx.n("eval"), 0.999 if yes else 0.001)
    ctx.write_predictions(0, p)
    ctx.write_predictions("final", p)
"""


def test_score_split_measures_the_predictions_shape() -> None:
    y, weak = np.array([0, 1, 1, 0]), np.array([0.2, 0.8, 0.6, 0.4])
    constant = score_split(
        y, weak, weak, SeedPredictions(np.full(4, 0.999), {0: np.full(4, 0.999)}), slice(0, 4)
    )
    assert (constant.positive_rate, constant.spread) == (1.0, 0.0)
    assert constant.confidence == pytest.approx(0.998)  # the most confident "method" there is
    varied = score_split(y, weak, weak, SeedPredictions(weak, {0: weak}), slice(0, 4))
    assert varied.positive_rate == 0.5 and varied.spread > 0.1


def test_a_real_constant_majority_method_is_not_ranked(probe_setup, tmp_path: Path) -> None:
    method = tmp_path / "constant.py"
    method.write_text(CONSTANT_MAJORITY)
    constant = run_experiment(ExperimentSpec(probe_setup, method, "constant", [0, 1], eval_splits=("dev",)))
    naive = run_experiment(
        ExperimentSpec(probe_setup, resolve_method("naive", TEMPLATES), "naive", [0, 1], eval_splits=("dev",))
    )
    assert constant.status == naive.status == "ok"
    c, n = outcome_from(constant, 1, 1, ""), outcome_from(naive, 2, 2, "")
    assert (c.signals["confidence"] or 0) > (n.signals["confidence"] or 0)  # it would have ranked first
    assert c.signals["minority_rate"] == 0.0 and "one-class predictions" in degenerate(c)
    assert score_of(c, "blind") is None and score_of(c, "dev") is None
    assert score_of(n, "blind") == n.signals["confidence"] and not degenerate(n)


def _outcome(method: str, confidence: float, minority: float, spread: float) -> Outcome:
    signals = {
        "confidence": confidence,
        "minority_rate": minority,
        "spread": spread,
        "positive_rate": minority,
    }
    return Outcome(hypothesis_id=1, experiment_id=1, method=method, status="ok", signals=signals)


def _view(history: list[Outcome]) -> ResearchView:
    return ResearchView(
        goal="g", task="t", pair="a→b", template="probe", feedback="blind", round=9, per_round=2,
        template_defaults={"lr": 0.01, "epochs": 2}, template_space={}, library={"naive": ""},
        library_spaces={}, history=history, naive=None, best=None,
    )  # fmt: skip


def test_builtin_researcher_searches_no_degenerate_method() -> None:
    history = [_outcome("constant", 1.0, 0.0, 0.0), _outcome("aux_conf", 0.5, 0.4, 0.3)]
    researcher = BuiltinResearcher()
    assert researcher._contenders(_view(history)) == ["aux_conf"]
    assert "not ranked: one-class predictions" in researcher.analyze(history[0], _view(history))


def test_constant_but_two_sided_predictions_are_refused_too() -> None:
    assert "constant predictions" in degenerate(_outcome("flat", 0.0, 0.5, 0.0))
    assert score_of(_outcome("flat", 0.0, 0.5, 0.0), "blind") is None


def test_hypothesis_status_needs_five_seeds() -> None:
    better = "Δ 0.300 [0.200, 0.400] (4 wins / 0 losses): better"  # what the old paired rule said
    four = Outcome(hypothesis_id=1, experiment_id=1, method="m", status="ok",
                   dev_pgr_by_seed={0: 0.3, 1: 0.4, 2: 0.35, 3: 0.33}, verdict_vs_naive=better)  # fmt: skip
    assert _hypothesis_status(four) == HypothesisStatus.INCONCLUSIVE  # issue 12: 3 of 3 was p = 0.125
    three = four.model_copy(update={"dev_pgr_by_seed": {0: 0.3, 1: 0.4, 2: 0.35, 3: 0.33, 4: 0.31}})
    assert _hypothesis_status(three) == HypothesisStatus.SUPPORTED
    worse = three.model_copy(update={"verdict_vs_naive": "Δ -0.3 [-0.4, -0.2] (0 wins / 3 losses): worse"})
    assert _hypothesis_status(worse) == HypothesisStatus.REFUTED
    noise = three.model_copy(
        update={"verdict_vs_naive": "Δ 0.1 [-0.4, 0.5] (2 wins / 1 losses): inside noise"}
    )
    assert _hypothesis_status(noise) == HypothesisStatus.INCONCLUSIVE


def test_degenerate_predictions_refute_the_hypothesis_whatever_they_score() -> None:
    trick = _outcome("constant", 1.0, 0.0, 0.0).model_copy(
        update={
            "dev_pgr_by_seed": {0: 0.5, 1: 0.5, 2: 0.5},
            "verdict_vs_naive": "Δ 0.4 [0.3, 0.5] (3 wins / 0 losses): better",
        }
    )
    assert _hypothesis_status(trick) == HypothesisStatus.REFUTED


def test_analyze_reads_a_run_without_pgr() -> None:
    """PGR is n/a when the ceiling does not beat the weak model (tiny random models): analyze says so
    instead of crashing the study on a None format."""
    outcome = Outcome(hypothesis_id=1, experiment_id=1, method="m", status="ok", dev_pgr=None,
                      signals={"positive_rate": 0.5, "spread": 0.2})  # fmt: skip
    view = dataclasses.replace(_view([outcome]), feedback="dev")
    assert "dev PGR n/a" in BuiltinResearcher().analyze(outcome, view)
