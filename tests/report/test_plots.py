"""Plots render as SVG documents, with or without data."""

from __future__ import annotations

from aar.report import plots


def test_empty_plots_say_so() -> None:
    for document in (
        plots.pgr_curves({}, split="dev"),
        plots.best_so_far([], split="dev"),
        plots.pgr_by_method([], split="dev"),
        plots.budget_burn([], {}),
        plots.experiment_curve([]),
    ):
        assert "<svg" in document


def test_curves_plot_every_method() -> None:
    document = plots.pgr_curves({"a": [(0, 0.1), (1, 0.2)], "b": [(0, 0.3)]}, split="dev")
    assert document.count("<svg") == 1 and len(document) > 5000


def test_thinning_keeps_the_last_point() -> None:
    points = [(float(i), float(i)) for i in range(10_000)]
    kept = plots._thin(points)
    assert len(kept) <= plots.MAX_POINTS + 1 and kept[-1] == points[-1]
