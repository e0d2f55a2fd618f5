"""JSON as the store writes and reads it: strict JSON, with NaN and ±inf as null.

Python's `json` writes NaN and Infinity, which are not JSON: PostgreSQL rejects them (`Token "NaN" is
invalid`) and SQLite stores text that is not valid JSON. Statistics on one seed give NaN CIs, so the
engine serializes every JSON column through `dumps`, and `loads` reads rows that older aars wrote.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every non-finite float, however deeply nested, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps(value: Any) -> str:
    """Strict JSON text for a column value; NaN and ±inf become null."""
    return json.dumps(finite(value), allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Parse a column value; the NaN and ±Infinity that older aars stored in SQLite read as None."""
    return json.loads(text, parse_constant=_null)


def _null(_constant: str) -> None:
    """NaN, Infinity and -Infinity are not numbers a reader can use."""
    return None
