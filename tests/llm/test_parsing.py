"""Extracting and validating JSON replies."""

from __future__ import annotations

import pytest

from aar.llm.parsing import extract_json, parse_reply, schema_instruction
from tests.llm.conftest import Hypothesis


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '  ```json\n{"a": 1}\n```  ',
        'Here it is:\n```\n{"a": 1}\n```\nDone.',
        'Sure: {"a": 1} hope that helps',
    ],
)
def test_extract_json(text: str) -> None:
    assert extract_json(text) == {"a": 1}


@pytest.mark.parametrize("text", ["", "no json here", "{broken"])
def test_extract_json_failures(text: str) -> None:
    with pytest.raises(ValueError, match=r"not valid JSON|empty"):
        extract_json(text)


def test_validation_error_lists_fields_without_urls() -> None:
    result = parse_reply('{"title": 3, "expected_pgr_gain": 2}', Hypothesis)
    assert result.value is None and result.error is not None
    assert "- title: Input should be a valid string" in result.error
    assert "- rationale: Field required" in result.error
    assert "- expected_pgr_gain: Input should be less than or equal to 1" in result.error
    assert "https://" not in result.error


def test_schema_instruction_embeds_the_schema() -> None:
    assert '"expected_pgr_gain"' in schema_instruction(Hypothesis)
