"""A small but complete study seeded through the store's public API, shared by report and web tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aar.config import REPO_ROOT
from aar.store import (
    AgentEventBase,
    CurvePointBase,
    ExperimentCreate,
    ExperimentStatus,
    HypothesisCreate,
    HypothesisStatus,
    LLMCallCreate,
    ScoreBase,
    Store,
    StudyCreate,
    charge_budget,
    create_experiment,
    create_hypothesis,
    create_study,
    finish_experiment,
    record_event,
    record_llm_call,
    start_experiment,
    update_hypothesis,
)

TEMPLATES = REPO_ROOT / "experiment_templates"
TUNED_MARK = "# tuned: stronger auxiliary confidence"


@dataclass
class Seeded:
    """Ids of what `seed_study` created."""

    study_id: int
    name: str
    hypotheses: dict[str, int] = field(default_factory=dict)
    experiments: dict[str, list[int]] = field(default_factory=dict)
    pgr: dict[str, list[float]] = field(default_factory=dict)


def code(path: Path) -> bytes:
    """The bytes of a method file in the repository's templates."""
    return path.read_bytes()


def seed_study(store: Store, name: str = "demo") -> Seeded:
    """A finished study: naive and aux_conf arms (3 seeds each), a refined child, a failure, LLM calls."""
    naive = store.put_artifact(
        code(TEMPLATES / "probe" / "method.py"), kind="code", media_type="text/x-python"
    )
    aux_bytes = code(TEMPLATES / "methods" / "aux_conf.py")
    aux = store.put_artifact(aux_bytes, kind="code", media_type="text/x-python")
    tuned = store.put_artifact(
        aux_bytes + f"\n{TUNED_MARK}\n".encode(), kind="code", media_type="text/x-python"
    )
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(
            name=name, goal="Beat naive PGR on rotten_tomatoes", task="rotten_tomatoes",
            pair="static64→minilm-l6", policy="builtin", feedback_mode="dev",
            budget_limits={"usd": 5.0, "device_seconds": 3600.0}))  # fmt: skip
        assert study.id is not None
        seeded = Seeded(study_id=study.id, name=name)
        h_naive = _hypothesis(session, study.id, "Naive training on weak labels", None)
        h_aux = _hypothesis(session, study.id, "Auxiliary confidence loss helps", None)
        h_tuned = _hypothesis(session, study.id, "Stronger confidence weight helps more", h_aux)
        seeded.hypotheses = {"naive": h_naive, "aux": h_aux, "tuned": h_tuned}
    audit = {"audit": [{"rule": "no-network", "message": "passed"}, "smoke run passed"]}
    arms = [
        ("naive", h_naive, naive, {"lr": 0.001}, [0.10, 0.12, 0.08], {}),
        ("aux_conf", h_aux, aux, {"alpha": 0.5}, [0.40, 0.35, 0.45], {}),
        ("aux_conf_tuned", h_tuned, tuned, {"alpha": 0.9}, [0.50, 0.48], audit),
    ]
    for method, hypothesis_id, sha, hparams, pgrs, extra in arms:
        ids = [
            _finished(store, study.id, hypothesis_id, sha, method, hparams, seed, pgr, extra)
            for seed, pgr in enumerate(pgrs)
        ]
        seeded.experiments[method] = ids
        seeded.pgr[method] = pgrs
    seeded.experiments["failed"] = [_failed(store, study.id, h_aux, aux)]
    seeded.experiments["ablation"], seeded.experiments["final"] = _finalist(store, study.id, h_tuned, tuned)
    _findings_and_calls(store, seeded)
    return seeded


def _hypothesis(session: object, study_id: int, text: str, parent: int | None) -> int:
    hypothesis = create_hypothesis(session=session, study_id=study_id,  # type: ignore[arg-type]
                                   hypothesis_in=HypothesisCreate(text=text, parent_id=parent,
                                                                  rationale=f"why: {text}"))  # fmt: skip
    assert hypothesis.id is not None
    return hypothesis.id


def queue(
    store: Store, study_id: int, hypothesis_id: int | None, sha: str | None, config: dict, seed: int
) -> int:
    """Queue one experiment and return its id."""
    with store.session() as session:
        experiment = create_experiment(session=session, study_id=study_id, experiment_in=ExperimentCreate(
            hypothesis_id=hypothesis_id, template="probe", method_sha256=sha, config=config, seed=seed))  # fmt: skip
        assert experiment.id is not None
        return experiment.id


def scores(split: str, pgr: float, width: float = 0.05) -> list[ScoreBase]:
    """PGR with its CI and the accuracies, under the metric names `aar.recording` writes."""
    return [ScoreBase(split=split, metric="pgr", value=pgr, ci_low=pgr - width, ci_high=pgr + width),
            ScoreBase(split=split, metric="w2s_acc", value=0.63 + 0.13 * pgr),
            ScoreBase(split=split, metric="weak_acc", value=0.63),
            ScoreBase(split=split, metric="ceiling_acc", value=0.76)]  # fmt: skip


def finish_ok(
    store: Store, experiment_id: int, pgr: float, split: str = "dev", test_pgr: float | None = None
) -> None:
    """Start and finish an experiment with a PGR, accuracies and a curve (and a sealed-test PGR)."""
    test = scores("test", test_pgr, 0.06) if test_pgr is not None else []
    with store.session() as session:
        start_experiment(session=session, experiment_id=experiment_id)
    with store.session() as session:
        finish_experiment(
            session=session, experiment_id=experiment_id, status=ExperimentStatus.OK, device_seconds=30.0,
            scores=scores(split, pgr) + test,
            curve=[CurvePointBase(step=s, split=split, accuracy=0.63 + 0.13 * pgr * s / 3, pgr=pgr * s / 3)
                   for s in range(4)])  # fmt: skip


def _finished(store: Store, study_id: int, hypothesis_id: int, sha: str, method: str,
              hparams: dict, seed: int, pgr: float, extra: dict) -> int:  # fmt: skip
    config = {"method": method, "template": "probe", "hparams": hparams, "role": "search", **extra}
    experiment_id = queue(store, study_id, hypothesis_id, sha, config, seed)
    finish_ok(store, experiment_id, pgr)
    return experiment_id


def _failed(store: Store, study_id: int, hypothesis_id: int, sha: str) -> int:
    experiment_id = queue(
        store, study_id, hypothesis_id, sha, {"method": "aux_conf", "hparams": {"alpha": 5}}, 0
    )
    log = store.put_artifact(b'{"event": "nan loss at step 2"}\n', kind="log", media_type="application/jsonl")
    with store.session() as session:
        start_experiment(session=session, experiment_id=experiment_id)
    with store.session() as session:
        finish_experiment(session=session, experiment_id=experiment_id, status=ExperimentStatus.FAILED,
                          error="loss became NaN", log_sha256=log, device_seconds=5.0)  # fmt: skip
    return experiment_id


def _finalist(store: Store, study_id: int, hypothesis_id: int, sha: str) -> tuple[list[int], list[int]]:
    """The winner's sealed-test rerun and its weak-label-shuffle ablation, as the graph records them."""
    config = {"method": "aux_conf_tuned", "template": "probe", "hparams": {"alpha": 0.9}, "seeds": [0, 1, 2]}
    ablation = queue(
        store, study_id, hypothesis_id, sha, {**config, "role": "ablation:shuffled_weak_labels"}, 0
    )
    finish_ok(store, ablation, 0.05, test_pgr=0.05)
    final_config = {**config, "role": "final", "integrity_flags": ["weak-label shuffle ablation kept 80% of PGR"],
                    "integrity": {"ablation_experiment_id": ablation, "vs_shuffled": "better"}}  # fmt: skip
    final = queue(store, study_id, hypothesis_id, sha, final_config, 0)
    finish_ok(store, final, 0.47, test_pgr=0.44)
    return [ablation], [final]


def _findings_and_calls(store: Store, seeded: Seeded) -> None:
    prompt = store.put_artifact(b"Propose a hypothesis <about> W2S", kind="prompt", media_type="text/plain")
    reply = store.put_artifact(b'{"hypothesis": "aux conf"}', kind="response", media_type="application/json")
    with store.session() as session:
        update_hypothesis(session=session, hypothesis_id=seeded.hypotheses["naive"],
                          status=HypothesisStatus.REFUTED, finding="naive PGR is about 0.1")  # fmt: skip
        update_hypothesis(session=session, hypothesis_id=seeded.hypotheses["tuned"],
                          status=HypothesisStatus.SUPPORTED, finding="alpha 0.9 lifts PGR to 0.49")  # fmt: skip
        call = record_llm_call(session=session, study_id=seeded.study_id, call_in=LLMCallCreate(
            node="propose", provider="fake", model="scripted", tokens_in=1200, tokens_out=300,
            cost_usd=0.0123, latency_s=1.5, prompt_sha256=prompt, response_sha256=reply))  # fmt: skip
        charge_budget(session=session, study_id=seeded.study_id, kind="usd", amount=0.0123,
                      what_for="propose", llm_call_id=call.id)  # fmt: skip
        record_event(session=session, study_id=seeded.study_id, event_in=AgentEventBase(
            node="analyze", message="aux_conf beats naive", hypothesis_id=seeded.hypotheses["aux"],
            experiment_id=seeded.experiments["aux_conf"][0]))  # fmt: skip
