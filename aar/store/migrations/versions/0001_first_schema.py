"""First schema: studies, hypotheses, experiments, results, artifacts, ledgers, cached baselines."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0001"
down_revision = None


def _created() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _sha(name: str) -> sa.Column[object]:
    return sa.Column(name, Str(length=64), sa.ForeignKey("artifact.sha256"), nullable=True)


def upgrade() -> None:
    op.create_table(
        "artifact",
        sa.Column("sha256", Str(length=64), primary_key=True),
        sa.Column("kind", Str(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", Str(length=100), nullable=False),
        _created(),
    )
    op.create_table(
        "baseline",
        sa.Column("key", Str(length=64), primary_key=True),
        sa.Column("kind", Str(length=40), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        _sha("artifact_sha256"),
        _created(),
    )
    op.create_table(
        "study",
        sa.Column("name", Str(length=200), nullable=False, unique=True),
        sa.Column("goal", Str(), nullable=False),
        sa.Column("task", Str(length=200), nullable=False),
        sa.Column("pair", Str(length=200), nullable=False),
        sa.Column("policy", Str(length=200), nullable=False),
        sa.Column("feedback_mode", Str(length=40), nullable=False),
        sa.Column("budget_limits", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("experiment_counter", sa.Integer(), nullable=False),
        _sha("report_sha256"),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "hypothesis",
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("hypothesis.id"), nullable=True, index=True),
        sa.Column("text", Str(), nullable=False),
        sa.Column("rationale", Str(), nullable=False),
        sa.Column("expected_effect", Str(), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False, index=True),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("finding", Str(), nullable=True),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "llm_call",
        sa.Column("node", Str(length=100), nullable=False),
        sa.Column("provider", Str(length=60), nullable=False),
        sa.Column("model", Str(length=200), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=False),
        _sha("prompt_sha256"),
        _sha("response_sha256"),
        sa.Column("error", Str(), nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False, index=True),
        _created(),
    )
    op.create_table(
        "experiment",
        sa.Column("hypothesis_id", sa.Integer(), sa.ForeignKey("hypothesis.id"), nullable=True, index=True),
        sa.Column("template", Str(length=200), nullable=False),
        _sha("method_sha256"),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("sandbox_kind", Str(length=20), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_seconds", sa.Float(), nullable=True),
        sa.Column("error", Str(), nullable=True),
        _sha("log_sha256"),
        _sha("output_sha256"),
        sa.UniqueConstraint("study_id", "number", name="uq_experiment_study_number"),
    )
    op.create_table(
        "budget_charge",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("kind", Str(length=40), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("what_for", Str(), nullable=False),
        sa.Column("key", Str(length=200), nullable=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiment.id"), nullable=True),
        sa.Column("llm_call_id", sa.Integer(), sa.ForeignKey("llm_call.id"), nullable=True),
        _created(),
        sa.UniqueConstraint("study_id", "key", name="uq_budget_charge_study_key"),
    )
    op.create_table(
        "curve_point",
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("split", Str(length=20), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("auroc", sa.Float(), nullable=True),
        sa.Column("pgr", sa.Float(), nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiment.id"), nullable=False),
    )
    op.create_table(
        "score",
        sa.Column("split", Str(length=20), nullable=False),
        sa.Column("metric", Str(length=60), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiment.id"), nullable=False),
        sa.UniqueConstraint("experiment_id", "split", "metric", name="uq_score_experiment_split_metric"),
    )


def downgrade() -> None:
    for table in ("score", "curve_point", "budget_charge", "experiment", "llm_call", "hypothesis"):
        op.drop_table(table)
    for table in ("study", "baseline", "artifact"):
        op.drop_table(table)
