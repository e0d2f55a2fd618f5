"""Process-wide settings (environment variables prefixed `AAR_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_results() -> Path:
    return Path.cwd() / "results"


class Settings(BaseSettings):
    """aar's settings. Every field can be set by an `AAR_<NAME>` environment variable."""

    model_config = SettingsConfigDict(env_prefix="AAR_", extra="ignore")

    # Where the store, artifacts and caches live.
    results_dir: Path = Field(default_factory=_default_results)
    # SQLAlchemy URL of the store; empty means SQLite at results/aar.db.
    database_url: str = ""
    # Which sandbox runs untrusted experiment code: docker | bwrap | local | "" (auto).
    sandbox: str = ""
    # Directory holding the experiment templates (probe, finetune, the method library).
    templates_dir: Path = REPO_ROOT / "experiment_templates"
    # Content-addressed caches (embeddings, baselines); empty means results_dir/cache.
    cache: Path | None = None

    @property
    def cache_dir(self) -> Path:
        """Where embeddings and baselines are cached (AAR_CACHE, else results_dir/cache)."""
        return self.cache or self.results_dir / "cache"
