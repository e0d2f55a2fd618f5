"""Issue 9's wrong verdicts on a tiny real blind study: a constant-majority method in the library (the
label-free trick), two seeds. It must not become the study's best or a finalist; every seed-based
verdict must say "inconclusive"; `aar show`'s best is a search run; the report shows naive's test row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from aar.graph import study as study_module
from aar.graph.study import start_study
from aar.researchers import builtin
from aar.store import Experiment, Hypothesis, HypothesisStatus
from aar.store.queries import best_result
from tests.graph.conftest import Events, study_config

CONSTANT = '''"""Predict the weak labels' majority class for everything, fully confident (no learning at all)."""

import numpy as np

SPACE: dict = {}


def train(ctx):
    yes = float(np.mean(ctx.weak_p("dev") > 0.5)) >= 0.5
    p = np.full(ctx.n("eval"), 0.999 if yes else 0.001)
    ctx.write_predictions(0, p)
    ctx.write_predictions("final", p)
'''


@pytest.mark.slow
def test_blind_study_with_a_constant_method(settings, store, monkeypatch) -> None:
    real_sources = study_module.library_sources

    def with_constant(s):  # type: ignore[no-untyped-def]
        sources, spaces = real_sources(s)
        return {**sources, "constant": CONSTANT}, {**spaces, "constant": {}}

    monkeypatch.setattr(study_module, "library_sources", with_constant)
    monkeypatch.setattr(builtin, "LIBRARY_ORDER", ("constant", "aux_conf"))
    config = study_config("verdicts", feedback="blind", seeds=2, per_round=2, max_experiments=6, finalists=1)
    outcome = start_study(config, settings, store, display=Events())
    with store.session() as session:
        rows = list(session.exec(select(Experiment).where(Experiment.study_id == outcome.study_id)).all())
        hypotheses = list(
            session.exec(select(Hypothesis).where(Hypothesis.study_id == outcome.study_id)).all()
        )
        best = best_result(session=session, study_id=outcome.study_id)
    search = {e.config["method"]: e for e in rows if e.config.get("role") == "search"}
    assert search["constant"].status == "ok" and search["aux_conf"].status == "ok"  # both really ran
    assert outcome.best is not None and outcome.best["method"] != "constant"
    finals = [e for e in rows if e.config.get("role") == "final"]
    assert finals and all(e.config["method"] != "constant" for e in finals)
    checks = finals[0].config["integrity"]["checks"]
    assert all("inconclusive (2 seeds; ≥ 5 needed)" in checks[k] for k in ("weak_labels", "seed_spread"))
    assert not any("does not depend" in f for f in finals[0].config["integrity_flags"])
    trick = next(h for h in hypotheses if h.id == search["constant"].hypothesis_id)
    assert trick.status == HypothesisStatus.REFUTED and "not ranked: one-class predictions" in (
        trick.finding or ""
    )
    others = {h.status for h in hypotheses if h.id != trick.id}  # 2 seeds: no verdict either way
    assert others <= {HypothesisStatus.INCONCLUSIVE, HypothesisStatus.ABANDONED}
    assert best is not None and next(e for e in rows if e.id == best.experiment_id).config["role"] == "search"
    assert "(baseline: reference)" in Path(outcome.report_path or "").read_text()
