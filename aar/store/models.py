"""The store's tables and their Base / Create / Public schemas.

Study → Hypothesis → Experiment → CurvePoint and Score; Artifact holds content hashes; LLMCall and
BudgetCharge are the study's ledgers; AuditFinding records every audit rejection; Baseline caches
weak labels and ceilings by the hash of what produced them. Changing a table here needs a new
revision in `migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import model_validator
from sqlalchemy import JSON, DateTime, Dialect, Index, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalize to UTC before storing."""
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to a naive value read back."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    """A timezone-aware timestamp column; set on insert unless nullable."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


class StudyStatus(StrEnum):
    """Where a study stands: [queued →] running → finished | stopped (by the user) | failed | interrupted
    (host died). `queued`: put in the queue by `aar run --enqueue`, waiting for a worker (`aar worker`)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


# A running study writes `heartbeat_at` every HEARTBEAT_S; one silent for STALE_AFTER_S lost its host.
HEARTBEAT_S = 30.0
STALE_AFTER_S = 180.0


def heartbeat_stale(heartbeat_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a running study's last heartbeat is too old for its host to be alive (or it never beat)."""
    if heartbeat_at is None:
        return True
    return (now or utcnow()) - heartbeat_at > timedelta(seconds=STALE_AFTER_S)


class HypothesisStatus(StrEnum):
    """Where a hypothesis stands."""

    PROPOSED = "proposed"
    TESTING = "testing"
    SUPPORTED = "supported"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"
    ABANDONED = "abandoned"


class ExperimentStatus(StrEnum):
    """An experiment's state; `states.TRANSITIONS` says which moves are allowed."""

    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    OOM = "oom"
    KILLED = "killed"
    INVALID_OUTPUT = "invalid_output"
    INTERRUPTED = "interrupted"


# ---------------------------------------------------------------- Artifact


class Artifact(SQLModel, table=True):
    """A content-addressed blob (in `artifact_blob`, or on disk as `artifacts/ab/cdef…`); the row records
    what it is."""

    sha256: str = Field(primary_key=True, max_length=64)
    # code | log | predictions | report | prompt | response | …
    kind: str = Field(max_length=40)
    size: int
    media_type: str = Field(default="application/octet-stream", max_length=100)
    created_at: datetime = _time()


# ---------------------------------------------------------------- Study


class StudyBase(SQLModel):
    """What a study is for and what it may spend."""

    # Unique, human-chosen handle used on the command line.
    name: str = Field(max_length=200, unique=True)
    goal: str
    # Task / dataset name, e.g. "sciq".
    task: str = Field(default="", max_length=200)
    # Weak → strong model pair, e.g. "gpt2→qwen2.5-0.5b".
    pair: str = Field(default="", max_length=200)
    # The research policy that drives the agent.
    policy: str = Field(default="", max_length=200)
    # How the agent sees results: e.g. "full" | "val-only" | "blind".
    feedback_mode: str = Field(default="", max_length=40)
    # Limits per budget kind, e.g. {"usd": 5.0, "device_seconds": 3600}.
    budget_limits: dict[str, float] = Field(default_factory=dict, sa_type=JSON)


class StudyCreate(StudyBase):
    """Input for `create_study`."""


class Study(StudyBase, table=True):
    """A research study: one goal pursued by many hypotheses and experiments."""

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=StudyStatus.RUNNING, max_length=20)
    # Why it ended or stopped: "budget: deadline", "stopped by the user (Ctrl-C)", "InfraError: …".
    stop_reason: str | None = None
    # Last experiment number handed out; bumped atomically by `create_experiment`.
    experiment_counter: int = 0
    report_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)
    created_at: datetime = _time()
    updated_at: datetime = _time()
    finished_at: datetime | None = _time(nullable=True)
    # Written every HEARTBEAT_S by the process running the study.
    heartbeat_at: datetime | None = _time(nullable=True)
    # Set by `aar stop`; the study loop stops after the running job when it sees it.
    stop_requested_at: datetime | None = _time(nullable=True)
    # `host:pid` of the process running it: a dead pid on this host means resumable at once.
    worker: str | None = Field(default=None, max_length=200)


class StudyPublic(StudyBase):
    """A study as the views show it: a `running` study whose heartbeat is stale reads `interrupted`."""

    id: int
    status: str
    stop_reason: str | None = None
    experiment_counter: int
    report_sha256: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime | None = None
    stop_requested_at: datetime | None = None

    @model_validator(mode="after")
    def _dead_host_is_interrupted(self) -> StudyPublic:
        """The row still says running, but nobody has beaten its heartbeat for minutes: its host died."""
        if self.status == StudyStatus.RUNNING and heartbeat_stale(self.heartbeat_at):
            self.status = StudyStatus.INTERRUPTED
            self.stop_reason = stale_reason(self.heartbeat_at)
        return self


def stale_reason(heartbeat_at: datetime | None) -> str:
    """The stop reason of a study whose host stopped beating."""
    if heartbeat_at is None:
        return "interrupted: no heartbeat (its process died)"
    return f"interrupted: no heartbeat since {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (its process died)"


# ---------------------------------------------------------------- Hypothesis


class HypothesisBase(SQLModel):
    """A claim the agent wants to test, possibly refining a parent hypothesis."""

    parent_id: int | None = Field(default=None, foreign_key="hypothesis.id", index=True)
    text: str
    rationale: str = ""
    expected_effect: str = ""


class HypothesisCreate(HypothesisBase):
    """Input for `create_hypothesis`."""


class Hypothesis(HypothesisBase, table=True):
    """A node of the study's hypothesis tree."""

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    status: str = Field(default=HypothesisStatus.PROPOSED, max_length=20)
    finding: str | None = None
    created_at: datetime = _time()
    updated_at: datetime = _time()


class HypothesisPublic(HypothesisBase):
    """A hypothesis as the views show it."""

    id: int
    study_id: int
    status: str
    finding: str | None
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- Experiment


class ExperimentBase(SQLModel):
    """What to run: a template, a method (code artifact), a config and a seed."""

    hypothesis_id: int | None = Field(default=None, foreign_key="hypothesis.id", index=True)
    template: str = Field(max_length=200)
    method_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    seed: int = 0
    # docker | bwrap | local
    sandbox_kind: str = Field(default="", max_length=20)
    devices: list[str] = Field(default_factory=list, sa_type=JSON)


class ExperimentCreate(ExperimentBase):
    """Input for `create_experiment`."""


class Experiment(ExperimentBase, table=True):
    """One run of a method; `number` counts experiments within the study from 1."""

    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_experiment_study_number"),
        Index("ix_experiment_study_status", "study_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id")
    number: int
    status: str = Field(default=ExperimentStatus.QUEUED, max_length=20)
    # Runs started so far; an interrupted run is requeued and runs again.
    attempt: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Who is running it (host:pid), so a reopened study can tell its own orphans.
    worker: str | None = Field(default=None, max_length=200)
    queued_at: datetime = _time()
    started_at: datetime | None = _time(nullable=True)
    finished_at: datetime | None = _time(nullable=True)
    device_seconds: float | None = None
    error: str | None = None
    log_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)
    output_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)


class ExperimentPublic(ExperimentBase):
    """An experiment as the views show it."""

    id: int
    study_id: int
    number: int
    status: str
    attempt: int
    worker: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    device_seconds: float | None
    error: str | None
    log_sha256: str | None
    output_sha256: str | None


# ---------------------------------------------------------------- results


class CurvePointBase(SQLModel):
    """One point of a learning curve."""

    step: int
    # train | val | test
    split: str = Field(max_length=20)
    accuracy: float | None = None
    auroc: float | None = None
    pgr: float | None = None


class CurvePoint(CurvePointBase, table=True):
    """A learning-curve point of an experiment."""

    __tablename__ = "curve_point"
    __table_args__ = (Index("ix_curve_point_experiment_split_step", "experiment_id", "split", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id")


class ScoreBase(SQLModel):
    """A final metric of an experiment, with its confidence interval when known."""

    split: str = Field(max_length=20)
    # pgr | accuracy | auroc | weak_accuracy | strong_ceiling | …
    metric: str = Field(max_length=60)
    value: float
    ci_low: float | None = None
    ci_high: float | None = None


class Score(ScoreBase, table=True):
    """A final metric; one per (experiment, split, metric), so nothing is counted twice."""

    # The unique index also serves the joins from experiments; an index on (metric, split) alone tempts
    # PostgreSQL into nested-loop scans of every study's scores while its statistics are stale.
    __table_args__ = (
        UniqueConstraint("experiment_id", "split", "metric", name="uq_score_experiment_split_metric"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id")


# ---------------------------------------------------------------- ledgers


class LLMCallBase(SQLModel):
    """One call to a language model; prompt and response live in artifacts."""

    # The agent graph node that made the call.
    node: str = Field(max_length=100)
    provider: str = Field(max_length=60)
    model: str = Field(max_length=200)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    prompt_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)
    response_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)
    error: str | None = None


class LLMCallCreate(LLMCallBase):
    """Input for `record_llm_call`."""


class StudyLogRow(SQLModel):
    """The columns of a row in one of a study's append-only logs: its id, its study (indexed) and when."""

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    created_at: datetime = _time()


class LLMCall(StudyLogRow, LLMCallBase, table=True):
    """A recorded LLM call."""

    __tablename__ = "llm_call"


class AgentEventBase(SQLModel):
    """One step of the research agent, for `aar log` and the dashboard's agent log."""

    # The graph node (plan, propose, implement, audit, run, evaluate, analyze, decide, report).
    node: str = Field(max_length=40)
    message: str
    hypothesis_id: int | None = Field(default=None, foreign_key="hypothesis.id")
    experiment_id: int | None = Field(default=None, foreign_key="experiment.id")
    cost_usd: float = 0.0
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AgentEvent(StudyLogRow, AgentEventBase, table=True):
    """A recorded agent step."""

    __tablename__ = "agent_event"


class AuditStage(StrEnum):
    """Where the audit rejected a method."""

    STATIC = "static"
    SMOKE = "smoke"


class AuditFindingBase(SQLModel):
    """One rejection of agent-written method code by the audit (the static rules or the smoke run)."""

    hypothesis_id: int | None = Field(default=None, foreign_key="hypothesis.id", index=True)
    # The implement attempt (1, 2, …) whose code was rejected.
    attempt: int = 0
    # static | smoke
    stage: str = Field(max_length=20)
    # One line per problem, as the agent was shown them.
    problems: list[str] = Field(default_factory=list, sa_type=JSON)
    # The rejected code, as a `code` artifact.
    code_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)


class AuditFindingCreate(AuditFindingBase):
    """Input for `record_audit_finding`."""


class AuditFinding(StudyLogRow, AuditFindingBase, table=True):
    """A recorded audit rejection; the report and dashboard show them as flags."""

    __tablename__ = "audit_finding"


class BudgetCharge(SQLModel, table=True):
    """One entry of a study's budget ledger; a `key` makes a charge idempotent."""

    __tablename__ = "budget_charge"
    __table_args__ = (
        UniqueConstraint("study_id", "key", name="uq_budget_charge_study_key"),
        Index("ix_budget_charge_study_created", "study_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id")
    # usd | device_seconds | tokens | experiments | …
    kind: str = Field(max_length=40)
    amount: float
    what_for: str = ""
    key: str | None = Field(default=None, max_length=200)
    experiment_id: int | None = Field(default=None, foreign_key="experiment.id")
    llm_call_id: int | None = Field(default=None, foreign_key="llm_call.id")
    created_at: datetime = _time()


class Baseline(SQLModel, table=True):
    """A cached baseline (weak labels, a ceiling), keyed by the hash of what produced it."""

    key: str = Field(primary_key=True, max_length=64)
    # weak_labels | strong_ceiling | weak_floor | …
    kind: str = Field(max_length=40)
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    metrics: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    artifact_sha256: str | None = Field(default=None, foreign_key="artifact.sha256", max_length=64)
    created_at: datetime = _time()


class ResearchFindingBase(SQLModel):
    """One entry of the findings board: what a researcher tried, whether it helped (Δ dev PGR vs naive,
    with its CI), and on which gap (weak and ceiling dev accuracy). Numbers and names only: never a job's
    output, never a hypothesis's free text. A new study on the same task and pair reads them as priors."""

    hypothesis_id: int | None = Field(default=None, foreign_key="hypothesis.id", index=True)
    # The experiment whose result this is; a duplicate shares the experiment it duplicated.
    experiment_id: int | None = Field(default=None, foreign_key="experiment.id", index=True)
    researcher: str = Field(default="", max_length=40)
    task_fingerprint: str = Field(default="", max_length=64)
    pair: str = Field(default="", max_length=200)
    feedback: str = Field(default="dev", max_length=20)
    method: str = Field(default="", max_length=200)  # the library method it starts from
    code_sha256: str = Field(default="", max_length=64)
    hparams: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="", max_length=20)
    delta: float | None = None
    delta_lo: float | None = None
    delta_hi: float | None = None
    verdict: str = Field(default="", max_length=60)
    # Δ as the study's researcher saw it (released, noisy, rounded dev scores; None in blind mode): the
    # only number priors carry, so a later study learns nothing of dev labels that this one did not show.
    shown_delta: float | None = None
    weak_acc: float | None = None
    ceiling_acc: float | None = None
    duplicate: bool = False


class ResearchFindingCreate(ResearchFindingBase):
    """Input for `record_finding`."""


class ResearchFinding(StudyLogRow, ResearchFindingBase, table=True):
    """A row of the study's findings board (`aar.store.findings`)."""

    __tablename__ = "research_finding"
    __table_args__ = (Index("ix_research_finding_task_pair", "task_fingerprint", "pair"),)


STORE_TABLES = (
    "artifact",
    "agent_event",
    "study",
    "hypothesis",
    "experiment",
    "curve_point",
    "score",
    "llm_call",
    "budget_charge",
    "baseline",
    "audit_finding",
    "research_finding",
    "artifact_blob",
)


# ---------------------------------------------------------------- ArtifactBlob


class ArtifactBlob(SQLModel, table=True):
    """One chunk of an artifact's bytes kept in the database (`AAR_ARTIFACTS=db`, aar.store.artifacts).

    A blob is its chunks `seq` 0, 1, … of at most 1 MiB each (before compression), all written in one
    transaction, so a blob whose chunk 0 is visible is whole. No foreign key: the bytes are written
    before their `Artifact` row, never after.
    """

    __tablename__ = "artifact_blob"

    sha256: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    # zlib | raw (stored as is when zlib does not make the chunk smaller)
    encoding: str = Field(max_length=8)
    data: bytes
