"""Schema migrations: Alembic revisions shipped as package data, applied on open.

No `alembic.ini` is needed: the configuration is built here around an open connection. A store whose
revision this aar does not know was written by a newer aar and is refused before anything is written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from aar.errors import UserError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every aar process sharing a server.
_PG_LOCK_ID = 0x6161725F73746F72


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged revisions, bound to `connection` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this aar knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the store has no migrations"
    return head


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revisions a database is at; empty for a fresh database."""
    return tuple(MigrationContext.configure(connection).get_current_heads())


def check_known(connection: Connection, *, where: str) -> tuple[str, ...]:
    """Refuse a store written by a newer aar; return its current revisions."""
    current = current_revisions(connection)
    scripts = ScriptDirectory.from_config(alembic_config())
    known = {script.revision for script in scripts.walk_revisions()}
    unknown = [revision for revision in current if revision not in known]
    if unknown:
        raise UserError(
            f"the store at {where} has schema revision {unknown[0]}, newer than this aar knows "
            f"(newest {head_revision()}); upgrade aar to open it"
        )
    return current


def upgrade(engine: Engine, *, where: str, revision: str = "head") -> None:
    """Bring the schema up to `revision` in one transaction; a no-op when it is already there."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers may open a fresh database at once; one migrates, the others wait.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        current = check_known(connection, where=where)
        target = head_revision() if revision == "head" else revision
        if current == (target,):
            return
        log.info("upgrading the store at %s from %s to %s", where, current or "empty", target)
        command.upgrade(alembic_config(connection), revision)
