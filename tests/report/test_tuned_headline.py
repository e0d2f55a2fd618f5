"""The headline gives the winner's sealed-test Δ against naive at defaults AND against naive tuned on dev
with the winner's tuning budget (issue 12 item 3); the verdict is the tuned one's. The tuned run is a
reference row of the sealed-test table, never an arm of the methods table."""

from __future__ import annotations

from pathlib import Path

from aar.report.gather import gather
from aar.report.render import write_report
from aar.store import Store, merge_experiment_config
from tests.report.seed import Seeded, finish_ok, queue
from tests.report.test_headline import headline_of

VS_NAIVE = "Δ 0.300 [0.200, 0.400] (5 wins / 0 losses): better"
VS_TUNED = "Δ 0.050 [-0.020, 0.120] (3 wins / 2 losses): inside noise"
TUNING = {
    "wanted": 4, "ran": 3, "stopped": "deadline: 20 s left, a trial takes ~45 s", "picked": {"lr": 0.0012, "epochs": 20},
    "trials": [{"hparams": {"lr": 0.003, "epochs": 10}, "dev_pgr": 0.1}, {"hparams": {"lr": 0.0012, "epochs": 20}, "dev_pgr": 0.3},
               {"hparams": {"lr": 0.0091, "epochs": 2}, "dev_pgr": None}],
}  # fmt: skip


def with_tuned_naive(store: Store, seeded: Seeded) -> int:
    """What finalize records: the finalist's two Δs and verdict, and the tuned naive's run."""
    with store.session() as session:
        merge_experiment_config(session=session, experiment_id=seeded.experiments["final"][0], extra={"integrity": {
            "ablation_experiment_id": seeded.experiments["ablation"][0], "test_vs_naive": VS_NAIVE,
            "test_vs_tuned_naive": VS_TUNED, "verdict": "inside noise"}})  # fmt: skip
    config = {"method": "naive", "template": "probe", "hparams": {"lr": 0.0012, "epochs": 20},
              "role": "tuned_baseline", "tuning": TUNING, "seeds": [0, 1, 2]}  # fmt: skip
    tuned = queue(store, seeded.study_id, None, None, config, 0)
    finish_ok(store, tuned, 0.30, test_pgr=0.39)
    return tuned


def test_the_headline_shows_both_deltas_and_judges_against_the_tuned_naive(
    store: Store, seeded: Seeded, tmp_path: Path
) -> None:
    tuned = with_tuned_naive(store, seeded)
    data = gather(store, seeded.name)
    assert data.headline is not None and data.headline.verdict == "inside noise"
    assert len(data.methods) == 3 and all(r.id != tuned for m in data.methods for r in m.arm_runs)  # no arm
    assert [t.run.id for t in data.tests if t.reference][-1] == tuned
    text = write_report(store, seeded.name, fmt="md", out=tmp_path / "r.md").read_text()
    head = headline_of(text)
    assert f"against naive at the template's defaults on the same seeds and examples: {VS_NAIVE}." in head
    assert (
        "against naive tuned on dev with the winner's tuning budget (3 of 4 trial(s) on dev, picked "
        f"lr=0.0012, epochs=20 (deadline: 20 s left, a trial takes ~45 s)): {VS_TUNED}. "
        "**Verdict (against the tuned naive): inside noise.**"
    ) in head
    assert "(baseline: reference): naive tuned on dev: 3 of 4 trial(s)" in text  # the sealed-test table
    html = write_report(store, seeded.name, fmt="html", out=tmp_path / "r.html").read_text()
    assert "<b>Verdict (against the tuned naive): inside noise.</b>" in html


def test_without_a_tuned_naive_the_headline_says_so(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    head = headline_of(write_report(store, seeded.name, fmt="md", out=tmp_path / "r.md").read_text())
    assert "No tuned naive to compare with" in head and "Verdict (against the tuned naive)" not in head
