"""The dashboard's HTML pages: studies, a study (live), an experiment (code and diffs), the agent log,
the study's plots as SVG and its full report. Read-only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from aar.errors import UserError
from aar.report import plots
from aar.report.data import load_runs, method_rows
from aar.report.gather import gather, method_curves
from aar.report.render import render
from aar.store.artifacts import get_artifact
from aar.store.crud import NotFoundError, get_experiment, get_study
from aar.store.models import ExperimentStatus
from aar.store.queries import best_so_far, budget_burn, experiment_by_number, experiment_detail
from aar.web.app import Id, SessionDep, page
from aar.web.llm_view import call_view
from aar.web.queries import llm_mode_switches
from aar.web.views import (
    TableParams,
    agent_log,
    experiments_table,
    request_experiment_view,
    study_rows,
    study_split,
    study_view,
    table_params,
)

router = APIRouter(include_in_schema=False)
Table = Annotated[TableParams, Depends(table_params)]
PlotName = Literal["pgr_curves", "best_so_far", "pgr_by_method", "budget_burn"]
PROMPT_PREVIEW = 20_000
# A call's artifacts up to this size are shown as messages; a bigger one shows its start, as text.
CALL_BYTES = 2_000_000
NO_CACHE = {"Cache-Control": "no-store"}


def svg(document: str) -> Response:
    """An SVG image response that browsers re-fetch while a study runs."""
    return Response(document, media_type="image/svg+xml", headers=NO_CACHE)


@router.get("/", response_class=HTMLResponse)
def studies_page(request: Request, session: SessionDep) -> Response:
    """The studies list: status, best PGR, budget used."""
    return page(request, "studies.html", studies=study_rows(session))


@router.get("/studies/{study_id:int}", response_class=HTMLResponse)
def study_page(request: Request, study_id: Id, session: SessionDep, table: Table) -> Response:
    """A study: goal, live progress, plots, hypothesis tree, experiments table."""
    view = study_view(session=session, study_id=study_id, table=table)
    return page(request, "study.html", v=view, table=table, statuses=list(ExperimentStatus))


@router.get("/studies/{study_id:int}/experiments-table", response_class=HTMLResponse)
def experiments_fragment(request: Request, study_id: Id, session: SessionDep, table: Table) -> Response:
    """The experiments table alone, for the study page's live refresh."""
    split = study_split(session=session, study_id=study_id, split=table.split)
    rows = experiments_table(session=session, study_id=study_id, table=table, split=split)
    return page(request, "_experiments.html", study_id=study_id, t=rows)


@router.get("/studies/{study_id:int}/plots/{name}.svg")
def study_plot(study_id: Id, name: PlotName, session: SessionDep) -> Response:
    """One of the study's plots, drawn from the store now."""
    study = get_study(session=session, study_id=study_id)
    if name == "budget_burn":
        return svg(plots.budget_burn(budget_burn(session=session, study_id=study_id), study.budget_limits))
    split = study_split(session=session, study_id=study_id)
    if name == "best_so_far":
        points = best_so_far(session=session, study_id=study_id, split=split)
        return svg(plots.best_so_far(points, split=split))
    rows = method_rows(load_runs(session=session, study_id=study_id, statuses=(ExperimentStatus.OK,)), split)
    if name == "pgr_by_method":
        return svg(plots.pgr_by_method(rows, split=split))
    return svg(plots.pgr_curves(method_curves(session, rows, split), split=split))


@router.get("/studies/{study_id:int}/experiments/{number:int}")
def experiment_by_study_number(study_id: Id, number: Id, session: SessionDep) -> Response:
    """Experiment `number` of a study (the hypothesis tree links these)."""
    experiment = experiment_by_number(session=session, study_id=study_id, number=number)
    if experiment is None:
        raise NotFoundError(f"study {study_id} has no experiment {number}")
    return RedirectResponse(f"/experiments/{experiment.id}", status_code=303)


@router.get("/studies/{study_id:int}/log", response_class=HTMLResponse)
def agent_log_page(
    request: Request,
    study_id: Id,
    session: SessionDep,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The agent log: each LLM call's node, model, tokens, cost, and its messages and reply, role-labelled
    (long ones collapsed), with the raw request and response JSON a click away."""
    log = agent_log(session=session, study_id=study_id, page=page_no, per_page=per_page)
    chats = {
        call.id: call_view(_artifact(session, request, call.prompt_sha256), _artifact(session, request, call.response_sha256))
        for call in log.calls
    }  # fmt: skip
    switches = llm_mode_switches(session=session, study_id=study_id)
    return page(request, "agent_log.html", log=log, chats=chats, switches=switches)


def _artifact(session: Session, request: Request, sha: str | None) -> bytes | None:
    """A call's stored prompt or response (its start, when it is huge); None when missing."""
    if not sha:
        return None
    try:
        data = get_artifact(session=session, artifacts=request.app.state.store.artifacts, sha256=sha)
    except UserError:
        return b"(not in the store)"
    return data if len(data) <= CALL_BYTES else data[:PROMPT_PREVIEW] + b"\n(cut: open the raw JSON)"


@router.get("/studies/{study_id:int}/report", response_class=HTMLResponse)
def report_page(request: Request, study_id: Id) -> Response:
    """The study's full report, rendered now (the same HTML `aar report` writes)."""
    text, _ = render(gather(request.app.state.store, study_id), "html")
    return HTMLResponse(text)


@router.get("/experiments/{experiment_id:int}", response_class=HTMLResponse)
def experiment_page(request: Request, experiment_id: Id, session: SessionDep) -> Response:
    """An experiment: config, seeds, curves, status, log, audit findings, code and its diffs."""
    view, diffs = request_experiment_view(request, session, experiment_id)
    return page(request, "experiment.html", v=view, diffs=diffs)


@router.get("/experiments/{experiment_id:int}/curve.svg")
def experiment_curve(experiment_id: Id, session: SessionDep) -> Response:
    """An experiment's learning curve."""
    get_experiment(session=session, experiment_id=experiment_id)
    detail = experiment_detail(session=session, experiment_id=experiment_id)
    return svg(plots.experiment_curve([(p.split, p.step, p.pgr, p.accuracy) for p in detail.curve]))
