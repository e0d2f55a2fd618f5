"""Study budgets: limits on LLM dollars and tokens, device-seconds, experiments and a wall-clock deadline.

Usage comes from the store's ledger (every charge is a row), so a resumed study counts what it already
spent exactly once. Device-seconds cover every job: method jobs and the trusted baseline jobs (weak model,
ceiling, naive; charged by `charge_baseline`, shown apart as "baselines"). Every LLM call and every launch
is checked first with an estimate; in-flight launches hold a reservation, so parallel launches cannot
together overrun a limit by more than one job.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aar.errors import AarError, UserError
from aar.progress import fmt_seconds

if TYPE_CHECKING:  # the store is imported where it is used: `aar run` checks budgets before it loads
    from aar.store import Store
    from aar.store.queries import BudgetLine

KINDS = ("usd", "tokens", "device_seconds", "experiments")
# A job's wall-clock limit when no deadline is near, and the least worth starting a job with.
DEFAULT_WALL_S = 3600.0
MIN_WALL_S = 5.0


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
    # Seconds before the deadline kept back for finalize and the report: search stops this much earlier.
    finalize_reserve_s: float = 0.0
    _reserved: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def used(self) -> dict[str, float]:
        from aar.store import budget_used

        with self.store.session() as session:
            used = budget_used(session=session, study_id=self.study_id)
        return {kind: used.get(kind, 0.0) for kind in KINDS}

    def remaining(self) -> dict[str, float | None]:
        """What is left of each limit (None: unlimited), as the researcher sees it: rounded (dollars to
        the cent, the rest whole), `deadline_s` counting to the end of search (finalize's time kept)."""
        used = self.used()
        left: dict[str, float | None] = {}
        for kind in KINDS:
            limit = getattr(self.limits, kind)
            left[kind] = (
                None if limit is None else max(0.0, limit - used[kind] - self._reserved.get(kind, 0.0))
            )
        left["deadline_s"] = self.search_seconds_left()
        return {k: None if v is None else round(v, 2 if k == "usd" else None) for k, v in left.items()}

    def exhausted(self) -> str | None:
        """The first limit already reached, if any."""
        used = self.used()
        for kind in KINDS:
            limit = getattr(self.limits, kind)
            if limit is not None and used[kind] >= limit:
                return kind
        if self.search_seconds_left() == 0.0:
            return "deadline"
        return None

    def _check(self, estimates: dict[str, float]) -> None:
        if self.search_seconds_left() == 0.0:
            raise BudgetExceeded("deadline", self._deadline_detail())
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

    def reserve_launch(self, est_device_seconds: float, *, experiments: float = 1.0) -> None:
        """Before a launch: check, then hold its `experiments` (a low-fidelity run holds its share of one)
        and its estimated device time until `release`.

        Device time is allowed to overrun by at most the one job that starts under the limit.
        """
        with self._lock:
            self._check({"experiments": experiments + self.hold_back, "device_seconds": est_device_seconds})
            self._reserved["experiments"] = self._reserved.get("experiments", 0.0) + experiments
            self._reserved["device_seconds"] = self._reserved.get("device_seconds", 0.0) + est_device_seconds

    def release(self, est_device_seconds: float, *, experiments: float = 1.0) -> None:
        """Give back what `reserve_launch` held (once the launch is charged or abandoned)."""
        with self._lock:
            self._reserved["experiments"] = max(0.0, self._reserved.get("experiments", 0.0) - experiments)
            self._reserved["device_seconds"] = max(
                0.0, self._reserved.get("device_seconds", 0.0) - est_device_seconds
            )

    def charge(
        self, kind: str, amount: float, *, key: str, what_for: str = "", experiment_id: int | None = None
    ) -> None:
        """Add a ledger row (idempotent per `key`)."""
        from aar.store import charge_budget

        with self.store.session() as session:
            charge_budget(
                session=session, study_id=self.study_id, kind=kind, amount=amount, key=key, what_for=what_for,
                experiment_id=experiment_id,
            )  # fmt: skip

    def charge_baseline(self, device_seconds: float, what_for: str) -> None:
        """A trusted baseline job's device time: kind device_seconds (counted against the same limit), keyed
        as a baseline so the ledger, `aar show` and the report tell it apart from method jobs'."""
        from aar.store import charge_baseline

        with self.store.session() as session:
            charge_baseline(
                session=session, study_id=self.study_id, device_seconds=device_seconds, what_for=what_for
            )

    def check_time(self) -> None:
        """Between chunks of long host work (embedding): raise BudgetExceeded("deadline") once the deadline
        is (within MIN_WALL_S) reached."""
        left = self.seconds_left()
        if left is not None and left < MIN_WALL_S:
            raise BudgetExceeded("deadline", self._deadline_detail(final=True))

    def seconds_left(self) -> float | None:
        """Until the deadline (a running job is killed there), or None."""
        return None if self.limits.deadline is None else max(0.0, self.limits.deadline - self.clock())

    def search_seconds_left(self) -> float | None:
        """Until search must stop: the deadline less the time reserved for finalize and the report."""
        left = self.seconds_left()
        return None if left is None else max(0.0, left - self.finalize_reserve_s)

    def wall_limit(self, *, final: bool, default_s: float = DEFAULT_WALL_S) -> float:
        """A job's wall-clock limit: `default_s`, clamped to the time its phase has left.

        Raises BudgetExceeded("deadline") when no time is left at all.
        """
        left = self.seconds_left() if final else self.search_seconds_left()
        if left is None:
            return default_s
        if left < MIN_WALL_S:
            raise BudgetExceeded("deadline", self._deadline_detail(final=final))
        return min(default_s, left)

    def _deadline_detail(self, *, final: bool = False) -> str:
        if final or self.finalize_reserve_s <= 0:
            return "the study's deadline has passed"
        return f"search time is up; the last {fmt_seconds(self.finalize_reserve_s)} are reserved for finalize"

    def lines(self) -> list[BudgetLine]:
        """Limit, used and left of each kind: the one computation `show`, the report and the terminal share."""
        from aar.store import Study
        from aar.store.queries import budget_lines

        with self.store.session() as session:
            study = session.get(Study, self.study_id)
            return [] if study is None else budget_lines(session=session, study=study)

    def describe(self) -> str:
        """One line for the terminal: used and left of each kind (rounded), and the time left."""
        return "; ".join(describe_lines(self.lines(), now=self.clock()))


# Finalize's time, before a finalist job was timed: a search job's time, 1.2x for scoring dev and the
# sealed test, and a quarter more per extra seed the finalists run (measured on the probe template: a
# 5-seed finalist job took 1.35x a 1-seed search job; the rest of a job is start-up and data).
FINAL_EVAL_FACTOR = 1.2
PER_SEED_SHARE = 0.25
REPORT_S = 20.0
# Tuned naive (aar/graph/tuned_naive.py): naive gets at most this many dev trials in finalize, the
# defaults (the study's cached naive) first, so at most NAIVE_TUNING_TRIALS - 1 new jobs.
NAIVE_TUNING_TRIALS = 6


def finalize_reserve(
    job_seconds: Iterable[float], finalists: int, fallback_job_s: float, seed_ratio: float | None = None
) -> float:
    """Seconds to keep back for finalize: 2 runs per finalist, the naive baseline on the sealed test and
    the tuned naive's new trials (`NAIVE_TUNING_TRIALS - 1`), at the median job time seen, scaled to the
    finalists' seeds (`seed_ratio` = theirs / the jobs'), and the report. Finalize's own timed jobs need
    no scaling: pass them with `seed_ratio` None."""
    times = sorted(t for t in job_seconds if t > 0)
    per_job = times[len(times) // 2] if times else fallback_job_s
    if seed_ratio is not None:
        per_job *= FINAL_EVAL_FACTOR * (1 + PER_SEED_SHARE * (seed_ratio - 1))
    jobs = 2 * finalists + 1 + (NAIVE_TUNING_TRIALS - 1) if finalists else 0
    return jobs * per_job + REPORT_S


def minimum_experiments(per_round: int, finalists: int) -> int:
    """The smallest experiment budget that runs one full search round and every finalist check."""
    return per_round + 2 * finalists


def check_minimum(max_experiments: float | None, *, per_round: int, finalists: int) -> None:
    """Refuse (UserError) an experiment budget that cannot hold one search round plus the finalist checks."""
    need = minimum_experiments(per_round, finalists)
    if max_experiments is not None and max_experiments < need:
        raise UserError(
            f"--max-experiments {max_experiments:g} is too small: needs at least {need} experiments: "
            f"one search round ({per_round}, --per-round) plus the finalist checks "
            f"(2 for each of {finalists} finalists)"
        )


def fmt_amount(kind: str, value: float) -> str:
    """A budget amount rounded for people: dollars to the cent, seconds and tokens whole, experiments
    to a tenth when fractional (low-fidelity runs charge a share of one: `12.4`)."""
    if kind == "usd":
        return f"${value:.2f}"
    if kind == "experiments" and math.isfinite(value) and abs(value - round(value)) >= 0.05:
        return f"{value:,.1f}"
    if math.isfinite(value) and kind in ("tokens", "experiments", "device_seconds"):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def describe_lines(lines: Iterable[BudgetLine], *, now: float, ended: bool = False) -> list[str]:
    """Budget lines as people read them: `experiments: 3 used of 16, 13 left`, `deadline: … (8m 03s
    left)`; for a study that `ended` (then `now` is when), the time it left unused."""
    out = []
    for line in lines:
        if line.kind == "deadline":
            out += [] if line.limit is None else [_deadline(line.limit, now, ended)]
            continue
        used = fmt_amount(line.kind, line.used)
        if line.limit is None or line.left is None:
            text = f"{line.kind}: {used} used, no limit"
        else:
            text = f"{line.kind}: {used} used of {fmt_amount(line.kind, line.limit)}, {fmt_amount(line.kind, line.left)} left"
        out.append(text + (f" ({part})" if (part := baselines_part(line)) else ""))
    return out


def baselines_part(line: BudgetLine) -> str:
    """`baselines 40, method jobs 80`: how device-seconds used divide, when baseline jobs ran (else "")."""
    if not line.baselines:
        return ""
    rest = max(0.0, line.used - line.baselines)
    return f"baselines {fmt_amount(line.kind, line.baselines)}, method jobs {fmt_amount(line.kind, rest)}"


def _deadline(deadline: float, now: float, ended: bool) -> str:
    """`deadline: 2026-11-28 05:12:00 UTC (8m 03s left)`; `… (passed)`; `… (2m 10s left unused at the end)`."""
    when = datetime.fromtimestamp(deadline, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = deadline - now
    if left <= 0:
        return f"deadline: {when} (passed)"
    return f"deadline: {when} ({fmt_seconds(left)} left{' unused at the end' if ended else ''})"
