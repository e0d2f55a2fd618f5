"""The static audit as it was before issue 9 (a denylist), kept to show each bypass fixture passed it."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

FORBIDDEN_MODULES = {
    "socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib",
    "subprocess", "multiprocessing", "ctypes", "cffi", "shutil", "pickle", "marshal", "importlib", "builtins",
    "glob", "pathlib", "tempfile", "signal", "pty", "resource", "sys", "os", "io", "mmap", "docker", "asyncio",
}  # fmt: skip
FORBIDDEN_CALLS = {
    "open",
    "exec",
    "eval",
    "compile",
    "__import__",
    "globals",
    "vars",
    "getattr",
    "setattr",
    "breakpoint",
    "input",
}
FORBIDDEN_ATTRS = {
    "system",
    "popen",
    "spawn",
    "fork",
    "execv",
    "execve",
    "remove",
    "unlink",
    "rmtree",
    "__subclasses__",
    "__globals__",
    "__builtins__",
    "__code__",
}
# Strings that point at files or held-out answers: the runner hands the method everything it may use.
SUSPICIOUS = re.compile(
    r"(^/|\.\./|\b(test|gold|ground[_ ]?truth|answers?)\b|\.(jsonl?|csv|npy|npz|pt|db)$)", re.I
)
MAX_SOURCE_BYTES = 100_000


@dataclass(frozen=True)
class AuditResult:
    ok: bool
    problems: list[str]

    def describe(self) -> str:
        return "passed" if self.ok else "; ".join(self.problems)


def _import_problems(node: ast.AST) -> list[str]:
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    return [
        f"line {getattr(node, 'lineno', 0)}: import of {n!r} is not allowed"
        for n in names
        if n.split(".")[0] in FORBIDDEN_MODULES
    ]  # type: ignore[attr-defined]


def _node_problems(node: ast.AST) -> list[str]:
    line = getattr(node, "lineno", 0)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
        return [f"line {line}: call to {node.func.id}() is not allowed"]
    if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
        return [f"line {line}: use of .{node.attr} is not allowed"]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and SUSPICIOUS.search(node.value):
        return [f"line {line}: string {node.value[:40]!r} looks like a file path or held-out data"]
    return _import_problems(node)


def audit_source(source: str) -> AuditResult:
    """Check a method.py: parses, defines loss or train, and breaks none of the rules."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        return AuditResult(False, [f"method.py is over {MAX_SOURCE_BYTES} bytes"])
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return AuditResult(False, [f"line {exc.lineno}: syntax error: {exc.msg}"])
    docstrings = {
        id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    problems = [p for node in ast.walk(tree) if id(node) not in docstrings for p in _node_problems(node)]
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if not defined & {"loss", "train"}:
        problems.append("method.py must define loss(logits, weak_p, progress, ctx) or train(ctx)")
    return AuditResult(not problems, problems)
