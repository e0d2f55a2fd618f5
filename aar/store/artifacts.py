"""Content-addressed artifacts (code, logs, predictions, prompts, reports), named by their SHA-256.

Where new bytes go is `AAR_ARTIFACTS` (`open_artifacts`):

- `db` (the default): in the store's own database, table `artifact_blob` (1 MiB chunks, zlib), so every
  host that reaches the database reads them: a dashboard on another machine, the compose `web` service;
- `files`: under the results folder as `artifacts/ab/cdef…`, written atomically (the layout of aar
  before migration 0007);
- `s3://bucket/prefix`: objects in an S3-compatible store (`aar.store.s3_blobs`).

Reads look in the configured place first, then in the others this store knows (the results folder's
files, the database), so studies written before a switch still show everything; `aar store pack`
copies file blobs into the configured place. The `Artifact` row records what a blob is. Bytes are
written before their row (in the database: in the row's own transaction), so a row never points at
missing bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from aar.errors import UserError
from aar.store.models import Artifact, ArtifactBlob

CHUNK = 1 << 20  # bytes of a blob per `artifact_blob` row, before compression
ZLIB_LEVEL = 1  # twice as fast as the default 6 on logs and code, for a few % more bytes (bench/store)
_HEX = frozenset("0123456789abcdef")
_BLOBS = cast(Table, ArtifactBlob.__table__)  # type: ignore[attr-defined]


class ArtifactMissingError(UserError):
    """An artifact's row exists but its bytes do not (e.g. a study imported without its files)."""


class ArtifactCorruptError(UserError):
    """Stored bytes do not match the hash they are stored under."""


def check_sha256(sha256: str) -> str:
    """`sha256` if it is a lowercase SHA-256 hex digest (it becomes a path or a key), else `UserError`."""
    if len(sha256) != 64 or not _HEX.issuperset(sha256):
        raise UserError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class Blobs(Protocol):
    """One place blobs live. `session` is the caller's transaction; places outside the database ignore it."""

    where: str  # for messages: "/results/artifacts", "the database", "s3://bucket/prefix"

    def has(self, sha256: str, session: Session | None) -> bool:
        """Whether the blob is stored here."""
        ...

    def put(self, sha256: str, data: bytes, session: Session | None) -> None:
        """Store `data` (whose hash is `sha256`) all at once: a reader never sees part of it."""
        ...

    def get(self, sha256: str, session: Session | None) -> bytes | None:
        """The blob's bytes, or None when it is not stored here."""
        ...


class FileBlobs:
    """Blobs as read-only files `root/ab/cdef…`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def path(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        sha256 = check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def has(self, sha256: str, session: Session | None) -> bool:
        return self.path(sha256).exists()

    def put(self, sha256: str, data: bytes, session: Session | None) -> None:
        """Write to a temporary file in the same folder, fsync, then rename over the target."""
        target = self.path(sha256)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except PermissionError as exc:
            raise UserError(f"cannot write artifacts to {self.root}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, sha256: str, session: Session | None) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def hashes(self) -> Iterator[str]:
        """The hashes of the blobs under the root, in order (temporary and foreign files skipped)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if len(folder.name) == 2 and folder.is_dir():
                for file in sorted(folder.iterdir()):
                    sha256 = folder.name + file.name
                    if len(sha256) == 64 and _HEX.issuperset(sha256):
                        yield sha256


class DatabaseBlobs:
    """Blobs in the store's database (`artifact_blob`): 1 MiB chunks, each zlib-compressed when that helps.

    All chunks of a blob go in one transaction, the caller's when a session is given (so the blob
    and its `Artifact` row commit together); concurrent writers of the same bytes insert nothing twice.
    """

    where = "the database"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _connection(self, session: Session | None) -> Iterator[Connection]:
        if session is not None:
            yield session.connection()
        else:
            with self.engine.begin() as connection:
                yield connection

    def has(self, sha256: str, session: Session | None) -> bool:
        first = select(_BLOBS.c.seq).where(_BLOBS.c.sha256 == sha256, _BLOBS.c.seq == 0)
        with self._connection(session) as connection:
            return connection.execute(first).first() is not None

    def put(self, sha256: str, data: bytes, session: Session | None) -> None:
        rows = [_chunk_row(sha256, seq, data[start : start + CHUNK]) for seq, start in _starts(len(data))]
        with self._connection(session) as connection:
            insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
            statement = insert(_BLOBS).on_conflict_do_nothing(index_elements=["sha256", "seq"])
            connection.execute(statement, rows)

    def get(self, sha256: str, session: Session | None) -> bytes | None:
        query = select(_BLOBS.c.seq, _BLOBS.c.encoding, _BLOBS.c.data).where(_BLOBS.c.sha256 == sha256)
        with self._connection(session) as connection:
            chunks = connection.execute(query.order_by(_BLOBS.c.seq)).all()
        if not chunks:
            return None
        if [chunk.seq for chunk in chunks] != list(range(len(chunks))):
            raise ArtifactCorruptError(f"artifact {sha256} in the database lacks chunks")
        data = b"".join(_decode(sha256, chunk.encoding, chunk.data) for chunk in chunks)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactCorruptError(f"artifact {sha256} in the database does not match its hash")
        return data


def _starts(size: int) -> Iterator[tuple[int, int]]:
    """(seq, offset) of each chunk; an empty blob is one empty chunk."""
    return enumerate(range(0, max(size, 1), CHUNK))


def _chunk_row(sha256: str, seq: int, chunk: bytes) -> dict[str, Any]:
    packed = zlib.compress(chunk, ZLIB_LEVEL)
    if len(packed) < len(chunk):
        return {"sha256": sha256, "seq": seq, "encoding": "zlib", "data": packed}
    return {"sha256": sha256, "seq": seq, "encoding": "raw", "data": chunk}


def _decode(sha256: str, encoding: str, data: bytes) -> bytes:
    if encoding == "raw":
        return bytes(data)
    if encoding == "zlib":
        try:
            return zlib.decompress(data)
        except zlib.error:
            raise ArtifactCorruptError(f"artifact {sha256} in the database is damaged") from None
    raise ArtifactCorruptError(f"artifact {sha256} in the database has an unknown encoding {encoding!r}")


class ArtifactStore:
    """Immutable blobs named by their SHA-256: written to one place, read from every place it knows."""

    def __init__(self, root: Path, *, backend: Blobs | None = None, engine: Engine | None = None) -> None:
        """Blobs written to `backend` (default: files under `root`), read from it, then from the files
        under `root`, then from `engine`'s database when one is given."""
        self.root = root
        self.files = FileBlobs(root)
        self.backend: Blobs = backend or self.files
        others: list[Blobs] = [self.files, *([DatabaseBlobs(engine)] if engine is not None else [])]
        self.readers: list[Blobs] = [self.backend, *(b for b in others if b.where != self.backend.where)]

    def path(self, sha256: str) -> Path:
        """Where the blob with this hash lives as a file under the results folder (whether or not it
        exists; with `AAR_ARTIFACTS=db` new blobs are not written there)."""
        return self.files.path(sha256)

    def write(self, data: bytes, *, session: Session | None = None) -> str:
        """Store `data` and return its hash; storing the same bytes twice writes once."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.backend.has(sha256, session):
            self.backend.put(sha256, data, session)
        return sha256

    def read(self, sha256: str, *, session: Session | None = None) -> bytes:
        """The bytes of a stored blob, from the first place that has it."""
        check_sha256(sha256)
        for blobs in self.readers:
            data = blobs.get(sha256, session)
            if data is not None:
                return data
        where = " or ".join(blobs.where for blobs in self.readers)
        raise ArtifactMissingError(f"artifact {sha256} is not in {where}")


def open_artifacts(place: str, *, root: Path, engine: Engine, s3_endpoint_url: str = "") -> ArtifactStore:
    """The artifact store `AAR_ARTIFACTS` names: `db`, `files` or `s3://bucket/prefix`."""
    if place == "db":
        return ArtifactStore(root, backend=DatabaseBlobs(engine), engine=engine)
    if place == "files":
        return ArtifactStore(root, engine=engine)
    if place.startswith("s3://"):
        try:
            from aar.store.s3_blobs import S3Blobs  # boto3 is imported only when S3 is configured
        except ModuleNotFoundError as error:
            if error.name not in ("boto3", "botocore"):
                raise
            raise UserError("AAR_ARTIFACTS=s3://… needs boto3: pip install 'aar[s3]'") from None
        return ArtifactStore(root, backend=S3Blobs(place, endpoint_url=s3_endpoint_url), engine=engine)
    raise UserError(f"AAR_ARTIFACTS={place!r}: use db, files or s3://bucket/prefix")


class PackCounts(NamedTuple):
    """What `pack_files` did: blobs copied, blobs already there, files whose bytes do not match their name."""

    copied: int
    present: int
    corrupt: list[str]


def pack_files(
    artifacts: ArtifactStore, *, transaction: Callable[[], AbstractContextManager[Session]]
) -> PackCounts:
    """Copy every blob under the results folder's `artifacts/` into the configured place (one
    transaction per blob, so an interrupted pack keeps what it copied); the files are left alone."""
    if artifacts.backend is artifacts.files:
        raise UserError(
            "AAR_ARTIFACTS=files: artifacts are already files; set AAR_ARTIFACTS=db (or s3://…) to pack"
        )
    copied, present, corrupt = 0, 0, []
    for sha256 in artifacts.files.hashes():
        data = artifacts.files.get(sha256, None)
        if data is None or hashlib.sha256(data).hexdigest() != sha256:
            corrupt.append(sha256)
            continue
        with transaction() as session:
            if artifacts.backend.has(sha256, session):
                present += 1
                continue
            artifacts.backend.put(sha256, data, session)
            copied += 1
    return PackCounts(copied=copied, present=present, corrupt=corrupt)


def register_artifact(*, session: Session, sha256: str, kind: str, size: int, media_type: str) -> None:
    """Record an artifact row unless one with this hash exists (safe under concurrent writers)."""
    values = {"sha256": sha256, "kind": kind, "size": size, "media_type": media_type}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.exec(insert(Artifact).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))


def put_artifact(
    *, session: Session, artifacts: ArtifactStore, data: bytes, kind: str, media_type: str
) -> str:
    """Write `data` to the artifact store (in `session`'s transaction when it is the database), record
    its row, and return its SHA-256."""
    sha256 = artifacts.write(data, session=session)
    register_artifact(session=session, sha256=sha256, kind=kind, size=len(data), media_type=media_type)
    return sha256


def get_artifact(*, session: Session, artifacts: ArtifactStore, sha256: str) -> bytes:
    """The bytes of a recorded artifact; unknown hashes raise `ArtifactMissingError`."""
    if session.get(Artifact, sha256) is None:
        raise ArtifactMissingError(f"no artifact {sha256} in this store")
    return artifacts.read(sha256, session=session)
