"""Study reports: Markdown or self-contained HTML with PGR plots, every number read from the store."""

from aar.report.gather import ReportData, gather
from aar.report.render import FORMATS, Format, render, write_report

__all__ = ["FORMATS", "Format", "ReportData", "gather", "render", "write_report"]
