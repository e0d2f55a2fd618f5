"""Audit findings in the report: a table of rejections, a flag each, and "rejected by audit" in the tree."""

from __future__ import annotations

from pathlib import Path

from aar.report import write_report
from aar.store import Store
from tests.report.audit_seed import PROBLEM, reject
from tests.report.seed import Seeded


def test_markdown_report_shows_audit_rejections(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    hid = reject(store, seeded.study_id)
    text = write_report(store, seeded.name, fmt="md", out=tmp_path / "r.md").read_text()
    assert f"- **H{hid}** [rejected by audit] read the labels" in text
    assert f"| H{hid} | 2 | static | {PROBLEM} | 1 |" in text
    assert (
        f"**hypothesis H{hid} (attempt 1, smoke audit)**: rejected: smoke run failed (RuntimeError)" in text
    )
    # A hypothesis abandoned after a failed run is not "rejected by audit".
    assert text.count("[rejected by audit]") == 1


def test_html_report_shows_audit_rejections(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    hid = reject(store, seeded.study_id)
    html = write_report(store, seeded.study_id, out=tmp_path / "r.html").read_text()
    assert '<span class="status rejected">rejected by audit</span>' in html and f"<b>H{hid}</b>" in html
    assert "torch.os is not allowed: it reaches the module &#39;os&#39;" in html  # escaped
    assert "(+1 more)" in html


def test_report_without_rejections_says_so(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    text = write_report(store, seeded.name, fmt="md", out=tmp_path / "r.md").read_text()
    assert "The audit rejected no code." in text and "rejected by audit" not in text
