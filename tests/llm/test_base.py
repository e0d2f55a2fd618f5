"""Model specs and API keys."""

from __future__ import annotations

import pytest

from aar.errors import UserError
from aar.llm.base import ModelSpec, parse_model_spec, resolve_api_key


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("openai/gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini", None)),
        ("anthropic/claude-haiku-4-5", ModelSpec("anthropic", "claude-haiku-4-5", None)),
        (
            "openai-compatible/qwen2.5:0.5b@http://127.0.0.1:11434/v1",
            ModelSpec("openai-compatible", "qwen2.5:0.5b", "http://127.0.0.1:11434/v1"),
        ),
        (
            "openai/gpt-4o@https://gateway.example/v1",
            ModelSpec("openai", "gpt-4o", "https://gateway.example/v1"),
        ),
        (
            "openai-compatible/org/model-7b@http://h:8000/v1",
            ModelSpec("openai-compatible", "org/model-7b", "http://h:8000/v1"),
        ),
    ],
)
def test_parse_model_spec(spec: str, expected: ModelSpec) -> None:
    assert parse_model_spec(spec, env={}) == expected


def test_openai_compatible_base_url_from_env() -> None:
    env = {"AAR_LLM_BASE_URL": "http://127.0.0.1:8000/v1"}
    assert parse_model_spec("openai-compatible/m", env).base_url == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-4o-mini", "expected provider/model"),
        ("google/gemini", "provider one of openai, anthropic, openai-compatible"),
        ("openai/", "the model name is empty"),
        ("openai-compatible/m", "AAR_LLM_BASE_URL"),
        ("openai/gpt-4o@localhost:8000", "bad base URL"),
    ],
)
def test_bad_specs_are_user_errors(spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        parse_model_spec(spec, env={})
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("provider", "var"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
def test_missing_key_names_the_env_var(provider: str, var: str) -> None:
    with pytest.raises(UserError, match=f"set {var}"):
        resolve_api_key(provider, env={})  # type: ignore[arg-type]
    assert resolve_api_key(provider, env={var: "sk-1"}) == "sk-1"  # type: ignore[arg-type]


def test_openai_compatible_key_is_optional() -> None:
    assert resolve_api_key("openai-compatible", env={}) == "not-needed"
    assert resolve_api_key("openai-compatible", env={"AAR_LLM_API_KEY": "secret"}) == "secret"
