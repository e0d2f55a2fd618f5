"""The findings board (`research_finding`): what each researcher tried, what helped, on which gap.

Parallel researchers (`aar run --researchers N`) share it within a study; a later study on the same task
fingerprint and model pair reads it as priors (aar.store.findings).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "research_finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("hypothesis_id", sa.Integer(), sa.ForeignKey("hypothesis.id"), nullable=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiment.id"), nullable=True),
        sa.Column("researcher", Str(length=40), nullable=False),
        sa.Column("task_fingerprint", Str(length=64), nullable=False),
        sa.Column("pair", Str(length=200), nullable=False),
        sa.Column("feedback", Str(length=20), nullable=False),
        sa.Column("method", Str(length=200), nullable=False),
        sa.Column("code_sha256", Str(length=64), nullable=False),
        sa.Column("hparams", sa.JSON(), nullable=False),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("delta", sa.Float(), nullable=True),
        sa.Column("delta_lo", sa.Float(), nullable=True),
        sa.Column("delta_hi", sa.Float(), nullable=True),
        sa.Column("verdict", Str(length=60), nullable=False),
        sa.Column("shown_delta", sa.Float(), nullable=True),
        sa.Column("weak_acc", sa.Float(), nullable=True),
        sa.Column("ceiling_acc", sa.Float(), nullable=True),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_research_finding_study_id", "research_finding", ["study_id"])
    op.create_index("ix_research_finding_hypothesis_id", "research_finding", ["hypothesis_id"])
    op.create_index("ix_research_finding_experiment_id", "research_finding", ["experiment_id"])
    op.create_index("ix_research_finding_task_pair", "research_finding", ["task_fingerprint", "pair"])


def downgrade() -> None:
    for name in ("task_pair", "experiment_id", "hypothesis_id", "study_id"):
        op.drop_index(f"ix_research_finding_{name}", table_name="research_finding")
    op.drop_table("research_finding")
