"""One experiment: a method on a setup for several seeds, run as one job, scored by the host.

The job sees only what the trust boundary allows (see jobs.py); the host reads the predictions back,
checks them, and scores them against labels it alone holds: per seed, per eval step, on dev and test.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aar.w2s.baselines import WeakLabels, ceiling, weak_labels
from aar.w2s.cache import content_hash, file_hash, load_arrays, save_arrays
from aar.w2s.fidelity import w2s_subset
from aar.w2s.jobs import JobOutcome, SeedData, run_trusted, write_job_data
from aar.w2s.predictions import InvalidOutput, SeedPredictions, read_seed_predictions
from aar.w2s.scoring import accuracy, auroc, min_gap, pgr
from aar.w2s.setup import Setup
from aar.w2s.stats import (
    Comparison,
    Correct,
    Estimate,
    bootstrap_ci,
    paired_comparison,
    paired_delta,
    pgr_estimate,
)
from aar.w2s.templates import build_code_dir, method_meta, unmet_requirement

# (code dir, data dir, out dir) -> outcome; the sandbox layer provides these for untrusted code.
CORRECT_KEYS = ("weak", "ceiling", "w2s")
JobRunner = Callable[[Path, Path, Path], JobOutcome]


@dataclass
class ExperimentSpec:
    """A method (file) on a setup, with hyperparameter overrides and seeds."""

    setup: Setup
    method_path: Path
    method_name: str
    seeds: list[int]
    overrides: dict[str, Any] = field(default_factory=dict)
    eval_splits: tuple[str, ...] = ("dev", "test")
    # Integrity ablation: "shuffle" permutes the weak labels across w2s_train (a W2S method must care).
    weak_label_transform: str = ""
    threads: int = 0  # torch threads inside the job (0 = torch's default)
    # Low fidelity (aar/w2s/fidelity.py): train on this share of w2s_train, rows the host picks from the
    # split seed (the same for every such run of the study); dev and test are never subsampled.
    w2s_fraction: float = 1.0

    @property
    def hparams(self) -> dict[str, Any]:
        return {**self.setup.template.defaults, **self.overrides}


@dataclass
class SplitScores:
    """Per-seed scores on one split, and the PGR curve over eval steps."""

    weak_acc: float
    ceiling_acc: float
    w2s_acc: float
    w2s_auroc: float
    pgr: float | None
    curve: list[dict[str, float | None]]
    # Label-free signals (usable in blind mode): agreement of the final predictions with the weak labels,
    # and mean confidence |2p - 1|.
    weak_agreement: float = math.nan
    confidence: float = math.nan
    # Label-free degeneracy signals: share of predictions above 0.5, and the std of p (0 = constant).
    positive_rate: float = math.nan
    spread: float = math.nan
    # Per example, in the split's order: "1" where the weak model / ceiling / student was right. The
    # paired seeds × examples bootstrap (aar/w2s/stats.py) resamples these; {} in results kept before.
    correct: dict[str, str] = field(default_factory=dict)


@dataclass
class SeedResult:
    seed: int
    splits: dict[str, SplitScores]


@dataclass
class ExperimentResult:
    """Everything measured, and summaries across seeds (mean with bootstrap CI)."""

    task: str
    pair: str
    template: str
    method: str
    seeds: list[int]
    hparams: dict[str, Any]
    status: str
    seconds: float
    seed_results: list[SeedResult] = field(default_factory=list)
    error: str = ""
    job_seconds: float = 0.0  # wall time of the method job itself (what the device budget is charged)
    sandbox: str = "in-process"

    def values(self, split: str, metric: str) -> list[float]:
        out = []
        for r in self.seed_results:
            v = getattr(r.splits[split], metric)
            out.append(math.nan if v is None else float(v))
        return out

    def estimate(self, split: str, metric: str) -> Estimate:
        """Seed mean with its CI: for PGR over seeds and examples when per-example scores are kept."""
        if metric == "pgr" and (c := self.correct(split)) is not None:
            return pgr_estimate(c, min_gap(c.n))
        return bootstrap_ci(self.values(split, metric))

    def correct(self, split: str) -> Correct | None:
        """Per-example correctness of every seed on `split`; None when any seed lacks it."""
        rows = [r.splits[split].correct for r in self.seed_results if split in r.splits]
        if not rows or len(rows) != len(self.seed_results) or not all(rows):
            return None
        mats = {k: np.array([[ch == "1" for ch in row[k]] for row in rows], dtype=bool) for k in CORRECT_KEYS}
        if len({m.shape for m in mats.values()}) != 1:
            return None
        return Correct(tuple(r.seed for r in self.seed_results), mats["weak"], mats["ceiling"], mats["w2s"])

    def compare(self, other: ExperimentResult, split: str = "dev") -> Comparison:
        """This result's PGR minus `other`'s on their shared seeds: paired over seeds and examples when
        both kept per-example scores on the same examples, else paired over seeds only."""
        a, b = self.correct(split), other.correct(split)
        if a is not None and b is not None and a.n == b.n:
            return paired_delta(a, b, min_gap(a.n))
        return paired_comparison(self.pgr_by_seed(split), other.pgr_by_seed(split))

    def pgr_by_seed(self, split: str = "dev") -> dict[int, float]:
        out: dict[int, float] = {}
        for r in self.seed_results:
            value = r.splits[split].pgr
            out[r.seed] = math.nan if value is None else value
        return out

    def mean_curve(self, split: str) -> list[dict[str, float]]:
        """PGR and accuracy per eval step, averaged over the seeds that have that step."""
        steps: dict[float, list[dict[str, float | None]]] = {}
        for r in self.seed_results:
            for point in r.splits[split].curve:
                steps.setdefault(float(point["step"] or 0), []).append(point)
        out = []
        for step, points in sorted(steps.items()):
            pgrs = [p["pgr"] for p in points if p["pgr"] is not None]
            out.append({
                "step": step,
                "accuracy": float(np.mean([p["accuracy"] for p in points])),
                "pgr": float(np.mean(pgrs)) if pgrs else math.nan,
            })  # fmt: skip
        return out

    def to_json(self) -> dict[str, Any]:
        main = "test" if self.seed_results and "test" in self.seed_results[0].splits else "dev"
        summary = {}
        for split in self.seed_results[0].splits if self.seed_results else []:
            est = self.estimate(split, "pgr")
            summary[split] = {
                "weak_acc": _nanmean(self.values(split, "weak_acc")),
                "ceiling_acc": _nanmean(self.values(split, "ceiling_acc")),
                "w2s_acc": _nanmean(self.values(split, "w2s_acc")),
                "w2s_auroc": _nanmean(self.values(split, "w2s_auroc")),
                "weak_agreement": _nanmean(self.values(split, "weak_agreement")),
                "confidence": _nanmean(self.values(split, "confidence")),
                "pgr": _clean(est.mean), "pgr_ci": [_clean(est.lo), _clean(est.hi)], "pgr_std": _clean(est.std),
                "degenerate_seeds": [r.seed for r in self.seed_results if r.splits[split].pgr is None],
                "curve": [{k: _clean(v) for k, v in p.items()} for p in self.mean_curve(split)],
            }  # fmt: skip
        head = summary.get(main, {})
        return {
            "task": self.task, "pair": self.pair, "template": self.template, "method": self.method,
            "seeds": self.seeds, "hparams": self.hparams, "status": self.status, "error": self.error,
            "seconds": round(self.seconds, 2), "split": main,
            **{k: head.get(k) for k in ("weak_acc", "ceiling_acc", "w2s_acc", "pgr", "pgr_ci")},
            "splits": summary,
            "per_seed": [{"seed": r.seed, **{s: _json_scores(v) for s, v in r.splits.items()}} for r in self.seed_results],
        }  # fmt: skip


def result_from_json(data: dict[str, Any], *, status: str = "ok", error: str = "") -> ExperimentResult:
    """Rebuild a result from `ExperimentResult.to_json()` (as kept in the store)."""
    result = ExperimentResult(
        data.get("task", ""), data.get("pair", ""), data.get("template", ""), data.get("method", ""),
        list(data.get("seeds", [])), dict(data.get("hparams", {})), data.get("status", status), float(data.get("seconds", 0.0)),
        error=data.get("error", error),
    )  # fmt: skip
    for row in data.get("per_seed", []):
        splits = {split: _scores_from_json(s) for split, s in row.items() if split != "seed"}
        result.seed_results.append(SeedResult(int(row["seed"]), splits))
    return result


def _scores_from_json(s: dict[str, Any]) -> SplitScores:
    def num(key: str) -> float:
        return math.nan if s.get(key) is None else float(s[key])

    return SplitScores(
        num("weak_acc"), num("ceiling_acc"), num("w2s_acc"), num("w2s_auroc"), s.get("pgr"), s.get("curve", []),
        num("weak_agreement"), num("confidence"), num("positive_rate"), num("spread"), dict(s.get("correct") or {}),
    )  # fmt: skip


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _nanmean(xs: list[float]) -> float | None:
    good = [x for x in xs if not math.isnan(x)]
    return float(np.mean(good)) if good else None


def _json_scores(s: SplitScores) -> dict[str, Any]:
    d = asdict(s)
    return {k: _clean(v) for k, v in d.items() if k != "curve"} | {"curve": s.curve}


# ---- building the job ------------------------------------------------------------------------------


def _roles(spec: ExperimentSpec) -> list[str]:
    pair = spec.setup.pair
    if _requires(spec).get("intermediate"):
        pair = pair.with_default_intermediate()
    return ["strong"] + [f"intermediate_{i}" for i in range(len(pair.intermediates))]


def _chain(spec: ExperimentSpec) -> dict[str, Any]:
    pair = spec.setup.pair
    if len(_roles(spec)) > 1:
        pair = pair.with_default_intermediate()
    return {"strong": pair.strong, **{f"intermediate_{i}": r for i, r in enumerate(pair.intermediates)}}


def _transform(spec: ExperimentSpec, seed: int, weak: WeakLabels) -> WeakLabels:
    if spec.weak_label_transform != "shuffle":
        return weak
    order = np.random.default_rng([seed, 99]).permutation(len(weak.w2s_train))
    return WeakLabels(weak.w2s_train[order], weak.dev, weak.test, weak.members[order])


def _requires(spec: ExperimentSpec) -> dict[str, Any]:
    """The method's `REQUIRES` literal (validated by `method_meta`), {} when it declares none."""
    requires: dict[str, Any] = method_meta(spec.method_path).get("REQUIRES", {})
    return requires


def _seed_data(
    spec: ExperimentSpec, seed: int, weak: WeakLabels, features: dict[str, dict[str, np.ndarray]]
) -> SeedData:
    """One seed of a method job: no ground truth; weak_train inputs only if the method asks for them;
    at low fidelity only the host-chosen rows of w2s_train (`w2s_subset`)."""
    sp = spec.setup.splits
    weak = _transform(spec, seed, weak)
    rows = w2s_subset(len(sp.w2s_train), spec.w2s_fraction, spec.setup.split_seed)
    eval_examples = [e for split in spec.eval_splits for e in sp.get(split)]
    with_weak_train = bool(_requires(spec).get("weak_train_inputs"))
    role_feats = {
        role: {
            "w2s_train": f["w2s_train"][rows], "dev": f["dev"],
            "eval": np.concatenate([f[s] for s in spec.eval_splits]),
        } | ({"weak_train": f["weak_train"]} if with_weak_train else {})
        for role, f in features.items()
    }  # fmt: skip
    return SeedData(
        seed,
        sp.weak_train if with_weak_train else None,
        [sp.w2s_train[i] for i in rows],
        weak.w2s_train[rows],
        sp.dev,
        weak.dev,
        eval_examples,
        weak.members[rows],
        role_feats,
    )


def _config(spec: ExperimentSpec) -> dict[str, Any]:
    chain = _chain(spec)
    models = {role: spec.setup.model_spec(rung) for role, rung in chain.items()}
    return {
        "template": spec.setup.template.name,
        "method": spec.method_name,
        "hparams": spec.hparams,
        "roles": list(chain),
        "models": models,
        "threads": spec.threads,
    }


def build_job(spec: ExperimentSpec, job_dir: Path) -> tuple[Path, Path, Path]:
    """Write /code and /data for the experiment under `job_dir`; returns (code, data, out)."""
    setup = spec.setup
    chain = _chain(spec)
    features = (
        {role: setup.features(rung) for role, rung in chain.items()} if setup.template.uses_features else {}
    )
    seeds = [_seed_data(spec, s, weak_labels(setup, s), features) for s in spec.seeds]
    code = build_code_dir(setup.template, spec.method_path, job_dir / "code")
    data = write_job_data(job_dir / "data", _config(spec), seeds)
    out = job_dir / "out"
    out.mkdir(parents=True, exist_ok=True)
    return code, data, out


# ---- scoring -----------------------------------------------------------------------------------------


def score_split(
    y: np.ndarray, weak_p: np.ndarray, ceil_p: np.ndarray, preds: SeedPredictions, sl: slice
) -> SplitScores:
    weak_acc, ceil_acc, gap = accuracy(weak_p, y), accuracy(ceil_p, y), min_gap(len(y))
    final = preds.final[sl]
    curve: list[dict[str, float | None]] = []
    for step, p in preds.steps.items():
        acc = accuracy(p[sl], y)
        curve.append({"step": float(step), "accuracy": acc, "pgr": pgr(weak_acc, ceil_acc, acc, gap).value})
    w2s = accuracy(final, y)
    scores = SplitScores(
        weak_acc, ceil_acc, w2s, auroc(final, y), pgr(weak_acc, ceil_acc, w2s, gap).value, curve
    )
    scores.correct = {k: _bits(p, y) for k, p in zip(CORRECT_KEYS, (weak_p, ceil_p, final), strict=True)}
    if len(final):
        scores.weak_agreement = float(np.mean((final > 0.5) == (weak_p > 0.5)))
        scores.confidence = float(np.mean(np.abs(2 * final - 1)))
        scores.positive_rate, scores.spread = float(np.mean(final > 0.5)), float(np.std(final))
    return scores


def _bits(p: np.ndarray, y: np.ndarray) -> str:
    """Per example, "1" where P(label=1) thresholded at 0.5 is right (as `accuracy` counts it)."""
    return "".join("1" if ok else "0" for ok in (np.asarray(p) > 0.5).astype(int) == np.asarray(y))


def score_seed(spec: ExperimentSpec, seed: int, preds: SeedPredictions) -> SeedResult:
    setup = spec.setup
    weak, ceil = weak_labels(setup, seed), ceiling(setup, seed)
    baseline = {"dev": (weak.dev, ceil.dev), "test": (weak.test, ceil.test)}
    out, start = {}, 0
    for split in spec.eval_splits:
        n = len(setup.splits.get(split))
        out[split] = score_split(setup.labels(split), *baseline[split], preds, slice(start, start + n))
        start += n
    return SeedResult(seed, out)


def empty_result(
    spec: ExperimentSpec, status: str, error: str = "", seconds: float = 0.0
) -> ExperimentResult:
    """A result with no scores yet (or none at all: a failed job, `error` one short reason)."""
    setup = spec.setup
    return ExperimentResult(
        setup.task, setup.pair.name, setup.template.name, spec.method_name, spec.seeds, spec.hparams,
        status, seconds, error=error,
    )  # fmt: skip


def run_experiment(spec: ExperimentSpec, runner: JobRunner | None = None) -> ExperimentResult:
    """Run the experiment (trusted in-process when `runner` is None) and score it on the host.

    Whatever the job writes, a contract violation ends as status `invalid_output` with a one-line error.
    """
    started = time.monotonic()
    setup = spec.setup
    if unmet := unmet_requirement(spec.method_path, setup.template):  # before anything is trained or launched
        return empty_result(spec, "failed", unmet)
    result = empty_result(spec, "ok")
    for s in spec.seeds:  # baselines first: cached, shared, and needed for scoring anyway
        weak_labels(setup, s), ceiling(setup, s)
    with tempfile.TemporaryDirectory(prefix="aar-job-") as tmp:
        code, data, out = build_job(spec, Path(tmp))
        job_started = time.monotonic()
        if runner is None:
            run_trusted(setup.template.runner, data, out, code / "method.py")
            result.job_seconds = time.monotonic() - job_started
        else:
            outcome = runner(code, data, out)
            result.job_seconds, result.sandbox = outcome.seconds, outcome.sandbox
            if outcome.status != "ok":
                result.status, result.error = outcome.status, outcome.stderr_tail[-2000:]
                result.seconds = time.monotonic() - started
                return result
        ids = [e.id for split in spec.eval_splits for e in setup.splits.get(split)]
        try:
            result.seed_results = [
                score_seed(spec, s, read_seed_predictions(out / f"seed_{s}", ids)) for s in spec.seeds
            ]
        except InvalidOutput as exc:
            result.status, result.error = "invalid_output", exc.reason
    result.seconds = time.monotonic() - started
    return result


def naive_baseline(setup: Setup, seeds: list[int], hparams: dict[str, Any] | None = None) -> ExperimentResult:
    """The naive weak→strong baseline (library `naive` method, baseline hyperparameters), cached per seed.

    `hparams` override the baseline's (a tuned naive's trial, aar/graph/tuned_naive.py); the weak model
    and the ceiling stay the setup's."""
    method = setup.template.dir.parent / "methods" / "naive.py"
    spec = ExperimentSpec(setup, method, "naive", seeds, {**setup.baseline_hparams, **(hparams or {})})
    tuned = [hparams] if hparams else []  # a default naive keeps its cache key
    key = content_hash(
        "naive", setup.key_parts(), setup.pair.name, file_hash(method), seeds, setup.calibration, *tuned
    )
    path = setup.cache_dir / "baselines" / f"naive{'-tuned' if hparams else ''}-{key}.npz"
    ids = [e.id for split in spec.eval_splits for e in setup.splits.get(split)]
    if (hit := load_arrays(path)) is not None:
        result = ExperimentResult(
            setup.task, setup.pair.name, setup.template.name, "naive", seeds, spec.hparams, "ok", 0.0
        )
        result.seed_results = [score_seed(spec, s, _preds_from_arrays(hit, s)) for s in seeds]
        return result
    with tempfile.TemporaryDirectory(prefix="aar-naive-") as tmp:
        code, data, out = build_job(spec, Path(tmp))
        label = f"baseline: naive {setup.pair.name}, seeds {seeds}{f', {hparams}' if hparams else ''}"  # the ledger's line
        run_trusted(setup.template.runner, data, out, code / "method.py", setup.trusted, label=label)
        preds = {s: read_seed_predictions(out / f"seed_{s}", ids) for s in seeds}
    save_arrays(path, **{f"s{s}_{k}": v for s, p in preds.items() for k, v in _preds_to_arrays(p).items()})
    result = ExperimentResult(
        setup.task, setup.pair.name, setup.template.name, "naive", seeds, spec.hparams, "ok", 0.0
    )
    result.seed_results = [score_seed(spec, s, preds[s]) for s in seeds]
    return result


def _preds_to_arrays(p: SeedPredictions) -> dict[str, np.ndarray]:
    return {
        "final": p.final,
        "steps": np.array(list(p.steps), dtype=int),
        "stepp": np.stack(list(p.steps.values())),
    }


def _preds_from_arrays(a: dict[str, np.ndarray], seed: int) -> SeedPredictions:
    steps = {int(s): a[f"s{seed}_stepp"][i] for i, s in enumerate(a[f"s{seed}_steps"])}
    return SeedPredictions(a[f"s{seed}_final"], steps)
