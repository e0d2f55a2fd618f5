import json
import shutil
from pathlib import Path

import pytest

from aar.sandbox.local import LocalSandbox
from aar.scheduler import sandbox_runner
from aar.w2s import experiment
from aar.w2s.experiment import ExperimentSpec, build_job, naive_baseline, run_experiment
from aar.w2s.scoring import accuracy
from aar.w2s.templates import resolve_method
from tests.conftest import TEMPLATES


def local_runner():
    """A plain subprocess (these methods are ours; the sandboxes are tested in tests/sandbox)."""
    return sandbox_runner(LocalSandbox(unsafe_local=True), "local")


def spec(setup, method="naive", seeds=(0, 1), **kw):
    return ExperimentSpec(setup, resolve_method(method, TEMPLATES), method, list(seeds), **kw)


def test_job_data_holds_no_forbidden_labels(probe_setup, tmp_path: Path):
    _, data, _ = build_job(spec(probe_setup, eval_splits=("dev",)), tmp_path)
    seed = data / "seed_0"
    for split in ("w2s_train", "dev", "eval"):
        for line in (seed / f"{split}.jsonl").read_text().splitlines():
            assert "label" not in json.loads(line)
    assert not (seed / "weak_train.jsonl").exists()  # method jobs get no weak_train (tests/w2s/test_jobs.py)
    eval_ids = [json.loads(x)["id"] for x in (seed / "eval.jsonl").read_text().splitlines()]
    assert eval_ids == [e.id for e in probe_setup.splits.dev]  # dev only: the sealed test stays out


def keeping_outputs(runner, into: Path):
    """`runner`, with a copy of each job's /out kept in `into` (the sandbox's is deleted after the job)."""

    def run(code: Path, data: Path, out: Path):
        outcome = runner(code, data, out)
        shutil.copytree(out, into)
        return outcome

    return run


def hand_accuracy(p, examples) -> float:
    """Accuracy by hand from predictions (in split order) and the examples' own labels (no aar scoring)."""
    return sum((float(pi) > 0.5) == (e.label == 1) for pi, e in zip(p, examples, strict=True)) / len(examples)


def raw_predictions(path: Path) -> dict[str, float]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["id"]: float(row["p"]) for row in rows}


def test_scores_recomputed_from_predictions(probe_setup, tmp_path: Path):
    """Each seed's test accuracy and PGR equal an independent computation from the job's raw prediction
    files, the examples' labels and the weak/ceiling predictions (not aar's scoring functions)."""
    from aar.w2s.baselines import ceiling, weak_labels

    kept = tmp_path / "kept"
    result = run_experiment(spec(probe_setup, "aux_conf"), runner=keeping_outputs(local_runner(), kept))
    assert result.status == "ok", result.error
    test = probe_setup.splits.test
    for r in result.seed_results:
        s = r.splits["test"]
        p = raw_predictions(kept / f"seed_{r.seed}" / "predictions" / "final.jsonl")
        w2s = hand_accuracy([p[e.id] for e in test], test)
        weak = hand_accuracy(weak_labels(probe_setup, r.seed).test, test)
        ceil = hand_accuracy(ceiling(probe_setup, r.seed).test, test)
        assert (s.w2s_acc, s.weak_acc, s.ceiling_acc) == pytest.approx((w2s, weak, ceil))
        assert s.pgr == pytest.approx((w2s - weak) / (ceil - weak))
        assert s.curve and s.curve[-1]["step"] >= s.curve[0]["step"]
    data = result.to_json()
    for key in ("task", "pair", "method", "seeds", "weak_acc", "ceiling_acc", "w2s_acc", "pgr", "pgr_ci"):
        assert key in data
    assert data["pgr"] == pytest.approx(sum(r.splits["test"].pgr for r in result.seed_results) / 2)
    assert data["pgr_ci"][0] <= data["pgr"] <= data["pgr_ci"][1]


def test_naive_baseline_matches_naive_experiment_and_is_cached(probe_setup, monkeypatch):
    """The cached baseline scores what running the library's naive method as an experiment scores."""
    first = naive_baseline(probe_setup, [0, 1])
    ran = run_experiment(spec(probe_setup, "naive", overrides=dict(probe_setup.baseline_hparams)))
    assert ran.status == "ok", ran.error
    for split in ("dev", "test"):
        assert first.values(split, "w2s_acc") == pytest.approx(ran.values(split, "w2s_acc"))
        assert first.pgr_by_seed(split) == pytest.approx(ran.pgr_by_seed(split))
    monkeypatch.setattr(
        experiment, "run_trusted", lambda *a, **k: pytest.fail("naive baseline was not cached")
    )
    again = naive_baseline(probe_setup, [0, 1])
    assert first.pgr_by_seed("test") == again.pgr_by_seed("test")


def test_method_that_lies_about_ids_is_invalid_output(probe_setup, tmp_path: Path):
    bad = tmp_path / "liar.py"
    bad.write_text(
        "import json, os\n"
        "def train(ctx):\n"
        "    os.makedirs(ctx.out_dir / 'predictions', exist_ok=True)\n"
        "    (ctx.out_dir / 'metrics.json').write_text(json.dumps({'pgr': 1.0}))\n"
        "    (ctx.out_dir / 'predictions' / 'final.jsonl').write_text(json.dumps({'id': 'made-up', 'p': 1}) + '\\n')\n"
    )
    s = ExperimentSpec(probe_setup, bad, "liar", [0])
    result = run_experiment(s, runner=local_runner())
    assert result.status == "invalid_output" and "unexpected id" in result.error


def test_crashing_method_is_failed_with_its_error(probe_setup, tmp_path: Path):
    bad = tmp_path / "crash.py"
    bad.write_text("def loss(logits, weak_p, progress, ctx):\n    raise RuntimeError('boom from method')\n")
    result = run_experiment(ExperimentSpec(probe_setup, bad, "crash", [0]), runner=local_runner())
    assert result.status == "failed" and "boom from method" in result.error


def test_weak_accuracy_is_the_supervisors(probe_setup):
    from aar.w2s.baselines import weak_labels

    result = run_experiment(spec(probe_setup, seeds=(0,)))
    assert result.seed_results[0].splits["dev"].weak_acc == accuracy(
        weak_labels(probe_setup, 0).dev, probe_setup.labels("dev")
    )
