"""Experiment templates and the method library: metadata, method resolution, code folders."""

from __future__ import annotations

import ast
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


def method_meta(path: Path) -> dict[str, Any]:
    """Module-level literals (`REQUIRES`, `SPACE`) read from the source with ast; the code is never run."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise UserError(f"{path}, line {exc.lineno}: syntax error: {exc.msg}") from None
    meta: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("REQUIRES", "SPACE"):
            try:
                meta[target.id] = ast.literal_eval(value)
            except ValueError:
                raise UserError(f"{path}: {target.id} must be a literal dict") from None
    return meta


def build_code_dir(template: Template, method_path: Path, dest: Path) -> Path:
    """The job's /code: the fixed runner and common code, and the method as method.py."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template.runner, dest / "runner.py")
    shutil.copyfile(template.dir.parent / "common.py", dest / "common.py")
    shutil.copyfile(method_path, dest / "method.py")
    return dest
