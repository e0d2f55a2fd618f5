"""The study lifecycle: running → finished | stopped | failed | interrupted, with a stop reason and a heartbeat.

Old rows: `active` never meant live (a Ctrl-C, a crash or SIGTERM left studies `active`), so an `active`
study becomes `interrupted` (it has no heartbeat, so it cannot be running), or `finished` when it has a
report; `stopped` meant "ended on a budget" and becomes `finished` with that reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("stop_reason", Str(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stop_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE study SET status = 'finished', stop_reason = 'ended (before stop reasons were recorded)'"
        " WHERE status = 'active' AND report_sha256 IS NOT NULL"
    )
    op.execute(
        "UPDATE study SET status = 'interrupted',"
        " stop_reason = 'interrupted: left active by an older aar (Ctrl-C, crash or kill)'"
        " WHERE status = 'active'"
    )
    op.execute("UPDATE study SET status = 'finished', stop_reason = 'budget' WHERE status = 'stopped'")


def downgrade() -> None:
    op.execute("UPDATE study SET status = 'stopped' WHERE status = 'finished' AND stop_reason LIKE 'budget%'")
    op.execute("UPDATE study SET status = 'active' WHERE status IN ('running', 'interrupted')")
    op.execute("UPDATE study SET status = 'stopped' WHERE status = 'failed'")
    with op.batch_alter_table("study") as batch:
        batch.drop_column("stop_requested_at")
        batch.drop_column("heartbeat_at")
        batch.drop_column("stop_reason")
