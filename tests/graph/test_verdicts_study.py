"""Issue 9's wrong verdicts on a tiny real blind study: a constant-majority method in the library (the
label-free trick), two seeds. It must not become the study's best or a finalist; every seed-based
verdict must say "inconclusive"; `aar show`'s best is a search run; the report shows naive's test row.
The study (`blind_study`, tests/graph/conftest.py) is shared with the blind-mode test."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from aar.store import Experiment, Hypothesis, HypothesisStatus
from aar.store.queries import best_result
from tests.graph.conftest import SharedStudy


@pytest.mark.slow
def test_blind_study_with_a_constant_method(blind_study: SharedStudy) -> None:
    outcome, store = blind_study.outcome, blind_study.store
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
