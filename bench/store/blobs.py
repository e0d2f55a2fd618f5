"""Artifact throughput: write and read the same blobs with AAR_ARTIFACTS=db and =files.

Blobs like a study's: 200 logs / method files of 64 KiB (text, compressible) and 10 job outputs of
4 MiB (half text, half random bytes). Each blob goes through `Store.put_artifact` (its own transaction,
as the study writes them) and back through `Store.get_artifact`; prints a Markdown table of MB/s.

    python bench/store/blobs.py [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from run import postgres_schema  # bench/store/run.py: this script's folder is on sys.path

from aar.config import Settings
from aar.store import open_store

WORDS = b"epoch step loss acc pgr weak strong ceiling probe lr batch seed dev test".split()


def blobs(seed: int = 0) -> list[bytes]:
    """The benchmark's blobs (deterministic)."""
    rng = random.Random(seed)

    def prose(size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            out += b" ".join(rng.choice(WORDS) for _ in range(12)) + b" %.4f\n" % rng.random()
        return bytes(out[:size])

    small = [prose(64 << 10) for _ in range(200)]
    large = [prose(2 << 20) + rng.randbytes(2 << 20) for _ in range(10)]
    return small + large


@contextmanager
def database(kind: str, folder: Path, pg_url: str) -> Iterator[str]:
    """A SQLite file in `folder`, or a private schema on the PostgreSQL server (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    with postgres_schema(pg_url) as url:
        yield url


def measure(url: str, results: Path, place: str, data: list[bytes]) -> tuple[float, float]:
    """(write MB/s, read MB/s) for `data` through a store whose artifacts go to `place`."""
    store = open_store(Settings(artifacts=place), url=url, results_dir=results)
    try:
        started = time.perf_counter()
        shas = [store.put_artifact(blob, kind="log") for blob in data]
        wrote = time.perf_counter() - started
        started = time.perf_counter()
        for sha, blob in zip(shas, data, strict=True):
            assert store.get_artifact(sha) == blob
        read = time.perf_counter() - started
    finally:
        store.close()
    megabytes = sum(map(len, data)) / 1e6
    return megabytes / wrote, megabytes / read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get("AAR_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    data = blobs()
    print(f"{len(data)} blobs, {sum(map(len, data)) / 1e6:.0f} MB\n")
    print("| database | AAR_ARTIFACTS | write MB/s | read MB/s |\n| --- | --- | ---: | ---: |")
    for kind in ["sqlite", *(["postgresql"] if args.postgres_url else [])]:
        for place in ("files", "db"):
            with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp), args.postgres_url) as url:
                write, read = measure(url, Path(tmp) / "results", place, data)
            print(f"| {kind} | {place} | {write:.0f} | {read:.0f} |")


if __name__ == "__main__":
    main()
