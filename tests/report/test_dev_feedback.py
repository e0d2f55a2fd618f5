"""The report states the dev-feedback mechanism and flags a dev winner whose sealed test falls below its dev CI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aar.report import write_report
from aar.report.data import dev_ci_flags, load_runs, method_rows
from aar.store import Store
from tests.report.seed import Seeded


def test_a_winner_whose_sealed_test_falls_below_its_dev_ci_is_flagged(store: Store, seeded: Seeded) -> None:
    with store.session() as session:
        runs = load_runs(session=session, study_id=seeded.study_id)
    rows = method_rows(runs, "dev")
    winner = rows[0]
    assert winner.pgr.lo is not None
    (final,) = [r for r in runs if r.role == "final"]
    final.scores[("test", "pgr")] = replace(final.scores[("test", "pgr")], value=winner.pgr.lo + 0.001)
    assert dev_ci_flags(runs, rows, "dev") == []  # inside the dev CI: the dev score held
    final.scores[("test", "pgr")] = replace(final.scores[("test", "pgr")], value=winner.pgr.lo - 0.05)
    (flag,) = dev_ci_flags(runs, rows, "dev")
    assert flag.subject == f"method {winner.method}" and "below its dev CI" in flag.message
    assert dev_ci_flags(runs, rows, "test") == []  # only a dev-fed study has a dev CI to hold


def test_report_states_what_the_researcher_saw(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    md = write_report(store, seeded.name, out=tmp_path / "r.md").read_text()
    html = write_report(store, seeded.name, out=tmp_path / "r.html").read_text()
    for text in (md, html):
        assert "Feedback to the researcher:" in text and "Laplace noise" in text and "rounded to 0.01" in text
