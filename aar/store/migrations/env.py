"""Alembic environment: always driven from `aar.store.migrate` with an open connection."""

from __future__ import annotations

from alembic import context

from aar.store import models

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=models.SQLModel.metadata,
    # SQLite alters tables by copying them; batch mode does that for us.
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=lambda name, type_, _parent: type_ != "table" or name in models.STORE_TABLES,
)
with context.begin_transaction():
    context.run_migrations()
