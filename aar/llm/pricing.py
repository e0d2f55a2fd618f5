"""What model calls cost: a price table in USD per million input and output tokens.

The built-in table covers common OpenAI and Anthropic models at their list prices (early 2026; vendors
change them, so check). Users extend or override it with a file named by the `AAR_PRICES` environment
variable, TOML or JSON by extension, keyed by provider then model:

    # prices.toml
    [openai."gpt-4o-mini"]
    input = 0.15     # USD per 1M input tokens
    output = 0.60    # USD per 1M output tokens

    ["openai-compatible"."qwen2.5-72b-instruct"]   # e.g. a rented vLLM endpoint
    input = 0.40
    output = 0.40

    {"anthropic": {"claude-sonnet-4-5": {"input": 3.0, "output": 15.0}}}    (prices.json)

A model matches its exact name, or its name without a date or `-latest` suffix, so
`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`; there is no looser matching, because `gpt-5.4-mini`
priced as `gpt-5` would be silently wrong. Unknown models cost 0 with a logged warning; `openai-compatible` models cost 0 unless
listed (local servers are free).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from aar.llm.errors import LLMConfigError

log = logging.getLogger(__name__)

PRICES_ENV = "AAR_PRICES"


class Price(NamedTuple):
    """USD per one million tokens."""

    input: float
    output: float


# (provider, model) -> price. Dated snapshots of these names match too.
DEFAULT_PRICES: dict[tuple[str, str], Price] = {
    ("openai", "gpt-5.2"): Price(1.75, 14.00),
    ("openai", "gpt-5.1"): Price(1.25, 10.00),
    ("openai", "gpt-5"): Price(1.25, 10.00),
    ("openai", "gpt-5-mini"): Price(0.25, 2.00),
    ("openai", "gpt-5-nano"): Price(0.05, 0.40),
    ("openai", "gpt-4.1"): Price(2.00, 8.00),
    ("openai", "gpt-4.1-mini"): Price(0.40, 1.60),
    ("openai", "gpt-4.1-nano"): Price(0.10, 0.40),
    ("openai", "gpt-4o"): Price(2.50, 10.00),
    ("openai", "gpt-4o-mini"): Price(0.15, 0.60),
    ("openai", "gpt-4-turbo"): Price(10.00, 30.00),
    ("openai", "gpt-3.5-turbo"): Price(0.50, 1.50),
    ("openai", "o1"): Price(15.00, 60.00),
    ("openai", "o1-mini"): Price(1.10, 4.40),
    ("openai", "o3"): Price(2.00, 8.00),
    ("openai", "o3-mini"): Price(1.10, 4.40),
    ("openai", "o4-mini"): Price(1.10, 4.40),
    ("anthropic", "claude-opus-4-6"): Price(5.00, 25.00),
    ("anthropic", "claude-sonnet-4-6"): Price(3.00, 15.00),
    ("anthropic", "claude-opus-4-5"): Price(5.00, 25.00),
    ("anthropic", "claude-opus-4-1"): Price(15.00, 75.00),
    ("anthropic", "claude-opus-4"): Price(15.00, 75.00),
    ("anthropic", "claude-sonnet-4-5"): Price(3.00, 15.00),
    ("anthropic", "claude-sonnet-4"): Price(3.00, 15.00),
    ("anthropic", "claude-haiku-4-5"): Price(1.00, 5.00),
    ("anthropic", "claude-3-7-sonnet"): Price(3.00, 15.00),
    ("anthropic", "claude-3-5-sonnet"): Price(3.00, 15.00),
    ("anthropic", "claude-3-5-haiku"): Price(0.80, 4.00),
    ("anthropic", "claude-3-opus"): Price(15.00, 75.00),
    ("anthropic", "claude-3-haiku"): Price(0.25, 1.25),
}

# A snapshot suffix: -20250929, -2024-07-18, -latest.
_SNAPSHOT = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")

# Providers whose unlisted models are free (self-hosted) rather than unknown.
FREE_PROVIDERS = frozenset({"openai-compatible"})


@dataclass
class PriceTable:
    """Looks up prices and computes call costs."""

    prices: dict[tuple[str, str], Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    _warned: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def price(self, provider: str, model: str) -> Price | None:
        """The price of `model` (its exact name, else without a snapshot suffix), or None if unlisted."""
        exact = self.prices.get((provider, model))
        return exact if exact is not None else self.prices.get((provider, _SNAPSHOT.sub("", model)))

    def cost(self, provider: str, model: str, tokens_in: int, tokens_out: int) -> float:
        """USD for one call; 0 for unlisted models (with a warning once, unless self-hosted)."""
        price = self.price(provider, model)
        if price is None:
            if provider not in FREE_PROVIDERS and (provider, model) not in self._warned:
                self._warned.add((provider, model))
                log.warning(
                    "no price for %s/%s: counting its calls as free (add it to $%s)",
                    provider,
                    model,
                    PRICES_ENV,
                )
            return 0.0
        return (tokens_in * price.input + tokens_out * price.output) / 1_000_000

    def extended(self, extra: Mapping[tuple[str, str], Price]) -> PriceTable:
        """A new table with `extra` added over this one's prices."""
        return PriceTable({**self.prices, **extra})


def load_price_file(path: Path) -> dict[tuple[str, str], Price]:
    """Read a TOML or JSON price file (format in the module docstring).

    Raises:
        LLMConfigError: the file is missing, unparsable, or an entry lacks numeric input/output prices.
    """
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise LLMConfigError(f"cannot read price file {path} (${PRICES_ENV}): {exc}") from exc
    return _price_entries(data, path)


def _price_entries(data: Any, path: Path) -> dict[tuple[str, str], Price]:
    """Validate the provider -> model -> {input, output} mapping."""
    if not isinstance(data, dict):
        raise LLMConfigError(f"price file {path}: expected a table of providers")
    prices: dict[tuple[str, str], Price] = {}
    for provider, models in data.items():
        if not isinstance(models, dict):
            raise LLMConfigError(f"price file {path}: [{provider}] must be a table of models")
        for model, entry in models.items():
            try:
                prices[(provider, model)] = Price(float(entry["input"]), float(entry["output"]))
            except (TypeError, KeyError, ValueError) as exc:
                raise LLMConfigError(
                    f"price file {path}: {provider}/{model} needs numeric `input` and `output`"
                    " (USD per 1M tokens)"
                ) from exc
    return prices


def default_price_table(env: Mapping[str, str] | None = None) -> PriceTable:
    """The built-in prices, extended by the file at `$AAR_PRICES` if set."""
    path = (os.environ if env is None else env).get(PRICES_ENV)
    table = PriceTable()
    return table.extended(load_price_file(Path(path))) if path else table
