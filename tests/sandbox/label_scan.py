"""A scanner for labelled task data: snippets of every offline task's examples, searched in folders and
inside the compressed files and zip archives there (one level of nesting).

Plain files go through `grep -rFl -f needles` (fast); .bz2/.gz/.xz streams and zip members are
decompressed into one temporary stream that `grep -F -b -o` searches, each hit mapped back to its file.

A file counts as holding task data when it holds at least `MIN_DISTINCT` different snippets. One
40-character phrase can be public text: a PrivacyQA clause quotes "National Institute of Standards and
Technology", which numpy's, scipy's and the JDK's own sources hold too. A file with a task's examples
holds many (each corpus file holds hundreds of the 300 per task); a file with 1 % of a task's rows holds
three on average.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import random
import re
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, NamedTuple

from aar.w2s.tasks import REGISTRY, load_task

# Tasks that load here. The hub tasks (sciq, boolq_hub, anthropic_hh, cosmos_qa, amazon_polarity) need
# the Hugging Face hub, which this machine cannot reach, so they cannot be turned into needles here; their
# data is fetched at run time into the host's datasets cache, which no sandbox mounts.
OFFLINE_TASKS = tuple(name for name, spec in REGISTRY.items() if spec.offline)
WIDTH = 40
_CHUNK = re.compile(rf"[A-Za-z][A-Za-z ]{{{WIDTH - 2}}}[A-Za-z]")
MAGIC = {b"BZh": bz2.open, b"\x1f\x8b": gzip.open, b"\xfd7zXZ\x00": lzma.open}
ZIP_MAGIC = b"PK\x03\x04"
MAX_MEMBER = 512 * 2**20  # a bigger decompressed member is read only this far
MIN_DISTINCT = 2  # different snippets in one file that make it a hit (see the module docstring)


class Hit(NamedTuple):
    """A file (or `archive!member`) that holds a snippet of a task's examples."""

    path: str
    snippet: str


def needles(per_task: int = 300, seed: int = 0) -> list[str]:
    """`per_task` distinctive 40-character alphabetic chunks from each offline task's example texts."""
    rng = random.Random(seed)
    out: list[str] = []
    for task in OFFLINE_TASKS:
        texts = [e.text for e in load_task(task)]
        found: set[str] = set()
        for _ in range(per_task * 200):
            text = rng.choice(texts)
            if len(text) < WIDTH:
                continue
            start = rng.randrange(len(text) - WIDTH + 1)
            chunk = text[start : start + WIDTH]
            if _CHUNK.fullmatch(chunk) and "  " not in chunk and chunk.count(" ") >= 4:
                found.add(chunk)
            if len(found) == per_task:
                break
        out += sorted(found)
    return out


def write_needles(path: Path, snippets: list[str]) -> Path:
    path.write_text("".join(s + "\n" for s in snippets), encoding="ascii")
    return path


def scan(roots: list[Path], needles_file: Path) -> list[Hit]:
    """Every file under `roots` (symlinks not followed) whose content, or decompressed content, has a needle."""
    hits = []
    for root in roots:
        hits += _grep_plain(root, needles_file)
        hits += _grep_compressed(root, needles_file)
    return hits


def _grep_plain(root: Path, needles_file: Path) -> list[Hit]:
    proc = subprocess.run(
        ["grep", "-rFl", "--no-messages", "-f", str(needles_file), str(root)],
        capture_output=True, text=True, env={"LC_ALL": "C", "PATH": os.environ["PATH"]}, check=False,
    )  # fmt: skip
    if proc.returncode not in (0, 1, 2):
        raise RuntimeError(f"grep failed on {root}: {proc.stderr[-500:]}")
    return [hit for line in proc.stdout.splitlines() if line and (hit := _confirmed(line, needles_file))]


def _confirmed(path: str, needles_file: Path) -> Hit | None:
    """`path` as a hit when it holds MIN_DISTINCT different snippets (grep -l stops at the first)."""
    proc = subprocess.run(
        ["grep", "-Foa", "--no-messages", "-f", str(needles_file), path],
        capture_output=True, env={"LC_ALL": "C", "PATH": os.environ["PATH"]}, check=False,
    )  # fmt: skip
    found = set(proc.stdout.decode("ascii", "replace").splitlines())
    return Hit(path, sorted(found)[0]) if len(found) >= MIN_DISTINCT else None


def _grep_compressed(root: Path, needles_file: Path) -> list[Hit]:
    """Decompress every compressed file and zip member under `root` into one stream, grep it once."""
    index: list[tuple[int, str]] = []
    with tempfile.TemporaryFile(dir="/var/tmp") as stream:
        for name, opener in _archives(root):
            start = stream.tell()
            try:
                with opener() as fh:
                    _copy(fh, stream)
            except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile):
                pass  # truncated or fake: keep what decompressed, as a job could
            if stream.tell() > start:
                index.append((start, name))
                stream.write(b"\n")  # needles hold no newline: none can span two files
        stream.flush()
        stream.seek(0)
        proc = subprocess.run(
            ["grep", "-Fbo", "-a", "-f", str(needles_file)],
            stdin=stream, capture_output=True, env={"LC_ALL": "C", "PATH": os.environ["PATH"]}, check=False,
        )  # fmt: skip
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"grep failed on the decompressed files of {root}: {proc.stderr[-500:]!r}")
    found: dict[str, set[str]] = {}
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        offset, _, snippet = line.partition(":")
        name = next(n for start, n in reversed(index) if start <= int(offset))
        found.setdefault(name, set()).add(snippet)
    return [Hit(name, sorted(s)[0]) for name, s in found.items() if len(s) >= MIN_DISTINCT]


def _copy(src: IO[bytes], dst: IO[bytes]) -> None:
    left = MAX_MEMBER
    while left > 0 and (block := src.read(min(2**20, left))):
        dst.write(block)
        left -= len(block)


Opener = Callable[[], IO[bytes]]


def _archives(root: Path) -> Iterator[tuple[str, Opener]]:
    """(name, opener of the decompressed bytes) for each compressed file and zip member under `root`."""
    for path in _regular_files(root):
        try:
            with path.open("rb") as fh:
                head = fh.read(6)
        except OSError:
            continue
        if (opener := _opener(head)) is not None:
            yield str(path), partial(opener, path, "rb")
        elif head.startswith(ZIP_MAGIC):
            yield from _zip_members(path)


def _opener(head: bytes) -> Callable[..., IO[bytes]] | None:
    return next((o for m, o in MAGIC.items() if head.startswith(m)), None)  # type: ignore[misc]


def _zip_members(path: Path) -> Iterator[tuple[str, Opener]]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile):
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            try:
                with archive.open(info) as member:
                    head = member.read(6)
            except (OSError, zipfile.BadZipFile, NotImplementedError, RuntimeError):
                continue  # encrypted or an unsupported compression
            inner = _opener(head)
            member_opener = partial(archive.open, info)
            yield (
                f"{path}!{info.filename}",
                member_opener if inner is None else (lambda i=inner, m=member_opener: i(m(), "rb")),  # type: ignore[misc]
            )


def _regular_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):  # does not follow symlinks to folders
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path
