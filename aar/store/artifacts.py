"""Content-addressed artifacts on disk: `artifacts/ab/cdef…`, deduplicated, written atomically.

Code, logs, predictions, prompts and reports live here; the database keeps only their hashes
(`Artifact` rows). A file is written before its row, so a row never points at a missing file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from aar.errors import UserError
from aar.store.models import Artifact

_CHUNK = 1 << 20


class ArtifactMissingError(UserError):
    """An artifact's row exists but its file does not (e.g. a study imported without its files)."""


class ArtifactStore:
    """Immutable blobs named by their SHA-256 under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise UserError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def write(self, data: bytes) -> str:
        """Store `data` and return its hash; storing the same bytes twice writes once."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if not target.exists():
            self._write_atomically(target, data)
        return sha256

    def read(self, sha256: str) -> bytes:
        """The bytes of a stored blob."""
        target = self.path(sha256)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise ArtifactMissingError(f"artifact {sha256} is not in {self.root}") from None

    def _write_atomically(self, target: Path, data: bytes) -> None:
        """Write to a temporary file in the same folder, fsync, then rename over the target."""
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


def register_artifact(*, session: Session, sha256: str, kind: str, size: int, media_type: str) -> None:
    """Record an artifact row unless one with this hash exists (safe under concurrent writers)."""
    values = {"sha256": sha256, "kind": kind, "size": size, "media_type": media_type}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.exec(insert(Artifact).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))


def put_artifact(
    *, session: Session, artifacts: ArtifactStore, data: bytes, kind: str, media_type: str
) -> str:
    """Write `data` to the artifact folder, record its row, and return its SHA-256."""
    sha256 = artifacts.write(data)
    register_artifact(session=session, sha256=sha256, kind=kind, size=len(data), media_type=media_type)
    return sha256


def get_artifact(*, session: Session, artifacts: ArtifactStore, sha256: str) -> bytes:
    """The bytes of a recorded artifact; unknown hashes raise `ArtifactMissingError`."""
    if session.get(Artifact, sha256) is None:
        raise ArtifactMissingError(f"no artifact {sha256} in this store")
    return artifacts.read(sha256)
