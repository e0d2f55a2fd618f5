"""View models shared by the pages and the JSON API: a study, an experiment, the agent log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel
from sqlmodel import Session

from aar.errors import UserError
from aar.report.audit import AuditView, audit_view
from aar.report.data import audit_findings, config_flags, method_name, seeds_of
from aar.report.team import TeamView, team_view
from aar.store.artifacts import ArtifactStore, get_artifact
from aar.store.crud import get_experiment, get_study, list_audit_findings
from aar.store.models import Experiment, StudyPublic
from aar.store.queries import (
    ExperimentDetail,
    HypothesisNode,
    StudyListItem,
    StudySummary,
    experiment_detail,
    hypothesis_tree,
    list_studies,
)
from aar.store.queries import study_summary as store_study_summary
from aar.web.diffs import CodeDiff, code_diff
from aar.web.queries import (
    EventRow,
    ExperimentPage,
    LLMCallRow,
    Order,
    Progress,
    SortKey,
    Split,
    agent_events,
    budget_totals,
    experiment_page,
    llm_calls,
    parent_code_sha,
    primary_split,
    progress,
)

LOG_TAIL_BYTES = 200_000


@dataclass(frozen=True)
class TableParams:
    """How the experiments table is sorted and paged (validated query parameters)."""

    sort: SortKey
    order: Order
    page: int
    per_page: int
    split: Split | None


def table_params(
    sort: SortKey = "pgr",
    order: Order = "desc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    split: Split | None = None,
) -> TableParams:
    """The table's query parameters; anything else is a 422."""
    return TableParams(sort=sort, order=order, page=page, per_page=per_page, split=split)


class StudyRow(StudyListItem):
    """A study in the list: its best run (dev winner, its test PGR beside it) and what it spent."""

    budget_used: dict[str, float]


def study_rows(session: Session) -> list[StudyRow]:
    """Every study, newest first: the dev winner's PGR (and its test PGR) and budget used."""
    spent = budget_totals(session=session)
    return [
        StudyRow(**item.model_dump(), budget_used=spent.get(item.id, {}))
        for item in list_studies(session=session)
    ]


class StudyView(BaseModel):
    """The study page: summary, live progress, hypothesis tree and a page of experiments."""

    summary: StudySummary
    split: Split
    progress: Progress
    tree: list[HypothesisNode]
    experiments: ExperimentPage
    audit: AuditView  # every audit rejection; hypotheses given up after them show "rejected by audit"
    team: TeamView | None = None  # which researcher found what (`--researchers N`); None for one


def study_split(*, session: Session, study_id: int, split: Split | None = None) -> Split:
    """`split` if given, else the split the study's feedback used; raises NotFoundError for no study."""
    get_study(session=session, study_id=study_id)
    return split or primary_split(session=session, study_id=study_id)


def study_summary(
    *, session: Session, study_id: int, split: Split | None = None
) -> tuple[StudySummary, Split]:
    """The study's summary on `split` (default: the split its feedback used)."""
    split = study_split(session=session, study_id=study_id, split=split)
    return store_study_summary(session=session, study_id=study_id, split=split), split


def study_view(*, session: Session, study_id: int, table: TableParams) -> StudyView:
    """Everything on the study page."""
    summary, split = study_summary(session=session, study_id=study_id, split=table.split)
    return StudyView(
        summary=summary,
        split=split,
        progress=progress(summary),
        tree=hypothesis_tree(session=session, study_id=study_id),
        experiments=experiments_table(session=session, study_id=study_id, table=table, split=split),
        audit=audit_view(session=session, study_id=study_id),
        team=team_view(
            session=session, study_id=study_id, winner_hypothesis=_winner_hypothesis(session, summary)
        ),
    )


def _winner_hypothesis(session: Session, summary: StudySummary) -> int | None:
    """The hypothesis of the study's best search run, if any."""
    if summary.best is None:
        return None
    return get_experiment(session=session, experiment_id=summary.best.experiment_id).hypothesis_id


def experiments_table(*, session: Session, study_id: int, table: TableParams, split: Split) -> ExperimentPage:
    """One page of the study's experiments table."""
    return experiment_page(
        session=session,
        study_id=study_id,
        split=split,
        sort=table.sort,
        order=table.order,
        page=table.page,
        per_page=table.per_page,
    )


class DiffView(BaseModel):
    """A code diff for the API: its title, base, counts and unified text."""

    title: str
    base: str
    added: int
    removed: int
    diff: str


class ExperimentView(BaseModel):
    """The experiment page: detail, code, diffs, audit findings, flags and log."""

    study: StudyPublic
    detail: ExperimentDetail
    method: str
    seeds: list[int]
    code: str | None
    diffs: list[DiffView]
    audit: list[str]
    integrity_flags: list[str]
    log: str | None
    log_truncated: bool


def _text(session: Session, artifacts: ArtifactStore, sha: str | None) -> str | None:
    if sha is None:
        return None
    try:
        return get_artifact(session=session, artifacts=artifacts, sha256=sha).decode(
            "utf-8", errors="replace"
        )
    except UserError:  # the row or its file is missing (e.g. a study imported without artifacts)
        return None


def code_diffs(
    *, session: Session, artifacts: ArtifactStore, experiment: Experiment, code: str, templates_dir: Path
) -> list[CodeDiff]:
    """The experiment's code against its template's method.py and against its parent hypothesis's code."""
    diffs = []
    template_file = templates_dir / experiment.template / "method.py"
    if template_file.is_file():
        base = template_file.read_text(encoding="utf-8", errors="replace")
        name = f"{experiment.template}/method.py"
        diffs.append(code_diff("against the template", base, code, base_name=name, new_name="method.py"))
    parent = parent_code_sha(session=session, experiment=experiment)
    parent_code = _text(session, artifacts, parent[1]) if parent is not None else None
    if parent is not None and parent_code is not None:
        name = f"hypothesis {parent[0]} ({parent[1][:8]})"
        diffs.append(
            code_diff(
                "against the parent hypothesis", parent_code, code, base_name=name, new_name="method.py"
            )
        )
    return diffs


def experiment_view(
    *, session: Session, artifacts: ArtifactStore, experiment_id: int, templates_dir: Path
) -> tuple[ExperimentView, list[CodeDiff]]:
    """Everything on the experiment page, and its diffs as typed lines for colouring."""
    experiment = get_experiment(session=session, experiment_id=experiment_id)
    config = experiment.config if isinstance(experiment.config, dict) else {}
    code = _text(session, artifacts, experiment.method_sha256)
    diffs = (
        code_diffs(
            session=session,
            artifacts=artifacts,
            experiment=experiment,
            code=code,
            templates_dir=templates_dir,
        )
        if code is not None
        else []
    )
    log, truncated = _log_tail(_text(session, artifacts, experiment.log_sha256))
    view = ExperimentView(
        study=StudyPublic.model_validate(get_study(session=session, study_id=experiment.study_id)),
        detail=experiment_detail(session=session, experiment_id=experiment_id),
        method=method_name(config, experiment.template, experiment.method_sha256),
        seeds=seeds_of(config, experiment.seed),
        code=code,
        diffs=[DiffView(title=d.title, base=d.base_name, added=d.added, removed=d.removed, diff=d.text()) for d in diffs],
        audit=audit_findings(config) + _hypothesis_audits(session, experiment),
        integrity_flags=config_flags(config),
        log=log,
        log_truncated=truncated,
    )  # fmt: skip
    return view, diffs


def request_experiment_view(
    request: Request, session: Session, experiment_id: int
) -> tuple[ExperimentView, list[CodeDiff]]:
    """`experiment_view` over the app's artifact store and experiment templates (for a page or the API)."""
    return experiment_view(
        session=session,
        artifacts=request.app.state.store.artifacts,
        experiment_id=experiment_id,
        templates_dir=request.app.state.templates_dir,
    )


def _hypothesis_audits(session: Session, experiment: Experiment) -> list[str]:
    """The audit rejections of the experiment's hypothesis (earlier attempts at its code)."""
    if experiment.hypothesis_id is None:
        return []
    found = list_audit_findings(
        session=session, study_id=experiment.study_id, hypothesis_id=experiment.hypothesis_id
    )
    return [f"{f.stage} audit rejected attempt {f.attempt}: {'; '.join(f.problems)[:500]}" for f in found]


def _log_tail(text: str | None) -> tuple[str | None, bool]:
    if text is None or len(text) <= LOG_TAIL_BYTES:
        return text, False
    return text[-LOG_TAIL_BYTES:], True


class AgentLog(BaseModel):
    """A page of the study's agent steps and the same page of its LLM calls."""

    study: StudyPublic
    page: int
    per_page: int
    total_events: int
    events: list[EventRow]
    total: int
    calls: list[LLMCallRow]

    @property
    def more(self) -> bool:
        """True when a later page holds more steps or calls."""
        return self.page * self.per_page < max(self.total, self.total_events)


def agent_log(*, session: Session, study_id: int, page: int, per_page: int) -> AgentLog:
    """The study's agent steps (node events) and LLM calls, one page of each."""
    study = StudyPublic.model_validate(get_study(session=session, study_id=study_id))
    total_events, events = agent_events(session=session, study_id=study_id, page=page, per_page=per_page)
    total, calls = llm_calls(session=session, study_id=study_id, page=page, per_page=per_page)
    return AgentLog(
        study=study,
        page=page,
        per_page=per_page,
        total_events=total_events,
        events=events,
        total=total,
        calls=calls,
    )
