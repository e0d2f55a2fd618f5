"""The process running a study (`host:pid`), so a study whose process died on this host resumes at once.

Without it a study killed with SIGKILL (or by the OOM killer, or a crashed terminal) read as running until
its heartbeat went stale (minutes), and `aar resume` refused it in the meantime.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("worker", Str(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.drop_column("worker")
