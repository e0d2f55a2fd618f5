"""Unified diffs of method code, as typed lines the experiment page colours (difflib, no JavaScript)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

LineKind = Literal["head", "hunk", "add", "del", "ctx"]


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff and what kind of line it is."""

    kind: LineKind
    text: str


@dataclass(frozen=True)
class CodeDiff:
    """A diff of an experiment's code against a base (its template's method, its parent's code)."""

    title: str
    base_name: str
    lines: list[DiffLine]
    added: int
    removed: int

    @property
    def identical(self) -> bool:
        """True when the code equals its base."""
        return not self.lines

    def text(self) -> str:
        """The diff as plain unified-diff text (for the JSON API)."""
        return "\n".join(line.text for line in self.lines)


def _kind(line: str) -> LineKind:
    if line.startswith(("---", "+++")):
        return "head"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "ctx")  # type: ignore[return-value]


def code_diff(title: str, base: str, new: str, *, base_name: str, new_name: str) -> CodeDiff:
    """The unified diff from `base` to `new` with three lines of context."""
    raw = difflib.unified_diff(
        base.splitlines(), new.splitlines(), fromfile=base_name, tofile=new_name, lineterm=""
    )
    lines = [DiffLine(_kind(line), line) for line in raw]
    added = sum(1 for line in lines if line.kind == "add")
    removed = sum(1 for line in lines if line.kind == "del")
    return CodeDiff(title=title, base_name=base_name, lines=lines, added=added, removed=removed)
