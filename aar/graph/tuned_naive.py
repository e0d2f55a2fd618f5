"""Tuned naive: the naive baseline given the tuning budget the study's winner had.

The winner reached finalize after its lr/epochs (and method parameters) were tried on dev over several
experiments, while naive ran once at the template's defaults: a Δ against that naive credits the method
with what tuning alone buys. Here naive's searched template hyperparameters (`SEARCHED_TEMPLATE_KEYS`:
lr, epochs) get as many trials as the winner had distinct search configurations (capped at
`MAX_TRIALS`): the defaults first (the study's cached naive), then Optuna TPE points warm-started with
every trial so far. The best configuration by mean **dev** PGR is the tuned naive; only its sealed-test
scores are used (each trial's job predicts dev and test together; the others' test scores are never read).

Trusted and host-side in both feedback modes: naive is the library's method, its trials run as trusted
baseline jobs (`Setup.trusted`: a pool slot, clamped to the deadline, charged as `baseline:` device
seconds, no experiments), and dev labels are read on the host, never shown to a researcher. So blind mode
tunes naive on dev too. Device seconds only, not experiments: the experiment budget counts the
researcher's own runs (its reserve for finalists, `minimum_experiments`, stays as it was), and a baseline
is charged the way naive and the ceiling are. Tuning stops early, with the reason, at the deadline (no
trial starts that its expected time would not fit), the device-seconds limit, or `aar stop`; the best of
the trials run so far is the tuned naive then, and the report says how many of how many ran.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import optuna

from aar.budget import MIN_WALL_S, NAIVE_TUNING_TRIALS, BudgetExceeded
from aar.graph.control import StopRequested
from aar.graph.runtime import FALLBACK_JOB_S, Runtime
from aar.progress import fmt_hparams
from aar.recording import record_result
from aar.researchers.builtin import SEARCHED_TEMPLATE_KEYS, distribution, inside
from aar.researchers.types import Outcome
from aar.w2s.experiment import ExperimentResult, naive_baseline

log = logging.getLogger(__name__)

MAX_TRIALS = NAIVE_TUNING_TRIALS  # at most this many, however many configurations the winner had (the
# finalize time reserve counts them: aar.budget.finalize_reserve)
ROLE = "tuned_baseline"  # the experiment role of the picked configuration's run (not a search run)
DURATION_KEY = "tuned_naive"  # rt.durations: this phase's trial times, the next trial's estimate


@dataclass
class Trial:
    """One naive configuration run on the finalists' seeds; `dev_pgr` is what the pick is made on."""

    hparams: dict[str, Any]  # the searched keys, resolved over the template's defaults
    result: ExperimentResult

    @property
    def dev_pgr(self) -> float:
        return self.result.estimate("dev", "pgr").mean


@dataclass
class TunedNaive:
    """The tuning's outcome: the trials run, the picked one (best dev PGR), and why it stopped short."""

    wanted: int
    trials: list[Trial] = field(default_factory=list)
    stopped: str = ""  # why fewer than `wanted` trials ran ("" when all ran)
    experiment_id: int | None = None

    @property
    def best(self) -> Trial | None:
        """The trial with the highest mean dev PGR (the first on a tie: the defaults win ties)."""
        scored = [t for t in self.trials if t.result.status == "ok" and not math.isnan(t.dev_pgr)]
        return max(scored, key=lambda t: t.dev_pgr) if scored else None

    def summary(self) -> dict[str, Any]:
        """What the tuned run's experiment row keeps (`config["tuning"]`): JSON, no NaN."""
        best = self.best
        return {
            "wanted": self.wanted, "ran": len(self.trials), "stopped": self.stopped,
            "picked": best.hparams if best else None,
            "trials": [{"hparams": t.hparams, "dev_pgr": _num(t.dev_pgr)} for t in self.trials],
        }  # fmt: skip


def trial_count(outcomes: list[Outcome], winner: Outcome, cap: int = MAX_TRIALS) -> int:
    """The winner's distinct search configurations (every run of its method, any fidelity or status:
    each was a try on dev), at least 1 and at most `cap`."""
    configs = {json.dumps(o.hparams, sort_keys=True) for o in outcomes if o.method == winner.method}
    return max(1, min(cap, len(configs)))


def tune_naive(rt: Runtime, outcomes: list[Outcome], winner: Outcome, seeds: list[int]) -> TunedNaive:
    """Tune naive on dev with the winner's trial count; record the picked run (role `tuned_baseline`)."""
    tuned = TunedNaive(wanted=trial_count(outcomes, winner))
    space = _space(rt)
    while len(tuned.trials) < tuned.wanted:
        if reason := _no_room(rt):
            tuned.stopped = reason
            break
        overrides = _next_point(space, tuned.trials, rt) if tuned.trials else {}
        try:
            tuned.trials.append(_run_trial(rt, seeds, overrides))
        except BudgetExceeded as exc:  # the trial's job ran into the deadline
            tuned.stopped = f"budget: {exc.limit}"
            break
    if (best := tuned.best) is not None:
        tuned.experiment_id = record_result(
            rt.store, study_id=rt.study_id, result=best.result,
            method_path=rt.setup.template.dir.parent / "methods" / "naive.py",
            extra_config={"role": ROLE, "tuning": tuned.summary() | {"winner": winner.method}},
        )  # fmt: skip
    rt.event("finalize", describe(tuned), experiment_id=tuned.experiment_id)
    return tuned


def describe(tuned: TunedNaive) -> str:
    """One line for the study's log: trials run, the pick and its dev PGR, why it stopped short."""
    best = tuned.best
    short = f" ({tuned.stopped})" if tuned.stopped else ""
    if best is None:
        return f"tuned naive: no usable trial ({len(tuned.trials)} of {tuned.wanted} ran){short}"
    return (
        f"tuned naive: {len(tuned.trials)} of {tuned.wanted} trial(s) on dev{short}; picked "
        f"{fmt_hparams(best.hparams)} (dev PGR {best.dev_pgr:.3f})"
    )


def _no_room(rt: Runtime) -> str:
    """Why no further trial may start ("" when one may): a stop request, the deadline, the device limit."""
    try:
        rt.check_stop()
    except StopRequested as exc:
        return f"stopped: {exc.reason}"
    expected = rt.eta(DURATION_KEY) or rt.eta("baseline") or rt.eta("search") or FALLBACK_JOB_S
    if (left := rt.budget.seconds_left()) is not None and left < max(MIN_WALL_S, expected):
        return f"deadline: {left:.0f} s left, a trial takes ~{expected:.0f} s"
    limit = rt.budget.limits.device_seconds
    if limit is not None and rt.budget.used()["device_seconds"] >= limit:
        return "budget: device_seconds"
    return ""


def _run_trial(rt: Runtime, seeds: list[int], overrides: dict[str, Any]) -> Trial:
    """Naive with `overrides` (none: the study's own, cached naive) as a trusted baseline job, timed."""
    started = time.monotonic()
    with rt.progress.phase(f"finalize: tuned naive {fmt_hparams(overrides) or 'at defaults'}"):
        result = naive_baseline(rt.setup, seeds, overrides or None)
    rt.durations.setdefault(DURATION_KEY, []).append(time.monotonic() - started)
    resolved = {k: v for k, v in rt.setup.hparams.items() if k in SEARCHED_TEMPLATE_KEYS} | overrides
    return Trial(resolved, result)


def _space(rt: Runtime) -> dict[str, optuna.distributions.BaseDistribution]:
    """Naive's search space: the template's space over the searched keys (lr, epochs)."""
    space = rt.setup.template.space
    return {k: distribution(v) for k, v in space.items() if k in SEARCHED_TEMPLATE_KEYS}


def _next_point(
    space: dict[str, optuna.distributions.BaseDistribution], trials: list[Trial], rt: Runtime
) -> dict[str, Any]:
    """A new TPE point, the sampler warm-started with every trial so far (a repeat is asked again)."""
    sampler = optuna.samplers.TPESampler(seed=rt.study_id + len(trials), n_startup_trials=4)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for t in trials:
        params = {k: t.hparams[k] for k in space if k in t.hparams and inside(space[k], t.hparams[k])}
        if not math.isnan(t.dev_pgr) and len(params) == len(space):
            study.add_trial(optuna.trial.create_trial(params=params, distributions=space, value=t.dev_pgr))
    seen = [t.hparams for t in trials]
    point: dict[str, Any] = {}
    for _ in range(8):
        point = study.ask(space).params
        if point not in seen:
            break
    return point


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value
