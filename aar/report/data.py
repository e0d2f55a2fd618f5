"""What a study's report and dashboard show, read from the store: runs, method arms, flags, code.

Every number here comes from the store's rows; the only arithmetic is a mean (with a bootstrap CI)
over the experiments of one method configuration. Experiment.config keys read here (written by the
agent when it queues an experiment):

- `method` (str): the method's name, e.g. a library method ("aux_conf") or the agent's own name.
- `hparams` (dict): the hyperparameters the method ran with; experiments with equal method and
  hparams form one *arm*, whose seeds are pooled.
- `seeds` (list[int], optional): when one experiment ran several seeds; else `Experiment.seed`.
- `role` (str, optional): `baseline` | `search` | `low_rung` (a multi-fidelity search's cheap first
  look: `fidelity` says its seeds and w2s_train share) | `final` (a finalist's sealed-test rerun) |
  `ablation:<name>` (an integrity ablation) | `tuned_baseline` (naive tuned on dev with the winner's
  trial count; `tuning` says its trials). Low-rung, final, ablation and tuned-baseline runs stay out of
  the methods table; final runs fill the sealed-test table, the baselines its reference rows.
- `integrity_flags` (list[str] | dict[str, str], optional): integrity-check findings to surface.
- `integrity` (dict, optional): details of the finalist checks; `ablation_experiment_id` links the
  weak-label-shuffle run whose test PGR the sealed-test table shows beside the finalist's.
- `audit` (list[str | dict], optional): the static audit's findings on the method code.

Score metrics read: `pgr` (with its CI), the weak-to-strong model's accuracy `w2s_acc`, `weak_acc` and
`ceiling_acc` (aliases `accuracy` / `w2s_accuracy`, `weak_accuracy`, `strong_ceiling` /
`ceiling_accuracy` are accepted).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from aar.researchers.feedback import MECHANISM
from aar.store.models import Experiment, ExperimentStatus, Score
from aar.w2s.stats import MIN_SEEDS, bootstrap_ci, too_few_seeds

PGR = "pgr"
W2S_ACC = ("w2s_acc", "accuracy", "w2s_accuracy")
WEAK_ACC = ("weak_acc", "weak_accuracy")
CEILING_ACC = ("ceiling_acc", "strong_ceiling", "ceiling_accuracy")
BOOTSTRAP_DRAWS = 1_000_000


@dataclass(frozen=True)
class Interval:
    """A value with its confidence interval (bounds None when unknown) over `n` experiments or seeds."""

    mean: float | None
    lo: float | None = None
    hi: float | None = None
    n: int = 0


@dataclass(frozen=True)
class Metric:
    """A recorded score: its value and confidence interval (bounds None when unknown)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class Run:
    """One experiment with its recorded scores, as the report sees it."""

    id: int
    number: int
    status: str
    template: str
    method: str
    hparams: dict[str, Any]
    seeds: list[int]
    hypothesis_id: int | None
    method_sha256: str | None
    device_seconds: float | None
    config: dict[str, Any]
    scores: dict[tuple[str, str], Metric] = field(default_factory=dict)

    def score(self, split: str, *metrics: str) -> Metric | None:
        """The first recorded score on `split` among `metrics` (aliases of one quantity)."""
        for metric in metrics:
            if (found := self.scores.get((split, metric))) is not None:
                return found
        return None

    def value(self, split: str, *metrics: str) -> float | None:
        """The value of `score(split, *metrics)`, None when not recorded."""
        found = self.score(split, *metrics)
        return None if found is None else found.value

    @property
    def role(self) -> str:
        """Why the agent ran it (`config["role"]`): baseline, search, final, ablation:…; "" if unsaid."""
        role = self.config.get("role")
        return role if isinstance(role, str) else ""

    @property
    def in_search(self) -> bool:
        """True for runs that compare methods: not a finalist's sealed rerun, not an integrity ablation,
        not a multi-fidelity search's low rung (`low_rung`: fewer seeds and w2s_train rows)."""
        kept_out = ("final", "low_rung", "tuned_baseline")  # tuned_baseline: naive tuned in finalize
        return self.role not in kept_out and not self.role.startswith("ablation")

    @property
    def arm(self) -> tuple[str, str, str]:
        """The method configuration this run belongs to: (template, method, hparams as JSON)."""
        return self.template, self.method, json.dumps(self.hparams, sort_keys=True, default=str)


@dataclass
class MethodRow:
    """One method's best arm: its PGR (mean and CI over the arm's runs) and accuracies."""

    method: str
    template: str
    hparams: dict[str, Any]
    split: str
    pgr: Interval
    weak: float | None
    ceiling: float | None
    w2s: float | None
    seeds: list[int]
    arm_runs: list[Run]
    method_runs: int

    @property
    def best_run(self) -> Run:
        """The arm's run with the highest PGR (its code stands for the arm)."""
        return max(self.arm_runs, key=lambda r: _sort_value(r.value(self.split, PGR)))


def _sort_value(value: float | None) -> float:
    return -math.inf if value is None or math.isnan(value) else value


def method_name(config: dict[str, Any], template: str, method_sha256: str | None) -> str:
    """The method's name from its config, else its code hash, else the template's own method."""
    name = config.get("method")
    if isinstance(name, str) and name:
        return name
    return f"code {method_sha256[:8]}" if method_sha256 else f"{template} (template)"


def seeds_of(config: dict[str, Any], seed: int) -> list[int]:
    """The seeds one experiment ran: `config["seeds"]` when it lists several, else its own seed."""
    seeds = config.get("seeds")
    if isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds):
        return [int(s) for s in seeds]
    return [seed]


_RUN_COLUMNS = (
    Experiment.id,
    Experiment.number,
    Experiment.status,
    Experiment.template,
    Experiment.config,
    Experiment.seed,
    Experiment.hypothesis_id,
    Experiment.method_sha256,
    Experiment.device_seconds,
)
_SCORE_COLUMNS = (Score.experiment_id, Score.split, Score.metric, Score.value, Score.ci_low, Score.ci_high)


def load_runs(*, session: Session, study_id: int, statuses: tuple[str, ...] | None = None) -> list[Run]:
    """Every experiment of the study (optionally only those in `statuses`) with all its scores.

    Reads plain columns rather than ORM objects: a study may hold tens of thousands of experiments.
    """
    query = select(*_RUN_COLUMNS).where(Experiment.study_id == study_id).order_by(col(Experiment.number))  # type: ignore[call-overload]
    if statuses is not None:
        query = query.where(col(Experiment.status).in_(statuses))
    runs = {row[0]: _run(*row) for row in session.exec(query).all()}
    score_query = (
        select(*_SCORE_COLUMNS)  # type: ignore[call-overload]
        .join(Experiment, col(Experiment.id) == Score.experiment_id)
        .where(Experiment.study_id == study_id)
    )
    for experiment_id, split, metric, value, low, high in session.exec(score_query).all():
        if (run := runs.get(experiment_id)) is not None:
            run.scores[(split, metric)] = Metric(value, low, high)
    return list(runs.values())


def _run(
    id: int,
    number: int,
    status: str,
    template: str,
    config: Any,
    seed: int,
    hypothesis_id: int | None,
    method_sha256: str | None,
    device_seconds: float | None,
) -> Run:
    config = config if isinstance(config, dict) else {}
    hparams = config.get("hparams")
    return Run(
        id=id,
        number=number,
        status=status,
        template=template,
        method=method_name(config, template, method_sha256),
        hparams=hparams if isinstance(hparams, dict) else {},
        seeds=seeds_of(config, seed),
        hypothesis_id=hypothesis_id,
        method_sha256=method_sha256,
        device_seconds=device_seconds,
        config=config,
    )


def primary_split(runs: list[Run]) -> str:
    """The split the agent's feedback used: `dev` when any dev PGR is recorded, else `test`."""
    return "dev" if any(("dev", PGR) in r.scores for r in runs) else "test"


def pgr_interval(runs: list[Run], split: str) -> Interval:
    """PGR of an arm: a single run's recorded CI, or a mean with a bootstrap CI over several runs."""
    scored = [s for r in runs if (s := r.score(split, PGR)) is not None]
    if len(scored) == 1:
        only = scored[0]
        return Interval(only.value, only.ci_low, only.ci_high, len(runs[0].seeds))
    if not scored:
        return Interval(None)
    # The bootstrap costs n_boot × n draws: cap it so an arm with hundreds of runs stays fast.
    n_boot = max(1_000, min(10_000, BOOTSTRAP_DRAWS // len(scored)))
    estimate = bootstrap_ci([s.value for s in scored], n_boot=n_boot)
    return Interval(estimate.mean, _finite(estimate.lo), _finite(estimate.hi), estimate.n)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return sum(present) / len(present) if present else None


def method_rows(runs: list[Run], split: str) -> list[MethodRow]:
    """One row per method, for its best arm by mean PGR on `split`, best method first."""
    arms: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    per_method: dict[str, int] = defaultdict(int)
    for run in runs:
        if run.status == ExperimentStatus.OK and run.in_search:
            arms[run.arm].append(run)
            per_method[run.method] += 1
    best: dict[str, MethodRow] = {}
    for (template, method, _), arm_runs in arms.items():
        row = _arm_row(template, method, arm_runs, split, per_method[method])
        current = best.get(method)
        if current is None or _sort_value(row.pgr.mean) > _sort_value(current.pgr.mean):
            best[method] = row
    return sorted(best.values(), key=lambda r: _sort_value(r.pgr.mean), reverse=True)


def _arm_row(template: str, method: str, runs: list[Run], split: str, method_runs: int) -> MethodRow:
    return MethodRow(
        method=method,
        template=template,
        hparams=runs[0].hparams,
        split=split,
        pgr=pgr_interval(runs, split),
        weak=_mean([r.value(split, *WEAK_ACC) for r in runs]),
        ceiling=_mean([r.value(split, *CEILING_ACC) for r in runs]),
        w2s=_mean([r.value(split, *W2S_ACC) for r in runs]),
        seeds=sorted({s for r in runs for s in r.seeds}),
        arm_runs=runs,
        method_runs=method_runs,
    )


@dataclass(frozen=True)
class Flag:
    """An integrity or audit finding worth a reviewer's attention."""

    subject: str
    message: str


def config_flags(config: dict[str, Any]) -> list[str]:
    """The integrity flags an experiment's config records (`integrity_flags`: a list or a mapping)."""
    raw = config.get("integrity_flags")
    if isinstance(raw, dict):
        return [f"{key}: {value}" for key, value in raw.items() if value not in (False, None, "")]
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return [str(raw)] if isinstance(raw, str) and raw else []


def audit_findings(config: dict[str, Any]) -> list[str]:
    """The audit findings an experiment's config records (`audit`: strings or {rule, message} dicts)."""
    raw = config.get("audit")
    items = raw if isinstance(raw, list) else [raw] if raw else []
    out = []
    for item in items:
        if isinstance(item, dict):
            rule = item.get("rule") or item.get("check") or ""
            message = item.get("message") or item.get("detail") or json.dumps(item, default=str)
            out.append(f"{rule}: {message}" if rule else str(message))
        else:
            out.append(str(item))
    return out


def integrity_flags(runs: list[Run], rows: list[MethodRow], split: str) -> list[Flag]:
    """Flags recorded on experiments, plus checks on the numbers: PGR above 1 and winners on < MIN_SEEDS seeds."""
    flags = [Flag(f"experiment {r.number}", message) for r in runs for message in config_flags(r.config)]
    for run in runs:
        value = run.value(split, PGR)
        if value is not None and value > 1.0:
            flags.append(
                Flag(f"experiment {run.number}", f"PGR {value:.3f} on {split} exceeds 1 (beats ceiling)")
            )
    if rows and rows[0].pgr.n < MIN_SEEDS:
        flags.append(
            Flag(
                f"method {rows[0].method}",
                f"the best method's comparisons are {too_few_seeds(rows[0].pgr.n)}",
            )
        )
    return flags + dev_ci_flags(runs, rows, split)


def dev_ci_flags(runs: list[Run], rows: list[MethodRow], split: str) -> list[Flag]:
    """The dev winner's sealed-test reruns whose test PGR falls below its dev CI: a dev score that does
    not hold on unseen data (overfit to dev, or dev labels probed)."""
    if split != "dev" or not rows or rows[0].pgr.lo is None:
        return []
    winner, lo, hi = rows[0], rows[0].pgr.lo, rows[0].pgr.hi
    arm_ids = {r.id for r in winner.arm_runs}
    flags = []
    for run in runs:
        test = run.value("test", PGR)
        linked = run.config.get("search_experiment_id") in arm_ids or run.arm == winner.arm_runs[0].arm
        if run.role == "final" and linked and test is not None and test < lo:
            flags.append(Flag(f"method {winner.method}", f"sealed-test PGR {test:.3f} (experiment {run.number}) "
                              f"is below its dev CI [{lo:.3f}, {hi if hi is not None else math.nan:.3f}]: "
                              "its dev score does not hold on unseen data (dev overfit, or dev labels probed)"))  # fmt: skip
    return flags


def feedback_mechanism(mode: str | None) -> str:
    """What the researcher saw of ground truth during the study (the report states it)."""
    if mode == "blind":
        return "Blind: the researcher saw no ground-truth score, only label-free signals."
    return MECHANISM
