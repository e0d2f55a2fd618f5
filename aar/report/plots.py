"""Study plots as self-contained SVG (matplotlib's object API: no pyplot state, glyphs as paths).

Each function takes plain data and returns an SVG document as a string; an empty input still gives a
small figure saying so, so a page never shows a broken image.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from aar.report.data import MethodRow
from aar.store.queries import BestSoFarPoint, BurnPoint

SIZE = (6.4, 3.4)
MAX_POINTS = 2000
# Best-so-far plot: experiments more than the plot's range (and at least this) below it are clipped.
CLIP_MIN_SPAN = 0.25
# Time axes: at most this many ticks per panel, fewer until no two labels touch (see `fit_time_ticks`).
MAX_TIME_TICKS = 6
LABEL_GAP_PX = 2.0


def to_svg(fig: Figure) -> str:
    """Render a figure as an SVG document (text drawn as paths by default: no fonts needed to view it)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _figure(title: str) -> Figure:
    fig = Figure(figsize=SIZE)
    fig.suptitle(title, fontsize=10)
    return fig


def _empty(title: str, message: str = "no data yet") -> str:
    fig = _figure(title)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color="0.4")
    return to_svg(fig)


def _thin(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Keep at most MAX_POINTS evenly spaced points (and the last), so big studies stay light."""
    if len(points) <= MAX_POINTS:
        return list(points)
    stride = len(points) / MAX_POINTS
    kept = [points[int(i * stride)] for i in range(MAX_POINTS)]
    return [*kept, points[-1]]


def pgr_curves(curves: Mapping[str, Sequence[tuple[int, float]]], *, split: str) -> str:
    """PGR over training steps, one line per method."""
    title = f"PGR over training steps ({split})"
    if not any(curves.values()):
        return _empty(title)
    fig = _figure(title)
    ax = fig.add_subplot()
    for method, points in curves.items():
        if points:
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, marker=".", label=method)
    ax.set_xlabel("step")
    ax.set_ylabel("PGR")
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.legend(fontsize=7, loc="best")
    return to_svg(fig)


class Clipped(NamedTuple):
    """Experiment points split at `floor`: those shown where they are, and those drawn on the floor."""

    kept: list[tuple[float, float]]
    clipped: list[tuple[float, float]]
    floor: float | None  # None: nothing lies far enough below the rest to clip


def clip_low(values: Sequence[tuple[float, float]], best: Sequence[float]) -> Clipped:
    """Clip outliers far below the study's range (e.g. shuffled-label ablations at PGR −1) to a floor,
    so they do not stretch the axis. The floor sits one range (at least CLIP_MIN_SPAN) below the lower
    of the best-so-far line and the median experiment."""
    ys = sorted(y for _, y in values)
    if not ys or not best:
        return Clipped(list(values), [], None)
    bottom = min(min(best), ys[len(ys) // 2])
    floor = bottom - max(max(max(best), ys[-1]) - bottom, CLIP_MIN_SPAN)
    if ys[0] >= floor:
        return Clipped(list(values), [], None)
    return Clipped([p for p in values if p[1] >= floor], [p for p in values if p[1] < floor], floor)


def best_so_far_figure(points: Sequence[BestSoFarPoint], *, split: str) -> Figure:
    """The best-so-far figure (see `best_so_far`); outliers far below are drawn on a floor as ▼."""
    fig = _figure(f"Best-so-far PGR ({split})")
    ax = fig.add_subplot()
    values = _thin([(p.number, p.value) for p in points])
    best = _thin([(p.number, p.best) for p in points])
    shown = clip_low(values, [y for _, y in best])
    ax.scatter([x for x, _ in shown.kept], [y for _, y in shown.kept], s=6, color="0.6", label="experiment")
    if shown.floor is not None:
        ax.scatter(
            [x for x, _ in shown.clipped], [shown.floor] * len(shown.clipped), marker="v", s=18, color="C1",
            label=f"{len(shown.clipped)} clipped (below {shown.floor:.2f}; lowest {min(y for _, y in shown.clipped):.2f})",
        )  # fmt: skip
    ax.step([x for x, _ in best], [y for _, y in best], where="post", color="C3", label="best so far")
    ax.set_xlabel("experiment number")
    ax.set_ylabel("PGR")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def best_so_far(points: Sequence[BestSoFarPoint], *, split: str) -> str:
    """Each finished experiment's PGR and the best so far, against experiment number."""
    if not points:
        return _empty(f"Best-so-far PGR ({split})")
    return to_svg(best_so_far_figure(points, split=split))


def pgr_by_method(rows: Sequence[MethodRow], *, split: str) -> str:
    """Mean PGR of each method's best arm with its confidence interval."""
    title = f"PGR by method ({split}, best configuration, 95% CI)"
    shown = [r for r in rows if r.pgr.mean is not None]
    if not shown:
        return _empty(title)
    fig = Figure(figsize=(SIZE[0], max(1.6, 0.35 * len(shown) + 1.0)))
    fig.suptitle(title, fontsize=10)
    ax = fig.add_subplot()
    for y, row in enumerate(reversed(shown)):
        mean = row.pgr.mean or 0.0
        lo = mean - row.pgr.lo if row.pgr.lo is not None else 0.0
        hi = row.pgr.hi - mean if row.pgr.hi is not None else 0.0
        ax.errorbar(mean, y, xerr=[[max(lo, 0.0)], [max(hi, 0.0)]], fmt="o", color="C0", capsize=3)
    ax.set_yticks(range(len(shown)), [r.method for r in reversed(shown)])
    ax.axvline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("PGR")
    return to_svg(fig)


def budget_burn(points: Sequence[BurnPoint], limits: Mapping[str, float]) -> str:
    """Cumulative spend over time: one panel of fractions for the limited kinds, one panel per other kind."""
    if not points:
        return _empty("Budget burn", "nothing charged yet")
    return to_svg(budget_burn_figure(points, limits))


def budget_burn_figure(points: Sequence[BurnPoint], limits: Mapping[str, float]) -> Figure:
    """The budget-burn figure (see `budget_burn`); its time labels never overlap (`fit_time_ticks`)."""
    title = "Budget burn"
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for point in points:
        limit = limits.get(point.kind)
        series[point.kind].append((point.at, point.cumulative / limit if limit else point.cumulative))
    limited = sorted(k for k in series if limits.get(k))
    panels = ([limited] if limited else []) + [[k] for k in sorted(series) if k not in limited]
    fig = _figure(title)
    axes = fig.subplots(1, len(panels), squeeze=False, sharex=True)[0]  # one time range: one offset label
    for ax, kinds in zip(axes, panels, strict=True):
        for kind in kinds:
            kept = _thin([(t.timestamp(), v) for t, v in series[kind]])
            times = [datetime.fromtimestamp(t, tz=UTC) for t, _ in kept]
            ax.step(times, [v for _, v in kept], where="post", marker=".", label=kind)
        ax.set_title("fraction of limit" if kinds == limited else kinds[0], fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        if kinds == limited:
            ax.axhline(1.0, color="C3", linewidth=0.8, linestyle="--")
            ax.legend(fontsize=7, loc="upper left")
    fit_time_ticks(fig, list(axes))
    return fig


def fit_time_ticks(fig: Figure, axes: list[Axes]) -> None:
    """Date ticks on `axes` (sharing one time range) with no two labels overlapping anywhere in `fig`: the
    most ticks (MAX_TIME_TICKS down to 2) that fit, labels turned 45° as the last resort. The date/time
    offset ("2026-Nov-28") is shown once, under the last panel."""
    for ax in axes[:-1]:
        ax.xaxis.get_offset_text().set_visible(False)
    for most in range(MAX_TIME_TICKS, 1, -1):
        for ax in axes:  # shared axes share one locator and formatter: set on each all the same
            locator = AutoDateLocator(minticks=1, maxticks=most)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        if not overlapping(tick_label_boxes(fig)):
            return
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")


def tick_label_boxes(fig: Figure) -> list[Bbox]:
    """Where each drawn x tick label and x offset text of `fig` lies, in display pixels."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = []
    for ax in fig.axes:
        low, high = sorted(ax.get_xlim())
        texts: list[Text] = [t for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
        texts.append(ax.xaxis.get_offset_text())
        boxes += [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]
    return boxes


def overlapping(boxes: Sequence[Bbox], gap: float = LABEL_GAP_PX) -> bool:
    """Whether any two boxes overlap (or come closer than `gap` pixels side by side)."""
    padded = [Bbox.from_extents(b.x0 - gap / 2, b.y0, b.x1 + gap / 2, b.y1) for b in boxes]
    return any(a.overlaps(b) for i, a in enumerate(padded) for b in padded[i + 1 :])


def experiment_curve(points: Sequence[tuple[str, int, float | None, float | None]]) -> str:
    """One experiment's learning curve: PGR and accuracy per step, a line per split."""
    title = "Learning curve"
    if not points:
        return _empty(title, "no curve recorded")
    fig = _figure(title)
    pgr_ax, acc_ax = fig.subplots(1, 2)
    by_split: dict[str, list[tuple[int, float | None, float | None]]] = defaultdict(list)
    for split, step, pgr, accuracy in points:
        by_split[split].append((step, pgr, accuracy))
    for split, rows in sorted(by_split.items()):
        pgr_ax.plot([s for s, p, _ in rows if p is not None], [p for _, p, _ in rows if p is not None],
                    marker=".", label=split)  # fmt: skip
        acc_ax.plot([s for s, _, a in rows if a is not None], [a for _, _, a in rows if a is not None],
                    marker=".", label=split)  # fmt: skip
    pgr_ax.set_title("PGR", fontsize=8)
    acc_ax.set_title("accuracy", fontsize=8)
    for ax in (pgr_ax, acc_ax):
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    return to_svg(fig)
