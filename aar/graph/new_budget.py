"""A resumed study's new budget (`aar resume STUDY --deadline 1h --max-experiments 30`).

The new limits are checked against what the study already used, written to its row (the budget that
`aar show`, the report and every later resume read) and applied to the resumed run; the change is a step
of the agent log. Limits not given stay as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aar.budget import fmt_amount, minimum_experiments
from aar.config import StudyConfig
from aar.errors import UserError
from aar.store import Store, find_study
from aar.store.crud import set_budget_limits
from aar.store.records import budget_used

# Budget kind (the row's `budget_limits` key) → the StudyConfig field it comes from.
CONFIG_FIELDS = {
    "usd": "max_usd",
    "tokens": "max_tokens",
    "device_seconds": "max_device_seconds",
    "experiments": "max_experiments",
    "deadline": "deadline",
}
# Budget kind → the option that sets it, for error messages.
OPTIONS = {
    "usd": "--max-usd",
    "tokens": "--max-tokens",
    "device_seconds": "--max-device-hours",
    "experiments": "--max-experiments",
}


def check_new_limits(limits: dict[str, float], *, config: StudyConfig, used: dict[str, float]) -> None:
    """Refuse (UserError, one line naming the minimum) a new limit the study has already used up.

    An experiment budget must leave room for one more search round and the finalist checks, as
    `aar run`'s does; a dollar, token or device-time limit must be above what was spent.
    """
    spent = used.get("experiments", 0.0)
    if (n := limits.get("experiments")) is not None:
        need = int(spent) + minimum_experiments(config.per_round, config.finalists)
        if n < need:
            raise UserError(
                f"--max-experiments {n:g} is too small: the study used {spent:g}; needs at least {need}: "
                f"one more search round ({config.per_round}) plus the finalist checks "
                f"(2 for each of {config.finalists} finalists)"
            )
    for kind in ("usd", "tokens", "device_seconds"):
        if (limit := limits.get(kind)) is not None and limit <= used.get(kind, 0.0):
            shown = used.get(kind, 0.0) / (3600 if kind == "device_seconds" else 1)
            raise UserError(
                f"{OPTIONS[kind]} {limit / (3600 if kind == 'device_seconds' else 1):g} is too small: the study "
                f"already used {shown:g}; give more than that"
            )


def renew_budget(store: Store, study_id: int, config: StudyConfig, limits: dict[str, float]) -> str:
    """Check `limits` against the study's use, write them to its row; the agent-log line that says so."""
    with store.session() as session:
        used = budget_used(session=session, study_id=study_id)
    check_new_limits(limits, config=config, used=used)
    with store.session() as session:
        before = set_budget_limits(session=session, study_id=study_id, limits=limits)
    changes = [_change(kind, value, before.get(kind)) for kind, value in limits.items()]
    return "resumed with a new budget: " + "; ".join(changes)


def study_limits(store: Store, study_id: int) -> dict[str, float]:
    """The study's budget limits as its row keeps them (the source of truth on resume)."""
    with store.session() as session:
        return dict(find_study(session=session, ref=str(study_id)).budget_limits)


def with_limits(config: StudyConfig, limits: dict[str, float]) -> StudyConfig:
    """`config` with its budget fields set from the row's `limits` (kinds it lacks stay as they were)."""
    update: dict[str, Any] = {CONFIG_FIELDS[k]: v for k, v in limits.items() if k in CONFIG_FIELDS}
    return config.model_copy(update=update)


def _change(kind: str, new: float, old: float | None) -> str:
    """`deadline 2026-11-28 09:00:00 UTC (was 08:20:00 UTC)`, `experiments 30 (was 16)`."""
    show = _when if kind == "deadline" else (lambda v: fmt_amount(kind, v))
    was = "no limit" if old is None else show(old)
    return f"{kind.replace('_', ' ')} {show(new)} (was {was})"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
