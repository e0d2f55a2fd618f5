"""The JSON API under `/api`: the same data as the pages, for scripts. Read-only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse

from aar.errors import UserError
from aar.store.artifacts import get_artifact
from aar.store.crud import get_study
from aar.store.engine import check_reachable
from aar.store.queries import BestSoFarPoint, BurnPoint, best_so_far, budget_burn
from aar.web.app import Id, SessionDep
from aar.web.queries import ExperimentPage, Progress, Split, progress
from aar.web.views import (
    AgentLog,
    ExperimentView,
    StudyRow,
    StudyView,
    TableParams,
    agent_log,
    experiments_table,
    request_experiment_view,
    study_rows,
    study_split,
    study_summary,
    study_view,
    table_params,
)

router = APIRouter(prefix="/api", tags=["api"])
Table = Annotated[TableParams, Depends(table_params)]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=500)]
Sha = Annotated[str, PathParam(pattern="^[0-9a-f]{64}$")]


@router.get("/health")
def api_health(request: Request) -> JSONResponse:
    """200 `{"status": "ok"}` while the store answers, else 503 with why (compose's healthcheck)."""
    try:
        check_reachable(request.app.state.store.engine, where="the store")
    except UserError as exc:
        return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "store": "ok"})


@router.get("/studies")
def api_studies(session: SessionDep) -> list[StudyRow]:
    """The studies list."""
    return study_rows(session)


@router.get("/studies/{study_id:int}")
def api_study(study_id: Id, session: SessionDep, table: Table) -> StudyView:
    """A study: summary, progress, hypothesis tree and a page of experiments."""
    return study_view(session=session, study_id=study_id, table=table)


@router.get("/studies/{study_id:int}/progress")
def api_progress(study_id: Id, session: SessionDep, split: Split | None = None) -> Progress:
    """What the study page refreshes while the study runs."""
    summary, _ = study_summary(session=session, study_id=study_id, split=split)
    return progress(summary)


@router.get("/studies/{study_id:int}/experiments")
def api_experiments(study_id: Id, session: SessionDep, table: Table) -> ExperimentPage:
    """The experiments table: sorted, paged."""
    split = study_split(session=session, study_id=study_id, split=table.split)
    return experiments_table(session=session, study_id=study_id, table=table, split=split)


@router.get("/studies/{study_id:int}/best_so_far")
def api_best_so_far(study_id: Id, session: SessionDep, split: Split | None = None) -> list[BestSoFarPoint]:
    """Each finished experiment's PGR and the best so far, as the study page plots it."""
    split = study_split(session=session, study_id=study_id, split=split)
    return best_so_far(session=session, study_id=study_id, split=split)


@router.get("/studies/{study_id:int}/budget_burn")
def api_budget_burn(study_id: Id, session: SessionDep) -> list[BurnPoint]:
    """Every budget charge with the running total of its kind."""
    get_study(session=session, study_id=study_id)
    return budget_burn(session=session, study_id=study_id)


@router.get("/studies/{study_id:int}/log")
def api_log(study_id: Id, session: SessionDep, page: Page = 1, per_page: PerPage = 50) -> AgentLog:
    """The agent log: LLM calls with tokens and cost (prompts and replies under /api/artifacts)."""
    get_study(session=session, study_id=study_id)
    return agent_log(session=session, study_id=study_id, page=page, per_page=per_page)


@router.get("/experiments/{experiment_id:int}")
def api_experiment(experiment_id: Id, session: SessionDep, request: Request) -> ExperimentView:
    """An experiment: detail, code, diffs, audit findings, flags and log."""
    view, _ = request_experiment_view(request, session, experiment_id)
    return view


@router.get("/artifacts/{sha256}", response_class=PlainTextResponse)
def api_artifact(sha256: Sha, session: SessionDep, request: Request) -> PlainTextResponse:
    """An artifact's bytes as plain text (never rendered as HTML: agent output is untrusted)."""
    data = get_artifact(session=session, artifacts=request.app.state.store.artifacts, sha256=sha256)
    return PlainTextResponse(data.decode("utf-8", errors="replace"))
