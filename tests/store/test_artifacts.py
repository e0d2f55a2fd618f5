from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from sqlmodel import select

from aar.errors import UserError
from aar.store import Artifact, ArtifactMissingError, ArtifactStore, Store


def test_layout_and_dedup(store: Store) -> None:
    data = b"print('hello')\n"
    sha = store.put_artifact(data, kind="code", media_type="text/x-python")
    assert sha == hashlib.sha256(data).hexdigest()
    path = store.artifacts.root / sha[:2] / sha[2:]
    assert path.read_bytes() == data
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222, "artifacts are read-only"
    assert store.put_artifact(data, kind="code") == sha
    with store.session() as session:
        (row,) = session.exec(select(Artifact)).all()
    assert (row.kind, row.size, row.media_type) == ("code", len(data), "text/x-python")
    assert store.get_artifact(sha) == data
    assert [p.name for p in path.parent.iterdir()] == [sha[2:]], "no temporary files left"


def test_unknown_and_missing_artifacts(store: Store) -> None:
    with pytest.raises(ArtifactMissingError, match="no artifact"):
        store.get_artifact("0" * 64)
    sha = store.put_artifact(b"x", kind="log")
    (store.artifacts.root / sha[:2] / sha[2:]).unlink()
    with pytest.raises(ArtifactMissingError, match="is not in"):
        store.get_artifact(sha)


def test_bad_hash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="SHA-256"):
        ArtifactStore(tmp_path).path("../../etc/passwd")
