"""The layers of ARCHITECTURE.md, enforced: every import in aar/ and experiment_templates/ read with `ast`.

A module may import only from layers below its own (or from its own package). Today's exceptions are
listed in ALLOWED, each with the reason it exists; a new forbidden edge fails `test_no_new_forbidden_imports`,
and an exception that no longer exists fails `test_allowlist_has_no_stale_entries` (delete its line).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "aar"
TEMPLATES = REPO / "experiment_templates"

# Layer of each top-level part of aar (higher imports lower, never the reverse). `<pkg>/commands.py` are
# the CLI's subcommands and belong to the cli layer, whatever package holds them.
LAYERS: dict[str, int] = {
    "aar": 0, "config": 0, "errors": 0, "progress": 0,  # the base: settings, the error tree, progress
    "w2s": 1, "store": 1,  # the trusted science core and the store: nothing of the agent, LLM or sandbox
    "sandbox": 2,  # runs untrusted code; knows no agent, no LLM
    "budget": 3, "llm": 3, "recording": 3, "scheduler": 3,
    "researchers": 4,  # the policies (builtin, llm)
    "executors": 4,  # jobs beyond this process (Ray): built on the scheduler's sandbox runner
    "report": 5,
    "graph": 6,  # the study loop: calls researchers, scheduler, store, w2s
    "web": 7,
    "deploy": 7,  # the team deployment: the compose image's build, the study queue's worker
    "cli": 8, "__main__": 8,
}  # fmt: skip
CLI_LAYER = 8

# Edges that break a rule today: (importer module, imported module) -> why it is still here.
ALLOWED: dict[tuple[str, str], str] = {  # none today
}  # fmt: skip


class Edge(NamedTuple):
    importer: str
    imported: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> Iterator[Edge]:
    """Every module `path` imports (top level, in functions, under TYPE_CHECKING), relative ones resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (Edge(name, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield Edge(name, base, node.lineno)
            yield from (Edge(name, f"{base}.{alias.name}", node.lineno) for alias in node.names)


def layer(module: str) -> int:
    parts = module.split(".")
    if parts[-1] == "commands":
        return CLI_LAYER
    return LAYERS[parts[1] if len(parts) > 1 else "aar"]


def is_module(name: str) -> bool:
    """True for an aar module (or package), False for a name imported from one (`from aar.x import Y`)."""
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()  # some packages are namespace packages


def forbidden(edge: Edge) -> bool:
    """An aar module importing from its own layer or one above, outside its own package.

    The CLI layer may import anything (its subcommands too); base-layer modules may import each other.
    """
    if not edge.imported.startswith("aar") or not is_module(edge.imported):
        return False
    mine, theirs = layer(edge.importer), layer(edge.imported)
    if mine == CLI_LAYER:
        return False
    if edge.imported.split(".")[:2] == edge.importer.split(".")[:2] and theirs != CLI_LAYER:
        return False
    return theirs > mine or (theirs == mine and mine != 0)


def package_edges(root: Path = PACKAGE) -> list[Edge]:
    return [e for path in sorted(root.rglob("*.py")) for e in imports(path, root)]


def violations(edges: list[Edge]) -> dict[tuple[str, str], Edge]:
    return {(e.importer, e.imported): e for e in edges if forbidden(e)}


def test_every_package_has_a_layer() -> None:
    tops = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p.is_dir() and p.name[0] not in "._")}
    assert tops - {"__init__"} <= set(LAYERS), tops - set(LAYERS)


def test_no_new_forbidden_imports() -> None:
    new = [
        f"{e.importer}:{e.line} imports {e.imported}"
        for key, e in violations(package_edges()).items()
        if key not in ALLOWED
    ]
    assert new == [], "imports against ARCHITECTURE.md's layers:\n" + "\n".join(new)


def test_allowlist_has_no_stale_entries() -> None:
    stale = sorted(set(ALLOWED) - set(violations(package_edges())))
    assert stale == [], f"these exceptions are gone; delete their ALLOWED lines: {stale}"


def test_core_imports_nothing_above_it() -> None:
    """The brief's hard rules, spelled out (no allowlist applies to them)."""
    banned = {
        "aar.w2s": ("graph", "researchers", "llm", "sandbox", "web", "cli", "scheduler", "report", "store"),
        "aar.store": ("graph", "researchers", "llm", "sandbox", "web", "cli", "scheduler", "report", "w2s"),
        "aar.sandbox": ("graph", "researchers", "llm", "web", "cli", "scheduler", "report", "store"),
    }
    bad = [
        f"{e.importer}:{e.line} imports {e.imported}"
        for e in package_edges()
        for pkg, names in banned.items()
        if e.importer.startswith(pkg) and layer(e.importer) != CLI_LAYER
        and e.imported.split(".")[1:2] and e.imported.split(".")[1] in names
    ]  # fmt: skip
    assert bad == []


def test_templates_import_nothing_from_aar() -> None:
    """Experiment templates run inside the sandbox, where aar is not installed; they stand alone."""
    bad = [
        f"{e.importer}:{e.line} imports {e.imported}"
        for path in sorted(TEMPLATES.rglob("*.py"))
        for e in imports(path, TEMPLATES)
        if e.imported == "aar" or e.imported.startswith("aar.")
    ]
    assert bad == []


def test_the_checker_sees_a_planted_violation(tmp_path: Path) -> None:
    """A new forbidden edge is caught, relative imports and function-level imports included."""
    root = tmp_path / "aar"
    (root / "w2s").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "w2s" / "__init__.py").write_text("")
    (root / "w2s" / "bad.py").write_text("def f():\n    from ..graph import nodes\n    import aar.llm.base\n")
    edges = list(imports(root / "w2s" / "bad.py", root))
    assert ("aar.w2s.bad", "aar.graph") in {(e.importer, e.imported) for e in edges}
    assert ("aar.w2s.bad", "aar.llm.base") in {(e.importer, e.imported) for e in edges}
    assert any(forbidden(e) for e in edges if e.imported == "aar.graph")


# The study loop and the researchers reach the database only through aar.store's functions (issue 14):
# no ORM imports (catching sqlalchemy.exc errors is fine) and no queries on a session of their own.
ORM_FREE = ("graph", "researchers", "executors")
SESSION_CALLS = {"exec", "get", "add", "delete", "execute", "query", "merge"}


def orm_uses(path: Path) -> list[str]:
    """The ORM imports and `session.<query>(...)` calls in one module, as 'line: what'."""
    tree, found = ast.parse(path.read_text()), []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] in ("sqlmodel", "sqlalchemy")
        ):
            if node.module != "sqlalchemy.exc":
                found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in ("sqlmodel", "sqlalchemy")
            ]
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SESSION_CALLS
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "session"
        ):  # fmt: skip
            found.append(f"{node.lineno}: session.{node.func.attr}(...)")
    return found


def test_graph_and_researchers_use_the_store_functions(tmp_path: Path) -> None:
    modules = [
        p for pkg in ORM_FREE for p in sorted((PACKAGE / pkg).rglob("*.py")) if p.name != "commands.py"
    ]
    uses = {str(p.relative_to(REPO)): u for p in modules if (u := orm_uses(p))}
    assert uses == {}, uses
    planted = tmp_path / "node.py"
    planted.write_text("from sqlmodel import select\n\ndef f(session):\n    return session.exec(select(1))\n")
    assert orm_uses(planted) == ["1: from sqlmodel import ...", "4: session.exec(...)"]
