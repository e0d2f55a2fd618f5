"""The builtin researcher's multi-fidelity search (issue 12.4, ASHA): new TPE points start on a low rung,
the top 1/ETA of a rung's completed points are promoted to full fidelity before new asks, and only
full-fidelity results count as the best, for convergence, contenders and finalists."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import ValidationError

from aar.graph.finalize import pick_finalists
from aar.researchers.builtin import (
    CONVERGENCE_ROUNDS,
    ETA,
    BuiltinResearcher,
    converged,
    distribution,
    low_rung,
    promotions,
)
from aar.researchers.types import Fidelity, Outcome, Proposal
from tests.researchers.test_builtin_search import AUX_SPACE, DEFAULTS, SPACE, outcome, view, walked

RUNG = Fidelity(rung=0, seeds=2, w2s_fraction=1 / 3)


def low(i: int, method: str, pgr: float, hparams: dict[str, Any]) -> Outcome:
    return outcome(i, method, pgr, {**DEFAULTS, **hparams}).model_copy(update={"fidelity": RUNG})


def sized(history: list[Outcome], per_round: int = 4, **kw: Any):  # a study with a low rung
    return dataclasses.replace(view(history, per_round), seeds=3, w2s_train_size=900, **kw)


def test_the_low_rung_and_when_there_is_none() -> None:
    assert low_rung(3, 900) == Fidelity(rung=0, seeds=2, w2s_fraction=1 / 3)
    assert low_rung(10, 900).seeds == 5  # half the seeds
    assert low_rung(2, 900) is None  # below 3 seeds: a low rung would measure noise
    assert low_rung(5, 240) is None  # a third of w2s_train under 100 rows
    assert RUNG.cost(3) == pytest.approx(2 / 9)
    for bad in (
        {"seeds": 0, "w2s_fraction": 0.5},
        {"seeds": 2, "w2s_fraction": 0.0},
        {"seeds": 2, "w2s_fraction": 1.5},
    ):
        with pytest.raises(ValidationError):
            Fidelity.model_validate(bad)


def test_new_search_points_start_on_the_low_rung_library_methods_do_not() -> None:
    researcher = BuiltinResearcher()
    first = researcher.propose(sized([], per_round=3))
    assert len(first) == 3 and all(p.fidelity is None and not p.hparams for p in first)
    asks = researcher.propose(sized(walked(), per_round=3))
    assert len(asks) == 3 and all(p.fidelity == RUNG and p.hparams for p in asks)
    assert "low rung (rung 0: 2 seeds, 1/3 w2s_train)" in asks[0].rationale
    assert all(p.fidelity is None for p in researcher.propose(view(walked(), per_round=3)))  # no rung


def rung_of(n: int) -> list[Outcome]:
    """n completed low-rung points of aux_conf, scores 0.30, 0.31, ... (the last is the best)."""
    return [low(100 + i, "aux_conf", 0.30 + i / 100, {"lr": 0.001 * (i + 1)}) for i in range(n)]


def test_promotion_takes_the_top_third_of_the_rung_once() -> None:
    assert promotions(sized(walked() + rung_of(ETA - 1))) == []  # fewer than ETA completed: none yet
    six = rung_of(6)
    promoted = promotions(sized(walked() + six))
    assert [p.hparams["lr"] for p in promoted] == [pytest.approx(0.006), pytest.approx(0.005)]
    assert all(p.fidelity is None and p.base_method == "aux_conf" for p in promoted)
    assert "epochs" not in promoted[0].hparams  # what equals the template default is left out
    # promoted already (a full-fidelity run of the point) or claimed by a team member this round: not again
    ran = outcome(200, "aux_conf", 0.4, {**DEFAULTS, "lr": 0.006})
    assert [p.hparams["lr"] for p in promotions(sized([*walked(), *six, ran]))] == [pytest.approx(0.005)]
    claimed = (Proposal(text="x", base_method="aux_conf", hparams={"lr": 0.005}),)
    assert [p.hparams["lr"] for p in promotions(sized([*walked(), *six, ran], claimed=claimed))] == []


def test_promotions_take_slots_before_new_asks() -> None:
    proposals = BuiltinResearcher().propose(sized(walked() + rung_of(6), per_round=3))
    assert [p.fidelity for p in proposals] == [None, None, RUNG]
    assert proposals[0].text.startswith("`aux_conf` with lr=0.006") and "Promoted" in proposals[0].rationale


def test_a_low_rung_score_is_never_the_best() -> None:
    history = [
        *walked(0.5),
        low(300, "aux_conf", 0.95, {"lr": 0.002}),
        low(301, "product", 0.9, {"lr": 0.002}),
    ]
    finalists = pick_finalists(history, "dev", 2)
    assert [o.experiment_id for o in finalists] == [0, 1]  # aux_conf's and product's full runs, not the rung
    assert BuiltinResearcher()._contenders(sized(history)) == ["aux_conf"]  # product's rung lifts nothing
    # a flat full-fidelity window stays converged whatever the rung scores
    window = CONVERGENCE_ROUNDS * 3
    flat = walked(0.5) + [outcome(100 + i, "aux_conf", 0.52, {"lr": 0.001 * (i + 1)}) for i in range(window)]
    assert converged(sized(flat, per_round=3)) != ""
    assert converged(sized([*flat, low(999, "aux_conf", 0.9, {"lr": 0.009})], per_round=3)) != ""


def test_tpe_sees_a_point_at_its_highest_fidelity() -> None:
    point = {"lr": 0.0005, "epochs": 2, "aux_alpha": 0.9}
    history = [*walked(), low(50, "aux_conf", 0.2, point), low(51, "aux_conf", 0.25, {"lr": 0.004})]
    dists = {k: distribution(v) for k, v in {**SPACE, **AUX_SPACE}.items()}
    values = sorted(t.value for t in BuiltinResearcher._trials("aux_conf", dists, sized(history)))
    assert values == [0.2, 0.25, 0.5]  # low-rung points inform TPE
    promoted = outcome(60, "aux_conf", 0.45, {**DEFAULTS, **point})
    values = sorted(
        t.value for t in BuiltinResearcher._trials("aux_conf", dists, sized([*history, promoted]))
    )
    assert values == [0.25, 0.45, 0.5]  # its full score replaces its low rung's
