"""Artifacts' bytes in the database (`artifact_blob`), so a dashboard on another host shows them.

Until now a study's code, logs and reports lived only as files under its results folder; this table
holds them content-addressed, in chunks, zlib-compressed (aar.store.artifacts, `AAR_ARTIFACTS=db`).
Existing file blobs stay where they are and are still read; `aar store pack` copies them in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "artifact_blob",
        sa.Column("sha256", Str(length=64), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("encoding", Str(length=8), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("artifact_blob")
