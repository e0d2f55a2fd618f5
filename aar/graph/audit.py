"""Static audit of agent-written method code: deny by default, over the AST, before any of it runs.

The sandbox is the real boundary; these rules catch intent early, record it, and give the agent a
clear reason it can act on. What a method may use is listed (the lists are in `audit_rules.py`),
everything else is a finding:

- imports: `ALLOWED_MODULES` only (host-side imports of those trusted modules resolve every
  `module.attr.attr` chain against the real objects; a chain may pass only through allowed modules and
  must end in a function, class or constant that is not in the file/process/code-loading denylist);
- builtins: `ALLOWED_BUILTINS` only, and their names may not be rebound;
- no dunder names or attributes (one exception: `super().__init__(...)`), no frame/code attributes;
- attribute names on other values: anything but a module-ish or I/O name (`IO_NAMES`, `MODULE_NAMES`);
- the runner context: only `ctx.<CTX_API>` (callables called at once), `ctx.data[<CTX_SPLITS>]`, and
  `ctx` itself only passed on to a function of the same file whose parameter is named `ctx`.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from aar.graph.audit_rules import (
    ALLOWED_LIST,
    ALLOWED_MODULES,
    CTX_CALLS,
    CTX_SPLITS,
    CTX_VALUES,
    DUNDER,
    DUNDER_TEXT,
    FORBIDDEN_BUILTINS,
    FORMAT_FIELD_WALK,
    HOOK_CTX_POSITION,
    MAX_SOURCE_BYTES,
    SIGNATURES,
    SUSPICIOUS,
    attribute_problem,
    ctx_api,
    object_problem,
)

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class AuditResult:
    ok: bool
    problems: list[str]

    def describe(self) -> str:
        return "passed" if self.ok else "; ".join(self.problems)


def _line(node: ast.AST) -> str:
    return f"line {getattr(node, 'lineno', 0)}"


class _Auditor:
    """One pass over a parsed method.py; `problems` collects one line per finding."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.parents: dict[ast.AST, ast.AST] = {
            child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
        }
        self.aliases: dict[str, object] = {}
        self.defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.defs.setdefault(node.name, []).append(node)
        self.problems: list[tuple[int, str]] = []
        # weak_train's inputs (never labels) reach a method that declares it needs them (CONTRACT.md).
        self.splits = CTX_SPLITS + (
            ("weak_train",) if _requires(tree).get("weak_train_inputs") is True else ()
        )

    def add(self, node: ast.AST, message: str) -> None:
        self.problems.append((getattr(node, "lineno", 0), f"{_line(node)}: {message}"))

    def run(self) -> list[str]:
        """Imports first (they bind the aliases chains resolve against), then every other node."""
        docstrings = {
            id(n.value)
            for n in ast.walk(self.tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
        }
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                self.visit_import(node)
            elif isinstance(node, ast.ImportFrom):
                self.visit_import_from(node)
        for node in ast.walk(self.tree):
            self.visit(node, docstring=id(node) in docstrings)
        self.check_hooks()
        seen: dict[str, int] = {}
        for line, message in sorted(self.problems, key=lambda p: p[0]):
            seen.setdefault(message, line)
        return list(seen)

    # ---- imports ------------------------------------------------------------------------------------

    def visit_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name not in ALLOWED_MODULES:
                self.add(node, f"import of {alias.name!r} is not allowed (methods may import {ALLOWED_LIST})")
                continue
            module = importlib.import_module(alias.name)
            if alias.asname:
                self.bind(node, alias.asname, module)
            else:
                top = alias.name.split(".")[0]
                self.bind(node, top, importlib.import_module(top))

    def visit_import_from(self, node: ast.ImportFrom) -> None:
        name = node.module or ""
        if node.level or name not in ALLOWED_MODULES:
            self.add(
                node,
                f"import of {'.' * node.level + name!r} is not allowed (methods may import {ALLOWED_LIST})",
            )
            return
        module = importlib.import_module(name)
        for alias in node.names:
            path = f"{name}.{alias.name}"
            if alias.name == "*":
                self.add(node, f"'from {name} import *' is not allowed: import the names you use")
            elif path in ALLOWED_MODULES:
                self.bind(node, alias.asname or alias.name, importlib.import_module(path))
            elif not hasattr(module, alias.name) or alias.name.startswith("_"):
                self.add(node, f"{path} is not available to methods")
            elif (problem := object_problem(path, alias.name, getattr(module, alias.name))) is not None:
                self.add(node, problem)
            else:
                self.bind(node, alias.asname or alias.name, getattr(module, alias.name))

    def bind(self, node: ast.AST, name: str, value: object) -> None:
        self.check_binding(node, name)
        self.aliases[name] = value

    # ---- every other node ---------------------------------------------------------------------------

    def visit(self, node: ast.AST, *, docstring: bool) -> None:
        if isinstance(node, ast.Name):
            self.visit_name(node)
        elif isinstance(node, ast.Attribute):
            self.visit_attribute(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and not docstring:
            self.visit_string(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            self.visit_function(node)
        elif isinstance(node, ast.ClassDef):
            self.check_binding(node, node.name)
            if node.keywords:
                self.add(node, f"class {node.name}: metaclass and class keywords are not allowed")
        elif isinstance(node, ast.Global):
            self.add(node, "'global' is not allowed: keep state in local variables or ctx.hparams")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.check_binding(node, node.name)
        elif isinstance(node, ast.keyword) and node.arg == "loss_fn":
            self.check_loss_fn(node)

    def check_binding(self, node: ast.AST, name: str) -> None:
        if name in FORBIDDEN_BUILTINS or DUNDER.match(name):
            self.add(
                node, f"the name {name!r} is reserved (a builtin methods may not use, or a dunder): rename it"
            )
        elif (
            name in HOOK_CTX_POSITION
            and self.scope_of(node) is None
            and not isinstance(node, ast.FunctionDef)
        ):
            self.add(node, f"the hook {name!r} must be a plain 'def {name}(...)' at module level")
        elif name == "ctx" and isinstance(node, ast.Name):
            self.add(node, "do not rebind ctx: it is the runner's context")

    def visit_name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.check_binding(node, node.id)
            return
        if DUNDER.match(node.id):
            self.add(node, f"name {node.id!r} is not allowed: dunder names reach the interpreter's internals")
        elif node.id in FORBIDDEN_BUILTINS:
            self.add(
                node,
                f"builtin {node.id!r} is not allowed (no file, reflection or eval builtins; see CONTRACT.md)",
            )
        elif node.id == "ctx":
            self.check_ctx_use(node)
        elif isinstance(self.aliases.get(node.id), ModuleType) and not self.is_attribute_base(node):
            self.add(node, f"module {node.id} may be used only as {node.id}.<name>, not as a value")

    def visit_attribute(self, node: ast.Attribute) -> None:
        chain = _chain(node)
        if chain is not None and chain[0] in self.aliases:
            if not self.is_attribute_base(node):
                self.resolve_chain(node, chain[0], chain[1])
            return
        if node.attr == "__init__" and _is_super_call(node.value):
            return
        problem = attribute_problem(node.attr)
        if problem is not None:
            self.add(node, problem)
        elif node.attr.startswith("_") and not (
            isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
        ):
            self.add(
                node,
                f".{node.attr} is not allowed: private attributes are not part of an API (self.{node.attr} is)",
            )
        elif isinstance(node.value, ast.Name) and node.value.id == "ctx":
            self.check_ctx_attribute(node)
        elif node.attr == "data":
            self.add(
                node,
                ".data is not allowed: use ctx.data['w2s_train'|'dev'|'eval'] for inputs, .detach() for tensors",
            )
        elif node.attr in ("format", "format_map"):
            self.check_format(node)

    def resolve_chain(self, node: ast.Attribute, root: str, attrs: list[str]) -> None:
        """Resolve `root.a.b...` against the real (trusted) objects; each step must be allowed."""
        obj, path = self.aliases[root], root
        for attr in attrs:
            path = f"{path}.{attr}"
            if attr.startswith("_"):
                self.add(node, f"{path}: private and dunder names are not allowed")
                return
            if not hasattr(obj, attr):
                self.add(node, f"{path} does not exist")
                return
            obj = getattr(obj, attr)
            if (problem := object_problem(path, attr, obj)) is not None:
                self.add(node, problem)
                return
        if not isinstance(node.ctx, ast.Load):
            self.add(node, f"assigning to {path} is not allowed: methods may not change modules")
        elif isinstance(obj, ModuleType):
            self.add(
                node, f"{path} is a module: import it ('import {obj.__name__} as ...') and call its functions"
            )

    def check_ctx_attribute(self, node: ast.Attribute) -> None:
        parent = self.parents.get(node)
        if node.attr in CTX_CALLS:
            if not (isinstance(parent, ast.Call) and parent.func is node):
                self.add(node, f"ctx.{node.attr} must be called directly, not used as a value")
        elif node.attr == "data":
            key = parent.slice if isinstance(parent, ast.Subscript) and parent.value is node else None
            if not (isinstance(key, ast.Constant) and key.value in self.splits):
                shown = f"ctx.data[{ast.unparse(key)[:40]}]" if key is not None else "ctx.data"
                self.add(
                    node,
                    f"{shown} is not allowed: methods may read only ctx.data['w2s_train'|'dev'|'eval'] (inputs),"
                    " and ctx.data['weak_train'] (inputs) with REQUIRES = {'weak_train_inputs': True}",
                )
        elif node.attr not in CTX_VALUES or not isinstance(node.ctx, ast.Load):
            self.add(node, f"ctx.{node.attr} is not part of the runner context's API ({ctx_api()})")

    def check_ctx_use(self, node: ast.Name) -> None:
        """`ctx` may be an attribute base, or passed on to a local function as its `ctx` parameter."""
        parent = self.parents.get(node)
        if self.is_attribute_base(node):
            return
        if isinstance(parent, ast.Call) and node in parent.args and isinstance(parent.func, ast.Name):
            index = parent.args.index(node)
            targets = self.defs.get(parent.func.id, [])
            if targets and all(_positional(d)[index : index + 1] == ["ctx"] for d in targets):
                return
        if isinstance(parent, ast.keyword) and parent.arg == "ctx":
            call = self.parents.get(parent)
            targets = (
                self.defs.get(call.func.id, [])
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                else []
            )
            if targets and all("ctx" in _positional(d) + [a.arg for a in d.args.kwonlyargs] for d in targets):
                return
        self.add(
            node,
            f"ctx may only be used as ctx.<name> or passed to a function of this file as its ctx parameter ({ctx_api()})",
        )

    def visit_string(self, node: ast.Constant) -> None:
        text = str(node.value)
        if DUNDER_TEXT.search(text):
            self.add(node, f"string {text[:40]!r} names a dunder attribute: not allowed")
        elif SUSPICIOUS.search(text):
            self.add(node, f"string {text[:40]!r} looks like a file path or held-out data")

    def check_format(self, node: ast.Attribute) -> None:
        literal = node.value
        if node.attr == "format_map" or not (
            isinstance(literal, ast.Constant) and isinstance(literal.value, str)
        ):
            self.add(node, f".{node.attr} is allowed only on a string literal: use an f-string")
        elif FORMAT_FIELD_WALK.search(literal.value):
            self.add(
                node, "format fields may not read attributes or items ('{0.x}', '{0[k]}'): use an f-string"
            )

    def visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.arg != "ctx":
                self.check_binding(arg, arg.arg)
        if not isinstance(node, ast.Lambda):
            if not (DUNDER.match(node.name) and isinstance(self.parents.get(node), ast.ClassDef)):
                self.check_binding(node, node.name)  # a class may define __init__, forward, ...
            if self.own_decorators(node) and "ctx" in _positional(node) + [a.arg for a in args.kwonlyargs]:
                self.add(
                    node,
                    f"{node.name}() takes ctx: only library decorators (e.g. torch.no_grad()) may wrap it",
                )

    def check_hooks(self) -> None:
        """Each module-level hook takes the runner context as a parameter named ctx, undecorated."""
        for stmt in self.tree.body:
            if (
                not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
                or stmt.name not in HOOK_CTX_POSITION
            ):
                continue
            index, params = HOOK_CTX_POSITION[stmt.name], _positional(stmt)
            if isinstance(stmt, ast.AsyncFunctionDef) or self.own_decorators(stmt):
                self.add(stmt, f"the hook {stmt.name}() must be a plain def (library decorators only)")
            elif len(params) <= index or params[index] != "ctx":
                self.add(
                    stmt,
                    f"{stmt.name}() must take the runner context as parameter {index + 1}, named ctx: {SIGNATURES[stmt.name]}",
                )

    def check_loss_fn(self, node: ast.keyword) -> None:
        value = node.value
        if isinstance(value, ast.Lambda):
            ok = _positional(value)[3:4] == ["ctx"]
        elif isinstance(value, ast.Name) and value.id in self.defs:
            ok = all(
                _positional(d)[3:4] == ["ctx"] and not self.own_decorators(d) for d in self.defs[value.id]
            )
        else:
            ok = False
        if not ok:
            self.add(
                node.value, "loss_fn must be a function of this file taking (logits, weak_p, progress, ctx)"
            )

    # ---- tree helpers -------------------------------------------------------------------------------

    def own_decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Is `node` wrapped by anything but an imported library decorator (`torch.no_grad()`, ...)?

        Library code is trusted; a decorator written in this file would see the ctx it is called with."""
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            chain = _chain(target) if isinstance(target, ast.Attribute) else None
            root = chain[0] if chain else target.id if isinstance(target, ast.Name) else None
            if root not in self.aliases and root not in ("staticmethod", "classmethod", "property"):
                return True
            arguments = (
                [*decorator.args, *(k.value for k in decorator.keywords)]
                if isinstance(decorator, ast.Call)
                else []
            )
            if not all(isinstance(a, ast.Constant) for a in arguments):  # functools.partial(own_wrapper)
                return True
        return False

    def is_attribute_base(self, node: ast.AST) -> bool:
        parent = self.parents.get(node)
        return isinstance(parent, ast.Attribute) and parent.value is node

    def scope_of(self, node: ast.AST) -> ast.AST | None:
        """The nearest enclosing function or class, None at module level."""
        parent = self.parents.get(node)
        while parent is not None and not isinstance(parent, SCOPES):
            parent = self.parents.get(parent)
        return parent


def _requires(tree: ast.Module) -> dict[str, Any]:
    """The module-level `REQUIRES = {...}` literal, or {} (the host validates it separately)."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "REQUIRES" for t in stmt.targets
        ):
            try:
                value = ast.literal_eval(stmt.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return {}
            return value if isinstance(value, dict) else {}
    return {}


def _positional(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    return [a.arg for a in [*node.args.posonlyargs, *node.args.args]]


def _chain(node: ast.Attribute) -> tuple[str, list[str]] | None:
    """`a.b.c` as ("a", ["b", "c"]) when the chain is rooted at a plain name."""
    attrs: list[str] = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        attrs.append(current.attr)
        current = current.value
    return (current.id, attrs[::-1]) if isinstance(current, ast.Name) else None


def _is_super_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def audit_source(source: str) -> AuditResult:
    """Check a method.py: parses, defines loss or train, and uses only what the rules allow."""
    if len(source.encode("utf-8", errors="replace")) > MAX_SOURCE_BYTES:
        return AuditResult(False, [f"method.py is over {MAX_SOURCE_BYTES} bytes"])
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return AuditResult(False, [f"line {exc.lineno or 1}: syntax error: {exc.msg}"])
    except (ValueError, RecursionError, MemoryError) as exc:
        return AuditResult(False, [f"method.py does not parse: {type(exc).__name__}"])
    try:
        problems = _Auditor(tree).run()
    except RecursionError:
        return AuditResult(False, ["method.py is nested too deeply to audit"])
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if not defined & {"loss", "train"}:
        problems.append("method.py must define loss(logits, weak_p, progress, ctx) or train(ctx)")
    return AuditResult(not problems, problems)
