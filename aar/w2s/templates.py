"""Experiment templates and the method library: metadata, method resolution, code folders."""

from __future__ import annotations

import ast
import math
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aar.errors import UserError

LIBRARY_METHODS = (
    "naive",
    "aux_conf",
    "product",
    "confident_filter",
    "weak_ensemble",
    "bootstrap",
    "early_stop",
    "self_train",
    "strong_ensemble",
    "knn_denoise",
    "denoised_aux_conf",
    "low_rank",
)


@dataclass(frozen=True)
class Template:
    """An experiment template: a fixed runner plus its default hyperparameters and search space."""

    name: str
    dir: Path
    description: str
    defaults: dict[str, Any]
    space: dict[str, Any]
    uses_features: bool
    model_kinds: tuple[str, ...] = ()

    @property
    def runner(self) -> Path:
        return self.dir / "runner.py"


def templates_root(root: Path) -> Path:
    if not (root / "common.py").is_file():
        raise UserError(f"{root}: not an experiment-templates folder (no common.py); set AAR_TEMPLATES_DIR")
    return root


def get_template(name: str, root: Path) -> Template:
    """Load `root/<name>/template.toml`."""
    path = templates_root(root) / name / "template.toml"
    if not path.is_file():
        known = sorted(p.parent.name for p in root.glob("*/template.toml"))
        raise UserError(f"unknown template {name!r}; known: {', '.join(known)}")
    meta = tomllib.loads(path.read_text())
    return Template(
        name, path.parent, meta["description"].strip(), meta.get("defaults", {}), meta.get("space", {}),
        bool(meta.get("uses_features", False)), tuple(meta.get("model_kinds", ())),
    )  # fmt: skip


def resolve_method(spec: str, root: Path) -> Path:
    """A library method name (`aux_conf`) or a path to a method.py file."""
    if spec in LIBRARY_METHODS:
        return root / "methods" / f"{spec}.py"
    path = Path(spec)
    if path.suffix == ".py" and path.is_file():
        return path
    raise UserError(
        f"unknown method {spec!r}; use a library name ({', '.join(LIBRARY_METHODS)}) or a .py file"
    )


def method_name(spec: str) -> str:
    return spec if spec in LIBRARY_METHODS else Path(spec).stem


# What a method may declare in REQUIRES, and the type of each value.
REQUIRES_KEYS: dict[str, type] = {
    "intermediate": bool,  # run a chain weak -> intermediate -> strong
    "weak_train_inputs": bool,  # see the weak_train inputs (never their labels)
}
MAX_SPACE_ENTRIES = 32
MAX_CHOICES = 64
_META_NAMES = ("REQUIRES", "SPACE")


class InvalidMethodMeta(UserError):
    """A method file's REQUIRES or SPACE is not a literal of the documented shape (one line, no traceback)."""


def method_meta(path: Path) -> dict[str, Any]:
    """Module-level literals (`REQUIRES`, `SPACE`) read from the source with ast; the code is never run.

    Raises:
        InvalidMethodMeta: the file is not valid Python, or REQUIRES / SPACE is not a literal dict of the
            documented shape (REQUIRES: known keys with bool values; SPACE: name -> low/high or choices).
    """
    meta: dict[str, Any] = {}
    for name, value in _meta_nodes(path):
        try:
            meta[name] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise InvalidMethodMeta(f"{path}: {name} must be a literal dict") from None
    problem = _requires_problem(meta.get("REQUIRES", {})) or _space_problem(meta.get("SPACE", {}))
    if problem:
        raise InvalidMethodMeta(f"{path}: {problem}")
    return meta


# The ctx helpers that read the frozen features (CONTRACT.md): templates without them raise.
EMBEDDING_CALLS = ("embeddings", "neighbour_mean")


def needs_embeddings(path: Path) -> bool:
    """Does the method call `ctx.embeddings` or `ctx.neighbour_mean`? Read with ast, never run; an
    unreadable file is left to `method_meta`'s error."""
    try:
        tree = ast.parse(path.read_bytes().decode("utf-8"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(
        isinstance(node, ast.Attribute) and node.attr in EMBEDDING_CALLS
        and isinstance(node.value, ast.Name) and node.value.id == "ctx"
        for node in ast.walk(tree)
    )  # fmt: skip


def unmet_requirement(path: Path, template: Template) -> str:
    """Why `template` cannot run the method file at `path` ("" when it can), in one line."""
    if not template.uses_features and needs_embeddings(path):
        return (
            f"{path.stem} reads frozen embeddings (ctx.embeddings / ctx.neighbour_mean) and template "
            f"{template.name!r} has none: use the probe template"
        )
    return ""


def _meta_nodes(path: Path) -> list[tuple[str, ast.expr]]:
    """The value expressions assigned to REQUIRES and SPACE at module level."""
    try:
        tree = ast.parse(path.read_bytes().decode("utf-8"), filename=str(path))
    except SyntaxError as exc:
        where = f"{path}, line {exc.lineno}" if exc.lineno else f"{path}"
        raise InvalidMethodMeta(f"{where}: syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # not UTF-8, null bytes, absurd nesting
        raise InvalidMethodMeta(f"{path}: not a readable Python file ({type(exc).__name__})") from None
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in _META_NAMES:
            found.append((target.id, value))
    return found


def _requires_problem(requires: object) -> str | None:
    if not isinstance(requires, dict):
        return f"REQUIRES must be a dict, e.g. {{'intermediate': True}}; got {type(requires).__name__}"
    for key, value in requires.items():
        if key not in REQUIRES_KEYS:
            return f"REQUIRES has unknown key {str(key)[:40]!r}; known: {', '.join(REQUIRES_KEYS)}"
        if type(value) is not REQUIRES_KEYS[key]:
            return f"REQUIRES[{key!r}] must be {REQUIRES_KEYS[key].__name__}, got {type(value).__name__}"
    return None


def _space_problem(space: object) -> str | None:
    if not isinstance(space, dict):
        return (
            f"SPACE must be a dict of name -> {{'low', 'high'}} or {{'choices'}}; got {type(space).__name__}"
        )
    if len(space) > MAX_SPACE_ENTRIES:
        return f"SPACE has {len(space)} entries (at most {MAX_SPACE_ENTRIES})"
    for name, entry in space.items():
        if not isinstance(name, str) or not name.isidentifier():
            return f"SPACE key {str(name)[:40]!r} is not a hyperparameter name"
        if problem := _space_entry_problem(entry):
            return f"SPACE[{name!r}]: {problem}"
    return None


def _space_entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "must be a dict with low/high (and optional log) or choices"
    if set(entry) == {"choices"}:
        choices = entry["choices"]
        ok = isinstance(choices, list | tuple) and 0 < len(choices) <= MAX_CHOICES
        if not ok or not all(isinstance(c, str | bool) or _real(c) for c in choices):
            return f"choices must be a list of 1 to {MAX_CHOICES} numbers or strings"
        return None
    if not {"low", "high"} <= set(entry) <= {"low", "high", "log"}:
        return "must have low and high (and optionally log), or only choices"
    low, high = entry["low"], entry["high"]
    if not all(_real(v) for v in (low, high)) or low > high:
        return "low and high must be finite numbers with low <= high"
    if not isinstance(entry.get("log", False), bool):
        return "log must be True or False"
    return None


def _real(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def build_code_dir(template: Template, method_path: Path, dest: Path) -> Path:
    """The job's /code: the fixed runner and common code, and the method as method.py."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template.runner, dest / "runner.py")
    shutil.copyfile(template.dir.parent / "common.py", dest / "common.py")
    shutil.copyfile(method_path, dest / "method.py")
    return dest
