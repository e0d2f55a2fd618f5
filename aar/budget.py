"""Study budgets: limits on LLM dollars and tokens, device-seconds, experiments and a wall-clock deadline.

Usage comes from the store's ledger (every charge is a row), so a resumed study counts what it already
spent exactly once. Every LLM call and every launch is checked first with an estimate; in-flight
launches hold a reservation, so parallel launches cannot together overrun a limit by more than one job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aar.errors import AarError
from aar.store import Store, budget_used, charge_budget

KINDS = ("usd", "tokens", "device_seconds", "experiments")


class BudgetExceeded(AarError):
    """A limit would be passed; `limit` names which (usd, tokens, device_seconds, experiments, deadline)."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"budget limit reached: {limit} ({detail})")
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    """None means unlimited. `deadline` is a Unix time."""

    usd: float | None = None
    tokens: float | None = None
    device_seconds: float | None = None
    experiments: float | None = None
    deadline: float | None = None

    def as_store(self) -> dict[str, float]:
        """The form kept on the Study row (`budget_limits`)."""
        return {k: float(v) for k, v in vars(self).items() if v is not None}

    @classmethod
    def from_store(cls, limits: dict[str, float]) -> Limits:
        return cls(**{k: v for k, v in limits.items() if k in (*KINDS, "deadline")})


@dataclass
class Budget:
    """Limits, usage (from the ledger) and what is left, for one study."""

    store: Store
    study_id: int
    limits: Limits
    clock: Callable[[], float] = time.time
    # Experiments kept back from search launches for the study's final checks (charged, never checked).
    hold_back: int = 0
    _reserved: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def used(self) -> dict[str, float]:
        with self.store.session() as session:
            used = budget_used(session=session, study_id=self.study_id)
        return {kind: used.get(kind, 0.0) for kind in KINDS}

    def remaining(self) -> dict[str, float | None]:
        used = self.used()
        left: dict[str, float | None] = {}
        for kind in KINDS:
            limit = getattr(self.limits, kind)
            left[kind] = (
                None if limit is None else max(0.0, limit - used[kind] - self._reserved.get(kind, 0.0))
            )
        left["deadline_s"] = (
            None if self.limits.deadline is None else max(0.0, self.limits.deadline - self.clock())
        )
        return left

    def exhausted(self) -> str | None:
        """The first limit already reached, if any."""
        used = self.used()
        for kind in KINDS:
            limit = getattr(self.limits, kind)
            if limit is not None and used[kind] >= limit:
                return kind
        if self.limits.deadline is not None and self.clock() >= self.limits.deadline:
            return "deadline"
        return None

    def _check(self, estimates: dict[str, float]) -> None:
        if self.limits.deadline is not None and self.clock() >= self.limits.deadline:
            raise BudgetExceeded("deadline", "the study's deadline has passed")
        used = self.used()
        for kind, amount in estimates.items():
            limit = getattr(self.limits, kind)
            if limit is None:
                continue
            committed = used[kind] + self._reserved.get(kind, 0.0)
            if committed >= limit or (kind != "device_seconds" and committed + amount > limit):
                raise BudgetExceeded(kind, f"used {committed:g} of {limit:g}, next needs ~{amount:g}")

    def check_llm(self, est_tokens: float = 0.0, est_usd: float = 0.0) -> None:
        """Before an LLM call: raise BudgetExceeded if it could pass the dollar or token limit."""
        with self._lock:
            self._check({"tokens": est_tokens, "usd": est_usd})

    def reserve_launch(self, est_device_seconds: float) -> None:
        """Before a launch: check, then hold one experiment and its estimated device time until `release`.

        Device time is allowed to overrun by at most the one job that starts under the limit.
        """
        with self._lock:
            self._check({"experiments": 1.0 + self.hold_back, "device_seconds": est_device_seconds})
            self._reserved["experiments"] = self._reserved.get("experiments", 0.0) + 1
            self._reserved["device_seconds"] = self._reserved.get("device_seconds", 0.0) + est_device_seconds

    def release(self, est_device_seconds: float) -> None:
        with self._lock:
            self._reserved["experiments"] = max(0.0, self._reserved.get("experiments", 0.0) - 1)
            self._reserved["device_seconds"] = max(
                0.0, self._reserved.get("device_seconds", 0.0) - est_device_seconds
            )

    def charge(
        self, kind: str, amount: float, *, key: str, what_for: str = "", experiment_id: int | None = None
    ) -> None:
        """Add a ledger row (idempotent per `key`)."""
        with self.store.session() as session:
            charge_budget(
                session=session, study_id=self.study_id, kind=kind, amount=amount, key=key, what_for=what_for,
                experiment_id=experiment_id,
            )  # fmt: skip

    def seconds_left(self) -> float | None:
        """Until the deadline (a running job is killed there), or None."""
        return None if self.limits.deadline is None else max(0.0, self.limits.deadline - self.clock())
