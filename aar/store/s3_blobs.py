"""Artifacts' bytes in an S3-compatible object store: `AAR_ARTIFACTS=s3://bucket/prefix`.

Objects are named `<prefix>/ab/cdef…`, like the files layout. A blob is one PUT (S3 shows an object whole
or not at all), skipped when the object exists, and checked against its hash when read. The endpoint
(MinIO, Ceph, a local test server) is `AAR_S3_ENDPOINT_URL`; credentials come from boto3's usual chain
(`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, `~/.aws`, an instance role). Needs `pip install aar[s3]`.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlmodel import Session

from aar.errors import UserError
from aar.store.artifacts import ArtifactCorruptError, check_sha256

# An unreachable endpoint fails within seconds, not after boto3's default back-off.
_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


class S3Blobs:
    """Blobs as objects `<prefix>/ab/cdef…` in one bucket."""

    def __init__(self, url: str, *, endpoint_url: str = "") -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise UserError(f"AAR_ARTIFACTS={url!r}: expected s3://bucket/prefix")
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None, config=_CONFIG)

    def key(self, sha256: str) -> str:
        """The object key of a blob."""
        sha256 = check_sha256(sha256)
        return "/".join(p for p in (self.prefix, sha256[:2], sha256[2:]) if p)

    def has(self, sha256: str, session: Session | None) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except (BotoCoreError, ClientError) as error:
            if _status(error) == 404:
                return False
            raise self._failure(error) from None
        return True

    def put(self, sha256: str, data: bytes, session: Session | None) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(sha256), Body=data)
        except (BotoCoreError, ClientError) as error:
            raise self._failure(error) from None

    def get(self, sha256: str, session: Session | None) -> bytes | None:
        try:
            data: bytes = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"].read()
        except (BotoCoreError, ClientError) as error:
            if _status(error) == 404:
                return None
            raise self._failure(error) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactCorruptError(f"artifact {sha256} in {self.where} does not match its hash")
        return data

    def _failure(self, error: BotoCoreError | ClientError) -> UserError:
        """An unreachable endpoint, missing credentials, a refused request: one line naming the store."""
        return UserError(f"cannot use the artifact store {self.where}: {error}")


def _status(error: BotoCoreError | ClientError) -> int | None:
    """The HTTP status of a refused request (404: no such object); None when none came back."""
    if not isinstance(error, ClientError):
        return None
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None
