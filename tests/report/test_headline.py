"""The report's headline is selection-aware (issue 12): the dev winner's sealed-test PGR with its CI,
the dev PGR it was picked on beside it, and the dev → test drop across finalists."""

from __future__ import annotations

from pathlib import Path

from aar.report.gather import gather
from aar.report.render import write_report
from aar.store import Store
from tests.report.seed import Seeded, finish_ok, queue


def headline_of(text: str) -> str:
    """The Markdown report's Headline section."""
    start = text.index("## Headline")
    return text[start : text.index("## Settings")]


def test_the_headline_is_the_sealed_test_pgr_with_dev_beside_it(
    store: Store, seeded: Seeded, tmp_path: Path
) -> None:
    text = write_report(store, seeded.name, fmt="md", out=tmp_path / "r.md").read_text()
    head = headline_of(text)
    assert text.index("## Headline") < text.index("## Settings")  # first thing a reader sees
    # the winner on dev (aux_conf_tuned, dev 0.49 over its two runs) reran on the sealed test: 0.44 ± 0.06
    assert "**aux_conf_tuned**: sealed-test PGR **0.440** [0.380, 0.500] (3 seeds" in head
    assert "dev PGR 0.490 [0.480, 0.500], the score it was selected on among 3 methods" in head
    assert "mean 0.050 PGR (aux_conf_tuned 0.490 → 0.440)" in head
    assert "0 of 1 finalists' sealed-test PGR lie inside their dev CI; the worst misses it by 0.040" in head
    html = write_report(store, seeded.name, fmt="html", out=tmp_path / "r.html").read_text()
    assert "sealed-test PGR <b>0.440</b> [0.380, 0.500]" in html and "dev PGR 0.490 [0.480, 0.500]" in html


def test_drop_across_finalists_and_naive_on_the_same_split(
    store: Store, seeded: Seeded, tmp_path: Path
) -> None:
    # a second finalist (aux_conf, dev 0.40) that held up on the sealed test, and naive scored on both splits
    config = {"method": "aux_conf", "template": "probe", "hparams": {"alpha": 0.5}, "seeds": [0, 1, 2, 3, 4]}
    final = queue(store, seeded.study_id, seeded.hypotheses["aux"], None, {**config, "role": "final"}, 0)
    finish_ok(store, final, 0.41, test_pgr=0.38)
    naive_config = {"method": "naive_ref", "template": "probe", "hparams": {}, "role": "baseline"}
    naive = queue(store, seeded.study_id, None, None, naive_config, 0)
    finish_ok(store, naive, 0.05, test_pgr=0.02)
    h = gather(store, seeded.name).headline
    assert h is not None and h.winner.method == "aux_conf_tuned"
    assert sorted(round(d.value, 3) for d in h.drops) == [0.02, 0.05]  # 0.40 → 0.38 and 0.49 → 0.44
    assert h.naive_drop is not None and abs(h.naive_drop - 0.03) < 1e-9
    assert h.inside == 1 and abs(h.max_miss - 0.04) < 1e-9
    head = headline_of(write_report(store, seeded.name, fmt="md", out=tmp_path / "r.md").read_text())
    assert "across 2 finalist(s): mean 0.035 PGR" in head and "naive, never selected, drops 0.030" in head


def test_a_winner_without_a_sealed_test_run_says_so(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    # a new dev winner that never reached the sealed test: its dev score is no result
    config = {"method": "lucky", "template": "probe", "hparams": {}, "role": "search"}
    finish_ok(store, queue(store, seeded.study_id, None, None, config, 0), 0.9)
    head = headline_of(write_report(store, seeded.name, fmt="md", out=tmp_path / "r.md").read_text())
    assert "**lucky**: dev PGR 0.900" in head and "**no sealed-test result**" in head
    assert "sealed-test PGR **" not in head
