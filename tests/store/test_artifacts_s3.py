"""AAR_ARTIFACTS=s3://bucket/prefix against a real S3 server: moto's standalone server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlmodel import select

from aar.config import Settings
from aar.errors import UserError
from aar.store import Artifact, ArtifactMissingError, Store, open_store
from aar.store.artifacts import ArtifactCorruptError, pack_files
from aar.store.models import ArtifactBlob

from .conftest import run_aar

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, started for this module on a free local port."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """A fresh bucket on the server, and a client to look into it."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    name = f"aar-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    return name, client


def _open(url: str, results: Path, place: str, endpoint: str) -> Store:
    return open_store(Settings(artifacts=place, s3_endpoint_url=endpoint), url=url, results_dir=results)


def _keys(client: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_write_read_dedupe(db_url: str, tmp_path: Path, s3_endpoint: str, bucket: tuple[str, Any]) -> None:
    name, client = bucket
    store = _open(db_url, tmp_path / "results", f"s3://{name}/team/runs", s3_endpoint)
    try:
        data = b"def method(): ...\n"
        sha = store.put_artifact(data, kind="code", media_type="text/x-python")
        assert store.put_artifact(data, kind="code") == sha == hashlib.sha256(data).hexdigest()
        assert _keys(client, name) == [f"team/runs/{sha[:2]}/{sha[2:]}"], "one object, files layout"
        assert store.get_artifact(sha) == data
        with store.session() as session:
            assert len(session.exec(select(Artifact)).all()) == 1
            assert session.exec(select(ArtifactBlob)).all() == [], "nothing in the database"
        assert not (tmp_path / "results" / "artifacts").exists(), "nothing on disk"
    finally:
        store.close()


def test_missing_and_altered_objects(tmp_path: Path, s3_endpoint: str, bucket: tuple[str, Any]) -> None:
    name, client = bucket
    store = _open("sqlite://", tmp_path / "results", f"s3://{name}", s3_endpoint)
    try:
        gone, altered = (store.put_artifact(data, kind="log") for data in (b"lost\n", b"kept\n"))
        client.delete_object(Bucket=name, Key=f"{gone[:2]}/{gone[2:]}")
        with pytest.raises(ArtifactMissingError, match=f"is not in s3://{name}"):
            store.get_artifact(gone)
        client.put_object(Bucket=name, Key=f"{altered[:2]}/{altered[2:]}", Body=b"changed\n")
        with pytest.raises(ArtifactCorruptError, match="does not match its hash"):
            store.get_artifact(altered)
    finally:
        store.close()


def test_database_and_file_blobs_still_read_and_pack_into_s3(
    tmp_path: Path, s3_endpoint: str, bucket: tuple[str, Any]
) -> None:
    name, client = bucket
    url, results = f"sqlite:///{tmp_path / 'aar.db'}", tmp_path / "results"
    before = {}
    for place in ("db", "files"):
        store = _open(url, results, place, s3_endpoint)
        before[place] = store.put_artifact(f"written with {place}".encode(), kind="log")
        store.close()
    store = _open(url, results, f"s3://{name}/p", s3_endpoint)
    try:
        assert {place: store.get_artifact(sha) for place, sha in before.items()} == {
            "db": b"written with db",
            "files": b"written with files",
        }
        counts = pack_files(store.artifacts, transaction=store.session)
        assert (counts.copied, counts.present) == (1, 0)
        assert _keys(client, name) == [f"p/{before['files'][:2]}/{before['files'][2:]}"]
    finally:
        store.close()


def test_an_unreachable_store_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    store = _open("sqlite://", tmp_path / "results", "s3://nowhere", f"http://127.0.0.1:{_free_port()}")
    try:
        with pytest.raises(UserError, match="cannot use the artifact store s3://nowhere"):
            store.put_artifact(b"x", kind="log")
    finally:
        store.close()


def test_aar_store_pack_into_s3(tmp_path: Path, s3_endpoint: str, bucket: tuple[str, Any]) -> None:
    name, client = bucket
    env = {"AAR_RESULTS_DIR": str(tmp_path / "results")}
    store = _open(f"sqlite:///{tmp_path / 'results' / 'aar.db'}", tmp_path / "results", "files", s3_endpoint)
    sha = store.put_artifact(b"an old report\n", kind="report")
    store.close()
    packed = run_aar(
        "store",
        "pack",
        env=env | CREDENTIALS | {"AAR_ARTIFACTS": f"s3://{name}", "AAR_S3_ENDPOINT_URL": s3_endpoint},
    )
    assert packed.returncode == 0, packed.stderr
    assert f"copied 1 artifact(s) into s3://{name}" in packed.stdout
    assert _keys(client, name) == [f"{sha[:2]}/{sha[2:]}"]
