"""`analyze` returns new state: verdicts travel in its update (merged by experiment id), never by editing
outcomes in place, and it judges only the outcomes of this round's finished candidates."""

from __future__ import annotations

import pytest

from aar.config import Settings
from aar.graph.nodes import analyze
from aar.graph.runtime import Runtime
from aar.graph.state import Candidate, Outcome, Proposal, StudyState, merge_outcomes
from aar.graph.study import build_runtime
from aar.store import Experiment, Hypothesis, StudyCreate, create_study
from tests.graph.conftest import Events, study_config

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"


def _outcome(exp: int, hyp: int | None, pgrs: tuple[float, ...], **extra: object) -> Outcome:
    seeds = dict(enumerate(pgrs))
    return Outcome(hypothesis_id=hyp, experiment_id=exp, method=f"m{exp}", status="ok",
                   dev_pgr=sum(pgrs) / len(pgrs), dev_pgr_by_seed=seeds, **extra)  # type: ignore[arg-type]  # fmt: skip


def test_merge_replaces_by_experiment_id_and_appends_the_rest() -> None:
    old = [_outcome(1, 1, (0.1,)), _outcome(2, 2, (0.2,))]
    new = [_outcome(2, 2, (0.2,), verdict_vs_naive="judged"), _outcome(3, 3, (0.3,))]
    merged = merge_outcomes(old, new)
    assert [o.experiment_id for o in merged] == [1, 2, 3]
    assert merged[1].verdict_vs_naive == "judged"
    assert old[1].verdict_vs_naive == ""  # the old list is not edited


@pytest.fixture()
def runtime(settings: Settings, store) -> Runtime:
    config = study_config("analyze", sizes=TINY, seeds=3)
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name="analyze", goal="g", task=config.task, pair=config.pair, policy="builtin"))  # fmt: skip
        study_id = int(study.id or 0)
        for text in ("earlier", "this round"):
            session.add(Hypothesis(study_id=study_id, text=text))
        session.flush()
        for number, (exp_id, hyp) in enumerate([(100, None), (101, 1), (102, 2)], 1):
            session.add(
                Experiment(id=exp_id, study_id=study_id, number=number, hypothesis_id=hyp, template="probe")
            )
        session.flush()
    return build_runtime(config, settings, store, study_id, Events(), None)


def _state(rt: Runtime, candidates: list[Candidate]) -> StudyState:
    naive = _outcome(100, None, (0.1, 0.1, 0.1))
    earlier = _outcome(101, 1, (0.2, 0.25, 0.3), verdict_vs_naive="earlier verdict")
    this_round = _outcome(102, 2, (0.5, 0.55, 0.6))
    return StudyState(config=rt.config, study_id=rt.study_id, candidates=candidates, naive=naive,
                      outcomes=[earlier, this_round])  # fmt: skip


def test_analyze_returns_verdicts_and_leaves_state_untouched(runtime: Runtime) -> None:
    state = _state(runtime, [Candidate(hypothesis_id=2, proposal=Proposal(text="t"), status="done")])
    update = analyze(state, runtime)
    assert [o.experiment_id for o in update["outcomes"]] == [102]
    assert update["outcomes"][0].verdict_vs_naive.startswith("Δ")  # a paired verdict vs naive
    assert state.outcomes[1].verdict_vs_naive == ""  # not edited in place
    merged = merge_outcomes(state.outcomes, update["outcomes"])
    assert [o.verdict_vs_naive for o in merged] == ["earlier verdict", update["outcomes"][0].verdict_vs_naive]


def test_analyze_with_no_finished_candidate_judges_nothing(runtime: Runtime) -> None:
    """The old `outcomes[-0:]` selected every outcome when no candidate had finished."""
    state = _state(runtime, [Candidate(hypothesis_id=1, proposal=Proposal(text="t"), status="failed")])
    assert analyze(state, runtime)["outcomes"] == []
