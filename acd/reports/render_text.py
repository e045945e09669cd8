"""The report as aligned plain-text tables and as CSV (`acdgate report --format table|csv`)."""

from __future__ import annotations

import csv
import io

from acdgate.acd.reports.build import Report
from acdgate.acd.reports.intervals import utc_text
from acdgate.acd.reports.tables import Section, sections


def _table(section: Section) -> list[str]:
    rows = [section.header, *section.rows]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(section.header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def render_table(report: Report) -> str:
    """Every section as an aligned table under its title."""
    lines = [f"Report {utc_text(report.start)} .. {utc_text(report.end)} (UTC)"]
    for section in sections(report):
        lines += ["", section.title]
        lines += _table(section) if section.rows else ["(none)"]
    return "\n".join(lines) + "\n"


def render_csv(report: Report) -> str:
    """One CSV: each section's header row starts with `section`, its rows with its name."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for section in sections(report):
        writer.writerow(("section", *section.header))
        for row in section.rows:
            writer.writerow((section.name, *row))
    return buf.getvalue()
