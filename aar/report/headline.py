"""The study's headline, selection-aware: the dev winner's sealed-test PGR with its CI, the dev PGR it
was picked on beside it, its sealed-test Δ against naive at the template's defaults and against naive
tuned on dev with as many trials as the winner had (aar/graph/tuned_naive.py; the verdict is judged
against the tuned one), and how far dev scores dropped on the sealed test across the finalists.

The winner is chosen as the best of many arms on dev, so its dev PGR is biased upwards (the winner's
curse); only the sealed test split, scored once per finalist, estimates what it recovers on unseen data.
"""

from __future__ import annotations

from dataclasses import dataclass

from aar.progress import fmt_hparams
from aar.report.data import PGR, Interval, MethodRow, Run


@dataclass(frozen=True)
class Drop:
    """Dev PGR minus sealed-test PGR of one finalist (its selection score against its unseen score)."""

    run: Run
    dev: float
    dev_lo: float | None
    test: float

    @property
    def value(self) -> float:
        return self.dev - self.test

    @property
    def inside_dev_ci(self) -> bool | None:
        """Whether the sealed-test PGR lies at or above the dev CI's lower bound (None: no dev CI)."""
        return None if self.dev_lo is None else self.test >= self.dev_lo

    @property
    def miss(self) -> float:
        """How far the sealed-test PGR falls below the dev CI's lower bound (0 when inside)."""
        return 0.0 if self.dev_lo is None else max(0.0, self.dev_lo - self.test)


@dataclass(frozen=True)
class Headline:
    """The winner's sealed-test PGR (None when it has no sealed-test run) with dev beside it."""

    winner: MethodRow
    test: Interval | None
    final_run: Run | None
    vs_naive: str  # the sealed-test paired Δ against naive (same seeds and examples), when recorded
    drops: list[Drop]
    naive_drop: float | None  # naive's dev − test: the shift between splits with no selection at all
    vs_tuned: str = ""  # the same Δ against naive tuned on dev with the winner's trial count
    tuned: str = ""  # how that naive was tuned: trials run of those due, the configuration picked
    verdict: str = ""  # better | worse | inside noise | inconclusive …: against the tuned naive

    @property
    def dev(self) -> Interval:
        return self.winner.pgr

    @property
    def mean_drop(self) -> float | None:
        return sum(d.value for d in self.drops) / len(self.drops) if self.drops else None

    @property
    def inside(self) -> int:
        """Finalists whose sealed-test PGR lies inside (or above) their dev CI."""
        return sum(1 for d in self.drops if d.inside_dev_ci)

    @property
    def max_miss(self) -> float:
        return max((d.miss for d in self.drops), default=0.0)


def headline(runs: list[Run], methods: list[MethodRow], split: str) -> Headline | None:
    """The headline of a study whose methods were ranked on dev; None when nothing ranked or the
    ranking split is the test split itself (no selection on dev to correct for)."""
    if not methods or split != "dev":
        return None
    winner = methods[0]
    finals = [r for r in runs if r.role == "final" and r.score("test", PGR) is not None]
    mine = [r for r in finals if _linked(r, winner)]
    final = max(mine, key=lambda r: r.number) if mine else None
    test = None
    if final is not None and (score := final.score("test", PGR)) is not None:
        test = Interval(score.value, score.ci_low, score.ci_high, len(final.seeds))
    return Headline(
        winner=winner,
        test=test,
        final_run=final,
        vs_naive=_detail(final, "test_vs_naive"),
        drops=[d for r in finals if (d := _drop(r, runs, methods)) is not None],
        naive_drop=_naive_drop(runs),
        vs_tuned=_detail(final, "test_vs_tuned_naive"),
        tuned=tuned_note(runs),
        verdict=_detail(final, "verdict"),
    )


def tuned_note(runs: list[Run]) -> str:
    """How the study's tuned naive was tuned ("" when it has none): trials run, the configuration picked."""
    run = max((r for r in runs if r.role == "tuned_baseline"), key=lambda r: r.number, default=None)
    tuning = run.config.get("tuning") if run is not None else None
    if not isinstance(tuning, dict):
        return ""
    picked = tuning.get("picked") or {}
    shown = fmt_hparams(picked)
    note = f"{tuning.get('ran')} of {tuning.get('wanted')} trial(s) on dev, picked {shown or 'the defaults'}"
    return f"{note} ({tuning['stopped']})" if tuning.get("stopped") else note


def _linked(final: Run, row: MethodRow) -> bool:
    """Is `final` the sealed-test rerun of `row`'s arm (by the search run it names, or by its arm)?"""
    ids = {r.id for r in row.arm_runs}
    return final.config.get("search_experiment_id") in ids or final.arm == row.arm_runs[0].arm


def _drop(final: Run, runs: list[Run], methods: list[MethodRow]) -> Drop | None:
    """The finalist's dev PGR (its arm's, as it was selected) minus its sealed-test PGR."""
    row = next((m for m in methods if _linked(final, m)), None)
    test = final.value("test", PGR)
    if test is None:
        return None
    if row is not None and row.pgr.mean is not None:
        return Drop(final, row.pgr.mean, row.pgr.lo, test)
    by_id = {r.id: r for r in runs}
    source = by_id.get(final.config.get("search_experiment_id") or -1)
    score = source.score("dev", PGR) if source is not None else None
    return Drop(final, score.value, score.ci_low, test) if score is not None else None


def _naive_drop(runs: list[Run]) -> float | None:
    for run in runs:
        dev, test = run.value("dev", PGR), run.value("test", PGR)
        if run.role == "baseline" and dev is not None and test is not None:
            return dev - test
    return None


def _detail(final: Run | None, key: str) -> str:
    """A text the finalist's checks stored (its run's `integrity`), "" when absent."""
    details = final.config.get("integrity") if final is not None else None
    found = details.get(key) if isinstance(details, dict) else None
    return found if isinstance(found, str) else ""
