"""The results store: every study, hypothesis, experiment, result, artifact, LLM call and budget charge.

SQLite at `<results_dir>/aar.db` by default (WAL, foreign keys on); `AAR_DATABASE_URL` selects
PostgreSQL. Schema migrations are applied when a store is opened. Artifacts live content-addressed
under `<results_dir>/artifacts/`; rows keep their SHA-256.

Typical use by the science core and the agent::

    from aar.store import open_store, StudyCreate, ExperimentCreate, ScoreBase, ExperimentStatus
    from aar.store import create_study, create_experiment, claim_next_experiment, finish_experiment

    store = open_store(settings)                       # or open_store(url="sqlite://", results_dir=tmp)
    with store.session() as session:                   # one transaction: commit on exit
        study = create_study(session=session, study_in=StudyCreate(name="s1", goal="…"))
        create_experiment(session=session, study_id=study.id,
                          experiment_in=ExperimentCreate(template="probe", seed=0))
    code = store.put_artifact(b"def method(): …", kind="code", media_type="text/x-python")
    with store.session() as session:
        run = claim_next_experiment(session=session, study_id=study.id)   # queued → running
    with store.session() as session:
        finish_experiment(session=session, experiment_id=run.id, status=ExperimentStatus.OK,
                          scores=[ScoreBase(split="test", metric="pgr", value=0.4, ci_low=0.3, ci_high=0.5)],
                          device_seconds=12.5)

CRUD functions are keyword-only and take `*, session`; they flush but never commit. A reopened study
calls `recover_interrupted(session=…, study_id=…)` to requeue runs a crash left `running`.
"""

from aar.store.artifacts import ArtifactMissingError, ArtifactStore, get_artifact, put_artifact
from aar.store.crud import (
    NotFoundError,
    create_experiment,
    create_hypothesis,
    create_study,
    find_experiment,
    find_study,
    get_experiment,
    get_hypothesis,
    get_study,
    list_audit_findings,
    list_experiments,
    merge_experiment_config,
    record_audit_finding,
    set_study_status,
    update_hypothesis,
)
from aar.store.engine import Store, open_store
from aar.store.models import (
    AgentEvent,
    AgentEventBase,
    Artifact,
    AuditFinding,
    AuditFindingCreate,
    AuditStage,
    Baseline,
    BudgetCharge,
    CurvePoint,
    CurvePointBase,
    Experiment,
    ExperimentCreate,
    ExperimentPublic,
    ExperimentStatus,
    Hypothesis,
    HypothesisCreate,
    HypothesisPublic,
    HypothesisStatus,
    LLMCall,
    LLMCallCreate,
    Score,
    ScoreBase,
    Study,
    StudyCreate,
    StudyPublic,
    StudyStatus,
)
from aar.store.queries import (
    best_result,
    best_so_far,
    budget_burn,
    experiment_detail,
    hypothesis_tree,
    list_studies,
    status_counts,
    study_summary,
)
from aar.store.records import (
    add_curve_points,
    add_scores,
    baseline_key,
    baseline_seconds,
    budget_used,
    charge_baseline,
    charge_budget,
    get_cached_baseline,
    list_events,
    put_cached_baseline,
    record_event,
    record_llm_call,
)
from aar.store.states import (
    InvalidTransitionError,
    claim_next_experiment,
    finish_experiment,
    recover_interrupted,
    set_experiment_status,
    start_experiment,
)

__all__ = [
    "AgentEvent",
    "AgentEventBase",
    "Artifact",
    "ArtifactMissingError",
    "ArtifactStore",
    "AuditFinding",
    "AuditFindingCreate",
    "AuditStage",
    "Baseline",
    "BudgetCharge",
    "CurvePoint",
    "CurvePointBase",
    "Experiment",
    "ExperimentCreate",
    "ExperimentPublic",
    "ExperimentStatus",
    "Hypothesis",
    "HypothesisCreate",
    "HypothesisPublic",
    "HypothesisStatus",
    "InvalidTransitionError",
    "LLMCall",
    "LLMCallCreate",
    "NotFoundError",
    "Score",
    "ScoreBase",
    "Store",
    "Study",
    "StudyCreate",
    "StudyPublic",
    "StudyStatus",
    "add_curve_points",
    "add_scores",
    "baseline_key",
    "baseline_seconds",
    "best_result",
    "best_so_far",
    "budget_burn",
    "budget_used",
    "charge_baseline",
    "charge_budget",
    "claim_next_experiment",
    "create_experiment",
    "create_hypothesis",
    "create_study",
    "experiment_detail",
    "find_experiment",
    "find_study",
    "finish_experiment",
    "get_artifact",
    "get_cached_baseline",
    "get_experiment",
    "get_hypothesis",
    "get_study",
    "hypothesis_tree",
    "list_audit_findings",
    "list_events",
    "list_experiments",
    "list_studies",
    "merge_experiment_config",
    "open_store",
    "put_artifact",
    "put_cached_baseline",
    "record_audit_finding",
    "record_event",
    "record_llm_call",
    "recover_interrupted",
    "set_experiment_status",
    "set_study_status",
    "start_experiment",
    "status_counts",
    "study_summary",
    "update_hypothesis",
]
