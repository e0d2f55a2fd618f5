"""Multi-fidelity in the study loop (issue 12.4): a low-rung outcome is shown, marked, but never the
best, never judged against naive or the best, never on the findings board; a small builtin study runs
low rungs, promotes the best to full fidelity and ends with fractional experiments used ≤ its budget."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlmodel import select

from aar.graph.nodes import LOW_RUNG, analyze, fidelity_of, visible
from aar.graph.runtime import Runtime
from aar.graph.state import Candidate, Proposal, StudyState
from aar.graph.study import start_study
from aar.researchers import builtin
from aar.researchers.feedback import Released
from aar.researchers.types import Fidelity
from aar.store import BudgetCharge, Experiment, Hypothesis
from aar.store.models import ResearchFinding
from tests.graph.conftest import Events, study_config
from tests.graph.test_analyze_state import _outcome, runtime  # noqa: F401 - the fixture

RUNG = Fidelity(rung=0, seeds=2, w2s_fraction=1 / 3)


def test_a_low_rung_outcome_is_never_the_best_nor_judged(runtime: Runtime) -> None:  # noqa: F811
    naive = _outcome(100, None, (0.1, 0.1, 0.1))
    lucky = _outcome(102, 2, (0.9, 0.95), fidelity=RUNG)  # far above naive, on the low rung
    state = StudyState(
        config=runtime.config, study_id=runtime.study_id, naive=naive, best=naive, outcomes=[lucky],
        candidates=[Candidate(hypothesis_id=2, proposal=Proposal(text="t", fidelity=RUNG), status="done")],
    )  # fmt: skip
    update = analyze(state, runtime)
    assert update["best"].experiment_id == 100 and update["stalled_rounds"] == 1
    (judged,) = update["outcomes"]
    assert judged.verdict_vs_naive == "" and judged.verdict_vs_best == ""
    with runtime.store.session() as session:
        hypothesis = session.get(Hypothesis, 2)
        assert session.exec(select(ResearchFinding)).all() == []  # no prior for a later study
    assert hypothesis.status == "inconclusive"
    assert hypothesis.finding.startswith("m102 (rung 0: 2 seeds, 1/3 w2s_train)")


def test_the_researcher_sees_a_low_rung_score_without_a_verdict_vs_naive() -> None:
    rung = _outcome(7, 1, (0.5, 0.6), fidelity=RUNG)
    released = {7: Released(0.55, 0.4, 0.7, vs_naive="Δ +0.45 vs naive (released scores): better")}
    seen = visible(rung, "dev", released)
    assert seen is not None and seen.dev_pgr == 0.55 and seen.verdict_vs_naive == ""
    full = visible(rung.model_copy(update={"fidelity": None}), "dev", released)
    assert full is not None and full.verdict_vs_naive.endswith("better")


@pytest.mark.slow
def test_a_builtin_study_with_a_low_rung(settings, store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        builtin, "LIBRARY_ORDER", ("aux_conf",)
    )  # one library method: the search starts at once
    budget = 5.0
    config = study_config("mf", seeds=3, per_round=3, finalists=1, max_experiments=budget)
    outcome = start_study(config, settings, store, display=Events())
    assert outcome.stop_reason.startswith("budget")
    with store.session() as session:
        rows = list(session.exec(select(Experiment).where(Experiment.study_id == outcome.study_id)).all())
        charges = session.exec(select(BudgetCharge).where(BudgetCharge.kind == "experiments")).all()
        board = {f.experiment_id for f in session.exec(select(ResearchFinding)).all()}
    used = sum(c.amount for c in charges)
    assert used <= budget and not math.isclose(used, round(used))  # fractional, within the budget
    low = [r for r in rows if r.config.get("role") == LOW_RUNG]
    full = [r for r in rows if r.config.get("role") == "search"]
    assert len(low) >= 3 and all(fidelity_of(r) == RUNG and r.config["seeds"] == [0, 1] for r in low)
    assert all(fidelity_of(r) is None and r.config["seeds"] == [0, 1, 2] for r in full)
    promoted = [r for r in full if any(r.config["hparams"] == x.config["hparams"] for x in low)]
    assert promoted, "the rung's best reran at full fidelity"
    low_ids = {r.id for r in low}
    assert outcome.best["experiment_id"] not in low_ids and not board & low_ids
    finals = [r for r in rows if r.config.get("role") == "final"]
    assert finals and not {r.hypothesis_id for r in finals} & {r.hypothesis_id for r in low}
    report = Path(outcome.report_path).read_text()
    assert "rung 0: 2 seeds, 1/3 w2s_train" in report
    assert f'<td>experiments</td><td class="n">{budget:g}</td><td class="n">{used:.1f}</td>' in report
