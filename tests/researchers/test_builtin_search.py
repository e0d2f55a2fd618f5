"""The builtin researcher's search (issue 12.4): TPE warm-started with every completed trial, defaults
included; every --per-round slot filled; it stops on budget or a stated convergence test only."""

from __future__ import annotations

from typing import Any

from aar.researchers.base import ResearchView
from aar.researchers.builtin import CONVERGENCE_ROUNDS, LIBRARY_ORDER, BuiltinResearcher, converged
from aar.researchers.types import Outcome

DEFAULTS = {"lr": 0.003, "epochs": 10, "batch_size": 32}
SPACE = {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "epochs": {"choices": [2, 5, 10, 20]}}
AUX_SPACE = {"aux_alpha": {"low": 0.25, "high": 1.0}}
SIGNALS = {"minority_rate": 0.4, "spread": 0.2, "confidence": 0.5}


def outcome(i: int, method: str, pgr: float, hparams: dict[str, Any] | None = None) -> Outcome:
    return Outcome(hypothesis_id=i, experiment_id=i, method=method, hparams=hparams or {}, status="ok",
                   dev_pgr=pgr, dev_pgr_lo=pgr - 0.05, dev_pgr_hi=pgr + 0.05, signals=SIGNALS)  # fmt: skip


def view(history: list[Outcome], per_round: int = 4, round_: int = 5) -> ResearchView:
    return ResearchView(
        goal="g", task="t", pair="a→b", template="probe", feedback="dev", round=round_, per_round=per_round,
        template_defaults=DEFAULTS, template_space=SPACE, library={m: "" for m in LIBRARY_ORDER},
        library_spaces={"aux_conf": AUX_SPACE}, history=history, naive=None, best=None,
    )  # fmt: skip


def walked(best: float = 0.5) -> list[Outcome]:
    """Every library method once at its defaults; aux_conf far ahead."""
    return [outcome(i, m, best if m == "aux_conf" else 0.1) for i, m in enumerate(LIBRARY_ORDER)]


def test_tpe_is_warm_started_with_the_default_trial() -> None:
    # the library default ran with hparams {} (aux_alpha unknown): it still counts, at lr/epochs defaults
    history = [*walked(), outcome(50, "aux_conf", 0.3, {"lr": 0.0005, "epochs": 2, "aux_alpha": 0.9})]
    dists = {"lr": SPACE["lr"], "epochs": SPACE["epochs"], **AUX_SPACE}
    from aar.researchers.builtin import distribution

    trials = BuiltinResearcher._trials(
        "aux_conf", {k: distribution(v) for k, v in dists.items()}, view(history)
    )
    assert len(trials) == 2
    default = next(t for t in trials if t.value == 0.5)
    assert default.params == {"lr": 0.003, "epochs": 10}  # aux_alpha unknown: left out, not the trial


def test_every_per_round_slot_is_filled_with_distinct_points() -> None:
    researcher = BuiltinResearcher(seed=0)
    proposals = researcher.propose(view(walked(), per_round=5))
    assert len(proposals) == 5 and {p.base_method for p in proposals} == {"aux_conf"}  # the one contender
    points = [tuple(sorted(p.hparams.items())) for p in proposals]
    assert len(set(points)) == 5
    assert all(set(p.hparams) == {"lr", "epochs", "aux_alpha"} for p in proposals)
    # the same view proposes the same points (deterministic), the next round other ones
    again = [tuple(sorted(p.hparams.items())) for p in researcher.propose(view(walked(), per_round=5))]
    later = [tuple(sorted(p.hparams.items())) for p in researcher.propose(view(walked(), 5, round_=6))]
    assert again == points and later != points


def test_it_stops_only_on_the_convergence_test() -> None:
    per_round, researcher = 3, BuiltinResearcher()
    window = CONVERGENCE_ROUNDS * per_round
    flat = walked(0.5) + [outcome(100 + i, "aux_conf", 0.52, {"lr": 0.001 * (i + 1)}) for i in range(window)]
    decision = researcher.decide(view(flat, per_round))
    assert decision.action == "stop" and decision.reason.startswith(
        f"converged: the last {window} experiments"
    )
    assert (
        "+0.020" in decision.reason and "(0.050)" in decision.reason
    )  # gain inside the best's CI half-width
    rising = [*flat[:-1], outcome(999, "aux_conf", 0.6)]
    assert (
        researcher.decide(view(rising, per_round)).action == "continue"
        and converged(view(rising, per_round)) == ""
    )
