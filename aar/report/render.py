"""Render a study report as self-contained HTML (inline SVG plots) or Markdown (SVG files beside it)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from aar.budget import baselines_part, fmt_amount
from aar.errors import UserError
from aar.report import plots
from aar.report.gather import ReportData, gather
from aar.store.engine import Store
from aar.store.queries import BudgetLine

Format = Literal["html", "md"]
FORMATS: tuple[str, ...] = ("html", "md")


def fmt_num(value: float | None, digits: int = 3) -> str:
    """A number for a table cell; an em dash when it is missing or not a number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def fmt_ci(low: float | None, high: float | None, digits: int = 3) -> str:
    """A confidence interval as `[low, high]`, empty when either bound is unknown."""
    if low is None or high is None:
        return ""
    return f"[{fmt_num(low, digits)}, {fmt_num(high, digits)}]"


def fmt_time(value: datetime | None) -> str:
    """A timestamp to the second, UTC."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def fmt_budget(line: BudgetLine) -> tuple[str, str, str]:
    """A budget line's limit, used and left as shown; a `deadline` limit is a UNIX time, shown as a date."""
    if line.kind == "deadline" and line.limit is not None:
        return fmt_time(datetime.fromtimestamp(line.limit, UTC)), "", ""

    def amount(value: float | None) -> str:  # rounded as the terminal and `aar show` round it
        return "—" if value is None else fmt_amount(line.kind, value)

    part = baselines_part(line)  # device-seconds: baseline jobs' and method jobs' shares
    return amount(line.limit), amount(line.used) + (f" ({part})" if part else ""), amount(line.left)


def fmt_json(value: Any) -> str:
    """Compact JSON for a config or hyperparameters cell."""
    return json.dumps(value, sort_keys=True, default=str)


def environment() -> Environment:
    """The Jinja environment of the report templates, with the number filters."""
    env = Environment(
        loader=PackageLoader("aar.report", "templates"),
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, ci=fmt_ci, time=fmt_time, json=fmt_json, budget=fmt_budget)
    return env


@dataclass(frozen=True)
class Plot:
    """One plot: a file stem, a caption and its SVG document."""

    name: str
    caption: str
    svg: str

    @property
    def inline(self) -> Markup:
        """The SVG element without its XML prologue, for embedding in HTML."""
        start = self.svg.find("<svg")
        return Markup(self.svg[start:] if start >= 0 else self.svg)


def report_plots(data: ReportData) -> list[Plot]:
    """The report's four plots."""
    limits = data.summary.study.budget_limits
    return [
        Plot(
            "pgr_curves",
            "PGR over training steps per method",
            plots.pgr_curves(data.curves, split=data.split),
        ),
        Plot(
            "best_so_far",
            "Best-so-far PGR vs experiment number",
            plots.best_so_far(data.best, split=data.split),
        ),
        Plot("pgr_by_method", "PGR by method with CIs", plots.pgr_by_method(data.methods, split=data.split)),
        Plot("budget_burn", "Budget burn over time", plots.budget_burn(data.burn, limits)),
    ]


def render(data: ReportData, fmt: Format, *, image_dir: str = "") -> tuple[str, list[Plot]]:
    """The report text in `fmt` and its plots (Markdown links them as `image_dir/<name>.svg`)."""
    figures = report_plots(data)
    template = environment().get_template(f"report.{fmt}.j2")
    context: Mapping[str, Any] = {"d": data, "plots": figures, "image_dir": image_dir, "now": datetime.now()}
    return template.render(**context), figures


def slug(name: str) -> str:
    """A file-name-safe form of a study name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "study"


def write_report(
    store: Store, study_ref: str | int, *, fmt: Format = "html", out: Path | None = None
) -> Path:
    """Write a study's report and return its path.

    Args:
        store: The open results store.
        study_ref: The study's name or id.
        fmt: "html" (one self-contained file) or "md" (Markdown with SVG plots in `<stem>_files/`).
        out: Where to write; defaults to `<results>/reports/<study>.<fmt>`.

    Raises:
        UserError: Unknown study or format, or the output cannot be written.
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r}; use html or md")
    data = gather(store, study_ref)
    out = out or store.artifacts.root.parent / "reports" / f"{slug(data.summary.study.name)}.{fmt}"
    image_dir = f"{out.stem}_files"
    text, figures = render(data, fmt, image_dir=image_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "md":
            _write_images(out.parent / image_dir, figures)
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write the report to {out}: {error.strerror or error}") from None
    return out


def _write_images(folder: Path, figures: list[Plot]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        (folder / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
