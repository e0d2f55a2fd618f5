"""The price table and its user extension file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aar.errors import UserError
from aar.llm.pricing import Price, PriceTable, default_price_table, load_price_file


def test_known_models_and_snapshots() -> None:
    table = PriceTable()
    assert table.cost("openai", "gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.price("openai", "gpt-4o-mini-2024-07-18") == Price(0.15, 0.60)
    assert table.price("anthropic", "claude-sonnet-4-5-20250929") == Price(3.0, 15.0)
    assert table.price("anthropic", "claude-3-5-sonnet-latest") == Price(3.0, 15.0)


def test_unlisted_variant_is_not_priced_as_its_family() -> None:
    assert PriceTable().price("openai", "gpt-5.4-mini") is None


def test_unknown_model_is_free_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable()
    with caplog.at_level(logging.WARNING, logger="aar.llm.pricing"):
        assert table.cost("openai", "gpt-9", 10, 10) == 0.0
        assert table.cost("openai", "gpt-9", 10, 10) == 0.0
    assert len([r for r in caplog.records if "gpt-9" in r.getMessage()]) == 1


def test_local_servers_are_free_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aar.llm.pricing"):
        assert PriceTable().cost("openai-compatible", "qwen", 10**6, 10**6) == 0.0
    assert not caplog.records


def test_toml_file_extends_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[openai."gpt-4o-mini"]\ninput = 1.0\noutput = 2.0\n\n[openai."my-ft"]\ninput = 3\noutput = 4\n'
    )
    table = default_price_table({"AAR_PRICES": str(path)})
    assert table.price("openai", "gpt-4o-mini") == Price(1.0, 2.0)
    assert table.price("openai", "my-ft") == Price(3.0, 4.0)
    assert table.price("openai", "gpt-4o") == Price(2.5, 10.0)


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"anthropic": {"claude-next": {"input": 2, "output": 8}}}))
    assert load_price_file(path) == {("anthropic", "claude-next"): Price(2.0, 8.0)}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.toml", "[openai\n", "cannot read price file"),
        ("p.json", '{"openai": {"m": {"input": 1}}}', "needs numeric `input` and `output`"),
        ("p.json", '{"openai": 3}', "must be a table of models"),
        ("p.json", "[]", "expected a table of providers"),
    ],
)
def test_bad_price_files_are_user_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_price_file(path)


def test_missing_price_file_names_the_env_var(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="AAR_PRICES"):
        default_price_table({"AAR_PRICES": str(tmp_path / "nope.toml")})
