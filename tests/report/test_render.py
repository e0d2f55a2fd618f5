"""The study report: self-contained HTML, Markdown with plot files, every number from the store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aar.errors import UserError
from aar.report import write_report
from aar.store import Store, StudyCreate, create_study
from tests.report.seed import TUNED_MARK, Seeded


def test_html_report_is_self_contained(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    path = write_report(store, seeded.name, out=tmp_path / "r.html")
    html = path.read_text()
    assert html.count("<svg") >= 4
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "the report must not load anything remotely"


def test_html_report_shows_the_stores_numbers(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    html = write_report(store, seeded.study_id, out=tmp_path / "r.html").read_text()
    for method, pgrs in seeded.pgr.items():
        assert method in html
        assert f"{sum(pgrs) / len(pgrs):.3f}" in html
    assert "0.440" in html and "[0.380, 0.500]" in html  # the sealed test score
    assert "alpha 0.9 lifts PGR to 0.49" in html  # a finding
    assert "weak-label shuffle ablation kept 80% of PGR" in html  # an integrity flag
    assert TUNED_MARK in html  # the winning method's code
    assert "Beat naive PGR on rotten_tomatoes" in html


def test_markdown_report_writes_plots_beside_it(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    path = write_report(store, seeded.name, fmt="md", out=tmp_path / "out" / "study.md")
    text = path.read_text()
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert len(images) == 4
    for image in images:
        assert (path.parent / image).read_text().lstrip().startswith("<?xml")
    assert "| aux_conf_tuned | probe |" in text
    assert "```python" in text and TUNED_MARK in text


def test_default_location_is_under_results(store: Store, seeded: Seeded) -> None:
    path = write_report(store, seeded.name)
    assert path == store.artifacts.root.parent / "reports" / "demo.html"


def test_empty_study_still_reports(store: Store) -> None:
    with store.session() as session:
        create_study(session=session, study_in=StudyCreate(name="empty", goal="nothing yet"))
    html = write_report(store, "empty").read_text()
    assert "no finished experiments" in html
    assert html.count("<svg") == 4


def test_unknown_study_and_format_are_user_errors(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no study named"):
        write_report(store, "nope")
    with pytest.raises(UserError, match="unknown report format"):
        write_report(store, seeded.name, fmt="pdf", out=tmp_path / "x")  # type: ignore[arg-type]


def test_unwritable_output_is_a_user_error(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write the report"):
        write_report(store, seeded.name, out=blocker / "r.html")
