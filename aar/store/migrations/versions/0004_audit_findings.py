"""Audit rejections (`audit_finding`): every static or smoke rejection of agent-written code."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "audit_finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("hypothesis_id", sa.Integer(), sa.ForeignKey("hypothesis.id"), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("stage", Str(length=20), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("code_sha256", Str(length=64), sa.ForeignKey("artifact.sha256"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_finding_study_id", "audit_finding", ["study_id"])
    op.create_index("ix_audit_finding_hypothesis_id", "audit_finding", ["hypothesis_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_finding_hypothesis_id", table_name="audit_finding")
    op.drop_index("ix_audit_finding_study_id", table_name="audit_finding")
    op.drop_table("audit_finding")
