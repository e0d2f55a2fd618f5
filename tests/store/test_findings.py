"""The findings board in the store: posted per hypothesis (once), listed per study, read as priors by
other studies on the same task and pair (SQLite and PostgreSQL)."""

from __future__ import annotations

from aar.store import HypothesisCreate, Store, create_hypothesis
from aar.store.findings import list_findings, prior_findings, record_finding
from aar.store.models import ResearchFindingCreate
from tests.store.factories import make_study


def _post(store: Store, study_id: int, **fields: object) -> int:
    with store.session() as session:
        h = create_hypothesis(session=session, study_id=study_id, hypothesis_in=HypothesisCreate(text="t"))
        row = ResearchFindingCreate(
            hypothesis_id=h.id, researcher="r1", task_fingerprint="fp", pair="a→b", method="aux_conf",
            hparams={"aux_alpha": 0.5}, status="ok", delta=0.1, delta_lo=0.0, delta_hi=0.2,
            verdict="inside noise", weak_acc=0.6, ceiling_acc=0.8, shown_delta=0.12,
        ).model_copy(update=fields)  # fmt: skip
        return int(record_finding(session=session, study_id=study_id, finding_in=row).id or 0)


def test_board_rows_round_trip_and_are_posted_once_per_hypothesis(store: Store) -> None:
    with store.session() as session:
        study = int(make_study(session).id or 0)
    first = _post(store, study)
    with store.session() as session:
        rows = list_findings(session=session, study_id=study)
        again = record_finding(
            session=session,
            study_id=study,
            finding_in=ResearchFindingCreate(hypothesis_id=rows[0].hypothesis_id, researcher="r2"),
        )
    assert again.id == first  # a re-analyzed round does not post twice
    row = rows[0]
    assert (row.researcher, row.method, row.hparams, row.delta, row.weak_acc) == (
        "r1",
        "aux_conf",
        {"aux_alpha": 0.5},
        0.1,
        0.6,
    )


def test_priors_come_from_other_studies_on_the_same_task_and_pair(store: Store) -> None:
    with store.session() as session:
        old, other, new = (int(make_study(session, name=n).id or 0) for n in ("old", "other", "new"))
    kept = _post(store, old, method="product")
    _post(store, old, duplicate=True)  # a duplicate repeats a result: not a second piece of evidence
    _post(store, old, delta=None, shown_delta=None, status="failed")  # nothing measured
    _post(store, old, shown_delta=None)  # its researcher was shown no score (withheld): nothing to pass on
    _post(store, old, feedback="blind")
    _post(store, other, pair="a→c")
    _post(store, other, task_fingerprint="other")
    _post(store, new)  # the study itself
    with store.session() as session:
        found = prior_findings(session=session, task_fingerprint="fp", pair="a→b", exclude_study_id=new)
    assert [f.id for f in found] == [kept]
