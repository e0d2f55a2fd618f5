"""`aar run --llm-structured`: an unknown mode is one line and exit 2, before any study exists."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli_input_checks import refused
from tests.test_cli_w2s import aar


def test_unknown_structured_mode_is_refused(results_env: Path) -> None:
    out = aar("run", "--policy", "llm", "--model", "openai/gpt-4o-mini", "--llm-structured", "grammar")
    refused(
        out,
        "unknown structured-output mode 'grammar'; use auto, json_schema, json_object, tools",
        results_env,
    )
