"""Artifacts' bytes in each place `AAR_ARTIFACTS` names (db, files), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from aar.errors import UserError
from aar.store import Artifact, ArtifactMissingError, ArtifactStore, Store, open_store
from aar.store.artifacts import CHUNK, ArtifactCorruptError, pack_files
from aar.store.migrate import upgrade
from aar.store.models import ArtifactBlob
from aar.store.transfer import export_jsonl, import_study, read_export
from tests.report.seed import seed_study

from .conftest import run_aar
from .factories import drop_bytes

CODE = b"print('hello')\n"


def _open(url: str, results: Path, place: str) -> Store:
    """A store whose artifacts go to `place` (db | files)."""
    os.environ["AAR_ARTIFACTS"] = place
    try:
        return open_store(url=url, results_dir=results)
    finally:
        del os.environ["AAR_ARTIFACTS"]


@pytest.fixture(params=["db", "files"])
def placed(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store on each database with its artifacts in each place."""
    store = _open(db_url, tmp_path / "results", request.param)
    yield store
    store.close()


def _blob_rows(store: Store, sha: str | None = None) -> list[ArtifactBlob]:
    with store.session() as session:
        query = select(ArtifactBlob).order_by(ArtifactBlob.sha256, ArtifactBlob.seq)  # type: ignore[arg-type]
        return [b for b in session.exec(query).all() if sha is None or b.sha256 == sha]


def test_write_read_dedupe(placed: Store) -> None:
    sha = placed.put_artifact(CODE, kind="code", media_type="text/x-python")
    assert sha == hashlib.sha256(CODE).hexdigest()
    assert placed.put_artifact(CODE, kind="code") == sha
    assert placed.get_artifact(sha) == CODE
    with placed.session() as session:
        (row,) = session.exec(select(Artifact)).all()
    assert (row.kind, row.size, row.media_type) == ("code", len(CODE), "text/x-python")
    file = placed.artifacts.path(sha)
    if placed.artifacts.backend is placed.artifacts.files:
        assert file.read_bytes() == CODE
        assert not stat.S_IMODE(file.stat().st_mode) & 0o222, "artifacts are read-only"
        assert [p.name for p in file.parent.iterdir()] == [sha[2:]], "no temporary files left"
        assert _blob_rows(placed) == []
    else:
        assert not placed.artifacts.root.exists(), "db mode writes no file"
        assert [(b.seq, b.sha256) for b in _blob_rows(placed)] == [(0, sha)], "stored once"


def test_unknown_and_missing_artifacts(placed: Store) -> None:
    with pytest.raises(ArtifactMissingError, match="no artifact"):
        placed.get_artifact("0" * 64)
    sha = placed.put_artifact(b"x", kind="log")
    drop_bytes(placed, sha)
    with pytest.raises(ArtifactMissingError, match="is not in"):
        placed.get_artifact(sha)


def test_large_blobs_are_chunked_and_compressed(db_url: str, tmp_path: Path) -> None:
    store = _open(db_url, tmp_path / "results", "db")
    try:
        text_like = b"epoch 1 loss 0.693 acc 0.51\n" * (CHUNK // 10)  # 2.8 MiB, compressible
        noise = os.urandom(CHUNK + 5)  # incompressible: stored raw
        empty = b""
        shas = [store.put_artifact(data, kind="log") for data in (text_like, noise, empty)]
        assert [store.get_artifact(sha) for sha in shas] == [text_like, noise, empty]
        chunks = _blob_rows(store, shas[0])
        assert [c.seq for c in chunks] == [0, 1, 2] and {c.encoding for c in chunks} == {"zlib"}
        assert sum(len(c.data) for c in chunks) < len(text_like) / 20
        assert [(c.seq, c.encoding) for c in _blob_rows(store, shas[1])] == [(0, "raw"), (1, "raw")]
        assert [(c.seq, len(c.data)) for c in _blob_rows(store, shas[2])] == [(0, 0)] or [
            c.seq for c in _blob_rows(store, shas[2])
        ] == [0]
    finally:
        store.close()


def test_damaged_bytes_in_the_database_are_refused(db_url: str, tmp_path: Path) -> None:
    store = _open(db_url, tmp_path / "results", "db")
    try:
        sha = store.put_artifact(b"a" * 3000 + b"b" * 3000, kind="log")
        wrong = b"c" * 6000
        with store.engine.begin() as connection:
            connection.execute(
                text("UPDATE artifact_blob SET encoding = 'raw', data = :d WHERE sha256 = :s"),
                {"d": wrong, "s": sha},
            )
        with pytest.raises(ArtifactCorruptError, match="does not match its hash"):
            store.get_artifact(sha)
    finally:
        store.close()


def test_a_rolled_back_artifact_leaves_neither_row_nor_bytes(db_url: str, tmp_path: Path) -> None:
    store = _open(db_url, tmp_path / "results", "db")
    try:
        with pytest.raises(RuntimeError), store.session() as session:
            from aar.store import put_artifact

            put_artifact(session=session, artifacts=store.artifacts, data=CODE, kind="code", media_type="x")
            raise RuntimeError("the step failed after writing its artifact")
        assert _blob_rows(store) == []
        with store.session() as session:
            assert session.exec(select(func.count()).select_from(Artifact)).one() == 0
    finally:
        store.close()


@pytest.mark.postgres
def test_concurrent_writers_of_the_same_bytes(pg_url: str, tmp_path: Path) -> None:
    """Two transactions storing the same blob at once: the second waits for the first, then adds nothing."""
    store = _open(pg_url, tmp_path / "results", "db")
    data = os.urandom(3 * CHUNK)
    first_wrote, errors = threading.Event(), []

    def second() -> None:
        first_wrote.wait(10)
        try:
            store.put_artifact(data, kind="predictions")
        except Exception as error:  # reported to the main thread
            errors.append(error)

    try:
        worker = threading.Thread(target=second)
        worker.start()
        with store.session() as session:
            from aar.store import put_artifact

            sha = put_artifact(
                session=session, artifacts=store.artifacts, data=data, kind="x", media_type="y"
            )
            first_wrote.set()
            worker.join(1.0)
            assert worker.is_alive(), "the second writer waits for the first transaction"
        worker.join(30)
        assert errors == []
        assert [c.seq for c in _blob_rows(store, sha)] == [0, 1, 2]
        assert store.get_artifact(sha) == data
    finally:
        store.close()


def test_reads_find_blobs_in_the_other_place(shared_db_url: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    files = _open(shared_db_url, results, "files")
    old = files.put_artifact(b"written before the switch", kind="log")
    files.close()
    db = _open(shared_db_url, results, "db")
    new = db.put_artifact(b"written after the switch", kind="log")
    assert db.get_artifact(old) == b"written before the switch"
    db.close()
    back = _open(shared_db_url, results, "files")
    try:
        assert back.get_artifact(new) == b"written after the switch"
        assert back.get_artifact(old) == b"written before the switch"
    finally:
        back.close()


def test_an_0006_store_with_file_blobs_upgrades_and_packs(shared_db_url: str, tmp_path: Path) -> None:
    """A store from before 0007 (bytes as files) reads after the upgrade; `pack` moves them in, so the
    results folder can go."""
    results = tmp_path / "results"
    old_files = ArtifactStore(results / "artifacts")
    from aar.store.engine import make_engine, parse_url

    engine = make_engine(parse_url(shared_db_url))
    upgrade(engine, where="test", revision="0006")
    blobs = [b"def method(): ...\n", os.urandom(CHUNK + 1)]
    with engine.begin() as connection:
        for data in blobs:
            sha = old_files.write(data)
            connection.execute(
                text(
                    "INSERT INTO artifact (sha256, kind, size, media_type, created_at)"
                    " VALUES (:s, 'code', :n, 'text/x-python', '2026-01-01 00:00:00')"
                ),
                {"s": sha, "n": len(data)},
            )
    engine.dispose()
    shas = [hashlib.sha256(data).hexdigest() for data in blobs]
    (results / "artifacts" / "ab").mkdir()
    (results / "artifacts" / "ab" / ("c" * 62)).write_bytes(b"not what its name says")

    store = _open(shared_db_url, results, "db")
    try:
        assert [store.get_artifact(sha) for sha in shas] == blobs
        counts = pack_files(store.artifacts, transaction=store.session)
        assert (counts.copied, counts.present, counts.corrupt) == (2, 0, ["ab" + "c" * 62])
        assert pack_files(store.artifacts, transaction=store.session).present == 2
        shutil.rmtree(results)
        assert [store.get_artifact(sha) for sha in shas] == blobs
    finally:
        store.close()


def test_pack_refuses_files_mode(tmp_path: Path) -> None:
    store = _open("sqlite://", tmp_path / "results", "files")
    try:
        with pytest.raises(UserError, match="already files"):
            pack_files(store.artifacts, transaction=store.session)
    finally:
        store.close()


def test_aar_store_pack(tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {"AAR_RESULTS_DIR": str(results), "AAR_DATABASE_URL": f"sqlite:///{tmp_path / 'aar.db'}"}
    files = _open(env["AAR_DATABASE_URL"], results, "files")
    sha = files.put_artifact(b"an old log\n", kind="log")
    files.close()
    refused = run_aar("store", "pack", env=env | {"AAR_ARTIFACTS": "files"})
    assert refused.returncode == 2 and "already files" in refused.stderr and "Traceback" not in refused.stderr
    packed = run_aar("store", "pack", env=env)  # the default: db
    assert packed.returncode == 0, packed.stderr
    assert "copied 1 artifact(s) into the database" in packed.stdout, packed.stdout
    shutil.rmtree(results)
    store = _open(env["AAR_DATABASE_URL"], tmp_path / "elsewhere", "db")
    try:
        assert store.get_artifact(sha) == b"an old log\n"
    finally:
        store.close()


def test_export_from_files_imports_into_db(tmp_path: Path) -> None:
    """A study whose bytes are files exports with them, and a db-mode store imports them into its database."""
    laptop = _open(f"sqlite:///{tmp_path / 'laptop.db'}", tmp_path / "laptop", "files")
    seed_study(laptop, "moved")
    export = tmp_path / "moved.jsonl"
    with laptop.session() as session, export.open("w") as out:
        export_jsonl(session=session, artifacts=laptop.artifacts, study_id=1, out=out)
        hashes = session.exec(select(Artifact.sha256)).all()
        originals = {sha: laptop.artifacts.read(sha) for sha in hashes}
    laptop.close()
    shutil.rmtree(tmp_path / "laptop")
    team = _open(f"sqlite:///{tmp_path / 'team.db'}", tmp_path / "team", "db")
    try:
        with team.session() as session:
            import_study(session=session, artifacts=team.artifacts, rows=read_export(export))
        assert not (tmp_path / "team").exists(), "db mode writes no file"
        assert {sha: team.get_artifact(sha) for sha in hashes} == originals
    finally:
        team.close()


def test_bad_hash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="SHA-256"):
        ArtifactStore(tmp_path).path("../../etc/passwd")
    with pytest.raises(UserError, match="SHA-256"):
        ArtifactStore(tmp_path).read("../../etc/passwd")


def test_an_unknown_place_is_refused(tmp_path: Path) -> None:
    env = {"AAR_RESULTS_DIR": str(tmp_path), "AAR_ARTIFACTS": "ftp://somewhere"}
    result = run_aar("ls", env=env)
    assert result.returncode == 2 and "artifacts" in result.stderr and "Traceback" not in result.stderr
