"""A study's lifecycle in the store: begin, heartbeat, stop request, end, stale hosts, delete, migration 0005."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from aar.store import (
    AgentEventBase,
    AuditFindingCreate,
    CurvePoint,
    Experiment,
    HypothesisCreate,
    LLMCallCreate,
    Score,
    Study,
    StudyPublic,
    StudyStatus,
    charge_budget,
    create_hypothesis,
    list_studies,
    open_store,
    record_audit_finding,
    record_event,
    record_llm_call,
)
from aar.store.crud import delete_study
from aar.store.engine import make_engine, parse_url
from aar.store.migrate import upgrade
from aar.store.models import STALE_AFTER_S, utcnow
from aar.store.states import (
    STOP_REQUESTED,
    StudyStateError,
    beat,
    begin_study_run,
    end_study_run,
    request_stop,
    this_worker,
)
from tests.store.factories import make_experiment, make_study, run_to_ok


def _running(session: Session, name: str = "study-a") -> int:
    study_id = int(make_study(session, name).id or 0)
    begin_study_run(session=session, study_id=study_id)
    return study_id


def test_a_stop_request_reaches_the_running_study_and_resume_clears_it(session: Session) -> None:
    study_id = _running(session)
    assert beat(session=session, study_id=study_id) is None
    assert request_stop(session=session, study_id=study_id) == "stopping"
    assert beat(session=session, study_id=study_id) == STOP_REQUESTED
    assert end_study_run(
        session=session, study_id=study_id, status=StudyStatus.STOPPED, stop_reason=STOP_REQUESTED
    )
    assert not end_study_run(
        session=session, study_id=study_id, status=StudyStatus.FAILED, stop_reason="late"
    )
    study = session.get(Study, study_id)
    assert study is not None
    session.refresh(study)
    assert (study.status, study.stop_reason) == ("stopped", STOP_REQUESTED) and study.finished_at
    with pytest.raises(StudyStateError, match="not running"):
        request_stop(session=session, study_id=study_id)

    begin_study_run(session=session, study_id=study_id)  # aar resume
    session.refresh(study)
    assert study.status == "running" and study.stop_requested_at is None and study.stop_reason is None
    assert study.finished_at is None
    assert beat(session=session, study_id=study_id) is None


@pytest.mark.parametrize("ended", [StudyStatus.STOPPED, StudyStatus.FAILED, StudyStatus.INTERRUPTED])
def test_every_end_but_finished_resumes(session: Session, ended: StudyStatus) -> None:
    study_id = _running(session)
    assert end_study_run(session=session, study_id=study_id, status=ended, stop_reason="why")
    assert begin_study_run(session=session, study_id=study_id).status == "running"


def test_a_live_study_cannot_be_begun_twice_and_a_finished_one_not_at_all(session: Session) -> None:
    study_id = _running(session)
    with pytest.raises(StudyStateError, match="running in another process"):
        begin_study_run(session=session, study_id=study_id)
    end_study_run(
        session=session, study_id=study_id, status=StudyStatus.FINISHED, stop_reason="budget: deadline"
    )
    with pytest.raises(StudyStateError, match="is finished"):
        begin_study_run(session=session, study_id=study_id)


def test_a_stale_heartbeat_reads_interrupted_and_stop_marks_it(session: Session) -> None:
    study_id = _running(session)
    study = session.get(Study, study_id)
    assert study is not None
    study.heartbeat_at = utcnow() - timedelta(seconds=STALE_AFTER_S - 30)
    session.add(study)
    session.flush()
    assert StudyPublic.model_validate(study).status == "running"  # late, not dead yet
    study.heartbeat_at = utcnow() - timedelta(seconds=STALE_AFTER_S + 30)
    session.add(study)
    session.flush()
    shown = StudyPublic.model_validate(study)
    assert shown.status == "interrupted" and "no heartbeat since" in (shown.stop_reason or "")
    assert [s.status for s in list_studies(session=session)] == ["interrupted"]
    assert study.status == "running"  # reading never writes

    assert request_stop(session=session, study_id=study_id) == "interrupted"
    session.refresh(study)
    assert study.status == "interrupted" and "no heartbeat since" in (study.stop_reason or "")
    begin_study_run(session=session, study_id=study_id)  # resumable
    session.refresh(study)
    assert study.status == "running"


def test_a_dead_hosts_running_row_may_be_begun_again(session: Session) -> None:
    study_id = _running(session)
    study = session.get(Study, study_id)
    assert study is not None
    study.heartbeat_at = utcnow() - timedelta(seconds=STALE_AFTER_S + 1)
    session.add(study)
    session.flush()
    begin_study_run(session=session, study_id=study_id)
    session.refresh(study)
    assert study.heartbeat_at is not None and utcnow() - study.heartbeat_at < timedelta(seconds=5)


def test_a_study_whose_process_died_here_resumes_at_once(session: Session) -> None:
    """kill -9: the heartbeat is still fresh, but the recorded host:pid is gone, so resume need not wait."""
    study_id = _running(session)
    study = session.get(Study, study_id)
    assert study is not None and study.worker == this_worker()
    with pytest.raises(StudyStateError, match="running in another process"):  # this very process: alive
        begin_study_run(session=session, study_id=study_id)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    study.worker = f"{socket.gethostname()}:{gone.pid}"
    session.add(study)
    session.flush()
    assert begin_study_run(session=session, study_id=study_id).worker == this_worker()
    study.worker = f"another-host:{gone.pid}"  # a pid on another host cannot be checked: wait for staleness
    session.add(study)
    session.flush()
    with pytest.raises(StudyStateError, match="running in another process"):
        begin_study_run(session=session, study_id=study_id)


def _count(session: Session, model: type, **where: int) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return int(session.exec(query).one())


def test_delete_study_removes_every_row_of_that_study_and_nothing_else(session: Session) -> None:
    ids = []
    for name in ("doomed", "kept"):
        study = make_study(session, name)
        sid = int(study.id or 0)
        parent = create_hypothesis(session=session, study_id=sid, hypothesis_in=HypothesisCreate(text="p"))
        child = create_hypothesis(
            session=session, study_id=sid, hypothesis_in=HypothesisCreate(text="c", parent_id=parent.id)
        )
        experiment = run_to_ok(session, make_experiment(session, study, hypothesis_id=child.id), 0.3)
        make_experiment(session, study)
        record_event(session=session, study_id=sid, event_in=AgentEventBase(node="run", message="m", experiment_id=experiment.id))  # fmt: skip
        record_llm_call(session=session, study_id=sid, call_in=LLMCallCreate(node="propose", provider="p", model="m"))  # fmt: skip
        record_audit_finding(session=session, study_id=sid, finding_in=AuditFindingCreate(hypothesis_id=child.id, stage="static"))  # fmt: skip
        charge_budget(session=session, study_id=sid, kind="usd", amount=0.1, experiment_id=experiment.id)
        ids.append((sid, int(experiment.id or 0)))
    (doomed, doomed_exp), (kept, kept_exp) = ids

    counts = delete_study(session=session, study_id=doomed)
    assert counts["study"] == 1 and counts["experiment"] == 2 and counts["hypothesis"] == 2
    assert counts["score"] == 1 and counts["curve_point"] == 3 and counts["agent_event"] == 1
    assert counts["llm_call"] == 1 and counts["audit_finding"] == 1 and counts["budget_charge"] >= 1
    assert session.get(Study, doomed) is None
    assert _count(session, Experiment, study_id=doomed) == 0
    assert _count(session, Score, experiment_id=doomed_exp) == 0
    assert _count(session, CurvePoint, experiment_id=doomed_exp) == 0
    assert _count(session, Experiment, study_id=kept) == 2  # the other study is whole
    assert _count(session, Score, experiment_id=kept_exp) == 1
    assert _count(session, CurvePoint, experiment_id=kept_exp) == 3


def test_old_statuses_migrate_sensibly(shared_db_url: str, tmp_path: Path) -> None:
    engine = make_engine(parse_url(shared_db_url))
    upgrade(engine, where=shared_db_url, revision="0004")
    now = "2026-01-01 00:00:00"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO artifact (sha256, kind, size, media_type, created_at) VALUES ('r', 'report', 1, 'x', :now)"
            ),
            {"now": now},
        )
        for i, (status, report) in enumerate(
            (("active", None), ("active", "r"), ("stopped", "r"), ("finished", "r"))
        ):
            connection.execute(
                text(
                    "INSERT INTO study (id, name, goal, task, pair, policy, feedback_mode, budget_limits, status,"
                    " experiment_counter, report_sha256, created_at, updated_at) VALUES (:id, :name, 'g', '', '',"
                    " '', '', '{}', :status, 0, :report, :now, :now)"
                ),
                {"id": i + 1, "name": f"s{i}", "status": status, "report": report, "now": now},
            )
    engine.dispose()
    store = open_store(url=shared_db_url, results_dir=tmp_path)
    try:
        with store.session() as session:
            rows = {s.name: s for s in session.exec(select(Study)).all()}
            assert rows["s0"].status == "interrupted" and "left active" in (rows["s0"].stop_reason or "")
            assert rows["s1"].status == "finished"  # it has its report
            assert (rows["s2"].status, rows["s2"].stop_reason) == ("finished", "budget")
            assert (rows["s3"].status, rows["s3"].stop_reason) == ("finished", None)
            begin_study_run(session=session, study_id=int(rows["s0"].id or 0))  # and it resumes
    finally:
        store.close()
