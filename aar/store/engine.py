"""Opening a store: the database engine (SQLite by default, PostgreSQL by URL) and the artifact folder.

`open_store` checks everything that can be wrong before writing anything: a malformed or unreachable
database URL, a read-only results folder, or a store from a newer aar each raise one `UserError`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from aar.config import Settings
from aar.errors import UserError
from aar.store import json_codec, migrate
from aar.store.artifacts import ArtifactStore, get_artifact, open_artifacts, put_artifact

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
PG_CONNECT_TIMEOUT_S = 5


@dataclass
class Store:
    """An open store: the engine, the artifact folder, and a transactional `session()`."""

    engine: Engine
    artifacts: ArtifactStore

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on an error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def put_artifact(self, data: bytes, *, kind: str, media_type: str = "application/octet-stream") -> str:
        """Store bytes as an artifact (bytes and row, in its own transaction); return the SHA-256."""
        with self.session() as session:
            return put_artifact(
                session=session, artifacts=self.artifacts, data=data, kind=kind, media_type=media_type
            )

    def get_artifact(self, sha256: str) -> bytes:
        """The bytes of an artifact recorded in this store."""
        with self.session() as session:
            return get_artifact(session=session, artifacts=self.artifacts, sha256=sha256)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()


def open_store(
    settings: Settings | None = None,
    *,
    url: str | None = None,
    results_dir: Path | None = None,
    upgrade: bool = True,
) -> Store:
    """Open (creating or upgrading as needed) the store that `settings` or `url` names.

    Args:
        settings: Where results live and which database to use; read from the environment if omitted.
        url: A SQLAlchemy URL overriding `settings.database_url` ("sqlite://" is in-memory).
        results_dir: Overrides `settings.results_dir` (the default SQLite file and the artifacts).
        upgrade: Apply pending schema migrations; when False, an out-of-date schema is left alone.

    Raises:
        UserError: The URL is malformed or unreachable, the results folder is read-only, or the
            store was written by a newer aar.
    """
    settings = settings or Settings()
    results_dir = results_dir or settings.results_dir
    url = url or settings.database_url or f"sqlite:///{results_dir / 'aar.db'}"
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        database = Path(parsed.database)
        ensure_writable(database.parent, create=database.parent == results_dir)
        if database.exists() and not os.access(database, os.W_OK):
            raise UserError(f"the store {database} is read-only (check its permissions)")
    engine = make_engine(parsed)
    where = parsed.render_as_string(hide_password=True)
    try:
        check_reachable(engine, where=where)
        if upgrade:
            migrate.upgrade(engine, where=where)
        else:
            with engine.connect() as connection:
                migrate.check_known(connection, where=where)
    except BaseException:
        engine.dispose()
        raise
    artifacts = open_artifacts(
        settings.artifacts,
        root=results_dir / "artifacts",
        engine=engine,
        s3_endpoint_url=settings.s3_endpoint_url,
    )
    return Store(engine=engine, artifacts=artifacts)


def parse_url(url: str) -> URL:
    """Parse a database URL, accepting only SQLite and PostgreSQL."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise UserError(
            f"malformed database URL {url!r} (expected sqlite:///PATH or postgresql://…)"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise UserError(f"unsupported database {backend!r} in {url!r}: use sqlite or postgresql")
    if backend == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver aar installs; SQLAlchemy's default for postgresql:// is psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: URL) -> Engine:
    """An engine for `url`: SQLite with WAL and foreign keys on, or PostgreSQL with a connect timeout.

    Every JSON column goes through `json_codec`, so no NaN or infinity reaches the database.
    """
    json_kwargs: dict[str, Any] = {"json_serializer": json_codec.dumps, "json_deserializer": json_codec.loads}
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S}, **json_kwargs
        )
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every session would see its own empty database.
        kwargs = {"connect_args": {"check_same_thread": False}, "poolclass": StaticPool}
    engine = create_engine(url, **kwargs, **json_kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL survives a killed writer and lets readers run beside it; SQLite leaves foreign keys off."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def check_reachable(engine: Engine, *, where: str) -> None:
    """Connect once, turning a connection failure into one clear line."""
    try:
        with engine.connect():
            pass
    except exc.OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise UserError(f"cannot open the database at {where}: {reason}") from None
    except exc.NoSuchModuleError as error:
        raise UserError(f"no database driver for {where}: {error}") from None


def ensure_writable(folder: Path, *, create: bool) -> None:
    """Refuse a read-only results folder before writing anything; create it when it is ours to make."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"the results folder {folder} is not writable (check its permissions)")
    if existing != folder and not create:
        raise UserError(f"the folder {folder} for the database does not exist")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the results folder {folder}: {error.strerror}") from None
