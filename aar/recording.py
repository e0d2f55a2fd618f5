"""Writes science-core results into the results store.

One store Experiment is one job: a method and config run for all its seeds. Its scores are, per split,
the PGR mean with its bootstrap CI, the weak / ceiling / w2s accuracies, and each seed's PGR
(`pgr_seed_<n>`); its curve is the seed-averaged PGR per eval step; the full per-seed result is kept
as a JSON artifact, and the method code as a code artifact.

A method is recorded under a library method's name only when its code is byte-identical to that
library file; any other code is named by hypothesis and code hash (`h3-1a2b3c4d`, or `code-1a2b3c4d`
without a hypothesis), with the name it was derived from kept as `base_method` in the config.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from aar.config import REPO_ROOT
from aar.store import (
    CurvePointBase,
    Experiment,
    ExperimentCreate,
    ExperimentStatus,
    ScoreBase,
    Store,
    StudyCreate,
    create_experiment,
    create_study,
    finish_experiment,
    start_experiment,
)
from aar.store.crud import NotFoundError, find_study
from aar.w2s.experiment import ExperimentResult, ExperimentSpec

SUMMARY_METRICS = ("weak_acc", "ceiling_acc", "w2s_acc", "w2s_auroc")
LIBRARY_DIR = REPO_ROOT / "experiment_templates" / "methods"


def method_label(name: str, code: bytes, *, library_dir: Path, hypothesis_id: int | None) -> str:
    """The name code may be recorded under: a library method's only if byte-identical to its file.

    `name` is the claimed (or base) method. Code identical to a library file carries that file's name;
    other code claiming a library name is named by hypothesis and hash; any other name is kept.
    """
    library = {p.stem: p for p in sorted(library_dir.glob("*.py"))}
    for stem in (name, *library):
        if stem in library and library[stem].read_bytes() == code:
            return stem
    if name not in library:
        return name
    digest = hashlib.sha256(code).hexdigest()[:8]
    return f"h{hypothesis_id}-{digest}" if hypothesis_id is not None else f"code-{digest}"


def base_method_of(store: Store, experiment_id: int | None) -> dict[str, Any]:
    """`{"base_method": …}` of a recorded experiment (a finalist's search run), for its reruns' configs."""
    with store.session() as session:
        exp = session.get(Experiment, experiment_id) if experiment_id is not None else None
        base = exp.config.get("base_method") if exp is not None else None
    return {"base_method": base} if isinstance(base, str) else {}


def _named(name: str, label: str) -> dict[str, Any]:
    """Config keys for a method recorded as `label`, derived from `name`."""
    return {"method": label, **({"base_method": name} if label != name else {})}


def ensure_study(store: Store, *, name: str, goal: str, task: str, pair: str, policy: str = "manual") -> int:
    """The id of the study called `name`, created when missing."""
    with store.session() as session:
        try:
            return int(find_study(session=session, ref=name).id or 0)
        except NotFoundError:
            study = create_study(
                session=session,
                study_in=StudyCreate(name=name, goal=goal, task=task, pair=pair, policy=policy),
            )
            return int(study.id or 0)


def _finite(v: float | None) -> bool:
    return v is not None and not math.isnan(v)


def result_scores(result: ExperimentResult) -> list[ScoreBase]:
    """Per split: PGR with CI, accuracies (seed means) and each seed's PGR."""
    scores: list[ScoreBase] = []
    splits = result.seed_results[0].splits if result.seed_results else {}
    for split in splits:
        est = result.estimate(split, "pgr")
        if _finite(est.mean):
            lo, hi = (est.lo, est.hi) if _finite(est.lo) else (None, None)
            scores.append(ScoreBase(split=split, metric="pgr", value=est.mean, ci_low=lo, ci_high=hi))
        for metric in SUMMARY_METRICS:
            values = [v for v in result.values(split, metric) if _finite(v)]
            if values:
                scores.append(ScoreBase(split=split, metric=metric, value=sum(values) / len(values)))
        for seed, value in result.pgr_by_seed(split).items():
            if _finite(value):
                scores.append(ScoreBase(split=split, metric=f"pgr_seed_{seed}", value=value))
    return scores


def result_curve(result: ExperimentResult) -> list[CurvePointBase]:
    splits = result.seed_results[0].splits if result.seed_results else {}
    return [
        CurvePointBase(
            step=int(p["step"]),
            split=split,
            accuracy=p["accuracy"],
            pgr=p["pgr"] if _finite(p["pgr"]) else None,
        )
        for split in splits
        for p in result.mean_curve(split)
    ]


def start_record(
    store: Store,
    *,
    study_id: int,
    spec: ExperimentSpec,
    hypothesis_id: int | None = None,
    sandbox_kind: str = "",
    extra_config: dict[str, Any] | None = None,
    experiment_id: int | None = None,
) -> int:
    """Mark an experiment running before its job starts (a new row, or a requeued one); returns its id."""
    code = spec.method_path.read_bytes()
    method_sha = store.put_artifact(code, kind="code", media_type="text/x-python")
    setup = spec.setup
    label = method_label(
        spec.method_name, code, library_dir=setup.template.dir.parent / "methods", hypothesis_id=hypothesis_id
    )
    config = {
        **_named(spec.method_name, label), "template": setup.template.name, "task": setup.task, "pair": setup.pair.name,
        "hparams": spec.hparams, "seeds": spec.seeds, **(extra_config or {}),
    }  # fmt: skip
    with store.session() as session:
        if experiment_id is None:
            exp = create_experiment(
                session=session, study_id=study_id,
                experiment_in=ExperimentCreate(
                    hypothesis_id=hypothesis_id, template=setup.template.name, method_sha256=method_sha, config=config,
                    seed=spec.seeds[0] if spec.seeds else 0, sandbox_kind=sandbox_kind[:20],
                ),
            )  # fmt: skip
            experiment_id = int(exp.id or 0)
        start_experiment(session=session, experiment_id=experiment_id)
    return experiment_id


def finish_record(store: Store, *, experiment_id: int, result: ExperimentResult) -> None:
    """Finish a running experiment with its host-computed scores, curve and the full result artifact."""
    output_sha = store.put_artifact(
        json.dumps(result.to_json()).encode(), kind="result", media_type="application/json"
    )
    with store.session() as session:
        finish_experiment(
            session=session, experiment_id=experiment_id, status=ExperimentStatus(result.status),
            scores=result_scores(result), curve=result_curve(result), device_seconds=result.job_seconds,
            error=result.error or None, output_sha256=output_sha,
        )  # fmt: skip


def record_result(
    store: Store,
    *,
    study_id: int,
    result: ExperimentResult,
    method_path: Path,
    hypothesis_id: int | None = None,
    extra_config: dict[str, Any] | None = None,
    library_dir: Path = LIBRARY_DIR,
) -> int:
    """Create, start and finish one Experiment row for a result computed already; returns its id.

    The method is named by `method_label` against `library_dir` (the shipped method library)."""
    code = method_path.read_bytes()
    method_sha = store.put_artifact(code, kind="code", media_type="text/x-python")
    label = method_label(result.method, code, library_dir=library_dir, hypothesis_id=hypothesis_id)
    config = {
        **_named(result.method, label), "template": result.template, "task": result.task, "pair": result.pair,
        "hparams": result.hparams, "seeds": result.seeds, **(extra_config or {}),
    }  # fmt: skip
    with store.session() as session:
        exp = create_experiment(
            session=session, study_id=study_id,
            experiment_in=ExperimentCreate(
                hypothesis_id=hypothesis_id, template=result.template, method_sha256=method_sha, config=config,
                seed=result.seeds[0] if result.seeds else 0, sandbox_kind=result.sandbox[:20],
            ),
        )  # fmt: skip
        exp_id = int(exp.id or 0)
        start_experiment(session=session, experiment_id=exp_id)
    finish_record(store, experiment_id=exp_id, result=result)
    return exp_id
