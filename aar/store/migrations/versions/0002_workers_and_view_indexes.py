"""Worker and attempt on experiments (for crash recovery); indexes for the view queries."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0002"
down_revision = "0001"

_INDEXES = (
    ("ix_experiment_study_status", "experiment", ["study_id", "status"]),
    ("ix_curve_point_experiment_split_step", "curve_point", ["experiment_id", "split", "step"]),
    ("ix_budget_charge_study_created", "budget_charge", ["study_id", "created_at"]),
)


def upgrade() -> None:
    op.add_column("experiment", sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))
    op.add_column("experiment", sa.Column("worker", Str(length=200), nullable=True))
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in _INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("experiment") as batch:
        batch.drop_column("worker")
        batch.drop_column("attempt")
