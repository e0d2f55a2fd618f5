"""Hyperparameter overrides (`--set KEY=VALUE`) checked against what the template and method declare.

A key is known when the template names it (its defaults or its search space) or the method's `SPACE`
does; its type comes from the default value, else from the space entry (low/high: a number; choices:
their type). A wrong key or type is one line, raised before anything heavy is imported or started.
Ranges are not enforced: a manual experiment may go outside the space a search explores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from aar.errors import UserError
from aar.w2s.templates import Template, method_meta

# What each expected type is called in a message, with an example value.
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def expected_types(template: Template, method_path: Path) -> dict[str, type]:
    """Each settable hyperparameter and its type (a template default's type wins over a space entry's)."""
    space = {**method_meta(method_path).get("SPACE", {}), **template.space}
    types = {name: _space_type(entry) for name, entry in space.items()}
    types.update({name: _value_type(value) for name, value in template.defaults.items()})
    return types


def _value_type(value: Any) -> type:
    """The type a default value or a choice asks for."""
    for kind in (bool, int, float):  # bool first: True is an int too
        if isinstance(value, kind):
            return kind
    return str


def _space_type(entry: dict[str, Any]) -> type:
    """A low/high range is a number; choices ask for their own type (ints and floats mixed: a number)."""
    if "choices" not in entry:
        return float
    kinds = {_value_type(choice) for choice in entry["choices"]}
    if kinds == {int, float}:
        return float
    return kinds.pop() if len(kinds) == 1 else str


def parse_sets(items: list[str], *, template: Template, method_path: Path) -> dict[str, Any]:
    """`KEY=VALUE` overrides as typed values.

    Raises:
        UserError: malformed item, a key neither the template nor the method knows, or a value of the
            wrong type (each one line naming the key).
    """
    known = expected_types(template, method_path)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"bad --set {item!r}; expected KEY=VALUE, e.g. --set lr=0.001")
        if key not in known:
            raise UserError(
                f"unknown hyperparameter {key!r} for template {template.name} and this method; "
                f"known: {', '.join(sorted(known))}"
            )
        out[key] = _typed(key, raw.strip(), known[key])
    return out


def _typed(key: str, raw: str, kind: type) -> Any:
    """`raw` as a value of `kind`, or a one-line UserError."""
    if kind is str:
        return raw
    try:
        value = json.loads(raw.lower() if kind is bool else raw)
    except json.JSONDecodeError:
        value = raw
    if not _is_a(value, kind):
        raise UserError(f"--set {key}={raw}: {key} must be {_TYPE_WORDS[kind]}")
    return value


def _is_a(value: Any, kind: type) -> bool:
    """Is a parsed value of `kind`? Numbers must be finite; an integer is a number, never a bool."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is int:
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)
