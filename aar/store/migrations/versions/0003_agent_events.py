"""The agent's step log (`agent_event`), read by `aar log` and the dashboard."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "agent_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("node", Str(length=40), nullable=False),
        sa.Column("message", Str(), nullable=False),
        sa.Column("hypothesis_id", sa.Integer(), sa.ForeignKey("hypothesis.id"), nullable=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiment.id"), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_event_study_id", "agent_event", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_agent_event_study_id", table_name="agent_event")
    op.drop_table("agent_event")
