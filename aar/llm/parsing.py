"""Turning a model's reply into a validated pydantic object, and telling the model how to reply."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL)


class ParseResult(NamedTuple):
    """A validated object, or the error to show the model."""

    value: BaseModel | None
    error: str | None


def json_schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic model."""
    return schema.model_json_schema()


def schema_name(schema: type[BaseModel]) -> str:
    """A name for the schema that providers accept (letters, digits, `_` and `-`, at most 64)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64] or "response"


def tool_description(schema: type[BaseModel]) -> str:
    """What a forced tool/function call is for: the schema's docstring, or a generic line."""
    return (schema.__doc__ or "").strip() or f"Give the answer as a {schema_name(schema)} object."


def schema_instruction(schema: type[BaseModel]) -> str:
    """A prompt paragraph asking for one JSON object that matches the schema."""
    return (
        "Reply with a single JSON object, and nothing else, that matches this JSON schema:\n"
        f"{json.dumps(json_schema_of(schema), indent=1)}"
    )


def extract_json(text: str) -> Any:
    """Decode the JSON object in a reply: the whole text, a fenced block, or the outermost braces.

    Raises:
        ValueError: no JSON object could be decoded (the message says why).
    """
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    first_error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
    raise ValueError(f"the reply is not valid JSON ({first_error})" if first_error else "the reply is empty")


def parse_reply(text: str, schema: type[BaseModel]) -> ParseResult:
    """Validate a text reply against `schema`."""
    try:
        data = extract_json(text)
    except ValueError as exc:
        return ParseResult(None, str(exc))
    return validate_data(data, schema)


def validate_data(data: Any, schema: type[BaseModel]) -> ParseResult:
    """Validate already-decoded JSON (e.g. a tool call's input) against `schema`."""
    try:
        return ParseResult(schema.model_validate(data), None)
    except ValidationError as exc:
        return ParseResult(None, f"the JSON does not match the {schema.__name__} schema:\n{_errors(exc)}")


def _errors(exc: ValidationError) -> str:
    """Pydantic's errors, one line each, without the documentation URLs."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "(root)"
        lines.append(f"- {where}: {err['msg']}")
    return "\n".join(lines)
