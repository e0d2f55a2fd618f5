"""Plots render as SVG documents, with or without data."""

from __future__ import annotations

import math

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


def test_best_so_far_clips_ablation_outliers_with_a_marker():
    from aar.store.queries import BestSoFarPoint

    values = [0.1, 0.2, 0.15, -1.0, 0.3, 0.25, -0.9]
    points, best = [], -math.inf
    for i, v in enumerate(values, 1):
        best = max(best, v)
        points.append(BestSoFarPoint(number=i, experiment_id=i, value=v, best=best))
    shown = plots.clip_low([(p.number, p.value) for p in points], [p.best for p in points])
    assert sorted(y for _, y in shown.clipped) == [-1.0, -0.9] and shown.floor is not None
    fig = plots.best_so_far_figure(points, split="dev")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] > -0.5  # the axis is not stretched to -1
    _, labels = ax.get_legend_handles_labels()
    assert any(label.startswith("2 clipped") and "lowest -1.00" in label for label in labels)


def test_best_so_far_clips_nothing_when_nothing_is_far_below():
    assert plots.clip_low([(1, 0.1), (2, 0.05), (3, 0.2)], [0.1, 0.1, 0.2]).clipped == []
