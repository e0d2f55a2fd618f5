"""The budget-burn plot's time labels never collide (issue 11: "overlapping time labels"), on dense and
sparse timelines, few panels and many; checked on the drawn figure, label box against label box."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from aar.report import plots
from aar.store.queries import BurnPoint

START = datetime(2026, 11, 28, 23, 58, 30, tzinfo=UTC)  # across midnight: the labels change day too
ALL_KINDS = ("usd", "tokens", "device_seconds", "experiments")


def timeline(offsets_s: list[float], kinds: tuple[str, ...] = ALL_KINDS) -> list[BurnPoint]:
    """A charge of each kind at each offset from START, as the store's budget_burn query returns them."""
    points, totals = [], dict.fromkeys(kinds, 0.0)
    for i, offset in enumerate(sorted(offsets_s)):
        for kind in kinds:
            totals[kind] += 1.0 + i % 3
            at = START + timedelta(seconds=offset)
            points.append(BurnPoint(at=at, kind=kind, amount=1.0, cumulative=totals[kind], what_for="job"))
    return points


TIMELINES = {
    "dense: a charge every 5 s for 20 min": [5.0 * i for i in range(240)],
    "sparse: 6 charges over 3 days": [0, 600, 3_600 * 5, 86_400, 86_400 * 2.5, 86_400 * 3],
    "overnight: 10 h, bursts and gaps": [*range(0, 300, 10), *range(20_000, 20_200, 20), 36_000],
    "short: 3 charges in 4 s": [0.0, 1.5, 4.0],
    "one charge": [0.0],
}


def label_boxes(fig: Figure) -> list[tuple[float, float, float, float]]:
    """Each drawn x tick label and x offset text of the figure: (x0, y0, x1, y1) in pixels."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = []
    for ax in fig.axes:
        low, high = sorted(ax.get_xlim())
        texts = [t for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
        texts.append(ax.xaxis.get_offset_text())
        for text in texts:
            if text.get_visible() and text.get_text():
                b = text.get_window_extent(renderer)
                boxes.append((b.x0, b.y0, b.x1, b.y1))
    return boxes


def collisions(boxes: list[tuple[float, float, float, float]]) -> list[tuple[int, int]]:
    """Pairs of boxes whose areas intersect."""
    return [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes[i + 1 :], i + 1)
        if min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
    ]


@pytest.mark.parametrize("limits", [{"usd": 5.0, "experiments": 40.0}, {}], ids=["3 panels", "4 panels"])
@pytest.mark.parametrize("name", list(TIMELINES))
def test_time_labels_never_overlap(name: str, limits: dict[str, float]) -> None:
    fig = plots.budget_burn_figure(timeline(TIMELINES[name]), limits)
    boxes = label_boxes(fig)
    assert collisions(boxes) == [], f"{name}: overlapping labels {collisions(boxes)}"
    for ax in fig.axes:  # every panel still says when
        low, high = sorted(ax.get_xlim())
        assert [t for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high and t.get_text()]


def test_the_overlap_check_sees_an_overlap() -> None:
    assert collisions([(0, 0, 10, 5), (9, 1, 20, 6)]) == [(0, 1)]
    assert collisions([(0, 0, 10, 5), (10.5, 0, 20, 5)]) == []
    assert plots.overlapping([plots.Bbox.from_extents(0, 0, 10, 5), plots.Bbox.from_extents(9, 1, 20, 6)])


def test_the_svg_is_written() -> None:
    document = plots.budget_burn(timeline(TIMELINES["dense: a charge every 5 s for 20 min"]), {"usd": 5.0})
    assert document.startswith("<?xml") and "<svg" in document
