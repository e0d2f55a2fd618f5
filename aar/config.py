"""Process-wide settings (environment variables prefixed `AAR_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
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
    # Where artifacts' bytes (code, logs, reports) go: db (the store's database, seen from every host) |
    # files (results_dir/artifacts) | s3://bucket/prefix. Reads also find them in the other places.
    artifacts: str = Field(default="db", pattern=r"^(db|files|s3://[^/\s]+(/\S*)?)$")
    # Endpoint of an S3-compatible store (MinIO, Ceph, …) for AAR_ARTIFACTS=s3://…; empty means AWS.
    s3_endpoint_url: str = ""

    @property
    def cache_dir(self) -> Path:
        """Where embeddings and baselines are cached (AAR_CACHE, else results_dir/cache)."""
        return self.cache or self.results_dir / "cache"


# The study's modes, validated when a StudyConfig is built (a stored config with another value is refused).
Policy = Literal["builtin", "llm"]
FeedbackMode = Literal["dev", "blind"]
SandboxChoice = Literal["docker", "bwrap", "local", ""]
ExecutorChoice = Literal["local", "ray"]  # where jobs run: this machine's device pool, or a Ray cluster


class StudyConfig(BaseModel):
    """One study: the goal, the setup it runs on, the researcher policy, feedback mode and budget."""

    name: str
    goal: str
    task: str = "rotten_tomatoes"
    pair: str = "static64→minilm-l6"
    template: str = "probe"
    policy: Policy = "builtin"
    model: str = ""  # provider/model for the llm policy, e.g. openai/gpt-4o-mini
    # How the LLM is asked for JSON: auto (detected per endpoint, remembered) | json_schema | json_object | tools
    llm_structured: Literal["auto", "json_schema", "json_object", "tools"] = "auto"
    feedback: FeedbackMode = "dev"
    seeds: int = 5  # aar.w2s.stats.MIN_SEEDS: a verdict ("better") needs at least 5 seeds
    sizes: str = ""  # split sizes, e.g. "weak_train=500,w2s_train=2000" ("" = defaults)
    split_seed: int = 0
    parallel: int = 1
    sandbox: SandboxChoice = ""  # "" = auto
    executor: ExecutorChoice = "local"  # ray: each job a Ray task (AAR_RAY_ADDRESS; aar.executors)
    unsafe_local: bool = False
    per_round: int = 3  # hypotheses proposed per round
    # Researcher loops proposing into one study (shared hypothesis tree, findings board, deduplicated runs).
    researchers: int = Field(default=1, ge=1, le=16)
    max_rounds: int = 20
    audit_retries: int = 2  # implement attempts after a failed audit, per hypothesis
    target_pgr: float | None = None  # stop when the best dev PGR's CI lower bound reaches this
    finalists: int = 2  # best methods that get integrity checks and the sealed test
    # Budget limits (None = unlimited); deadline is a Unix time.
    max_usd: float | None = Field(default=None, ge=0)
    max_tokens: float | None = Field(default=None, ge=0)
    max_device_seconds: float | None = Field(default=None, ge=0)
    max_experiments: float | None = Field(default=None, ge=0)
    deadline: float | None = None
