"""The report as one self-contained HTML page with inline SVG charts (no script, no network).

Charts, drawn here as SVG elements: calls per interval (offered, answered, abandoned: three
bars per interval, `class="bar offered|answered|abandoned"`), service level per interval (one
bar per interval that has calls counting towards it, `class="bar sl"`), and agent time in
state as one stacked bar per agent (a segment `class="bar state <state>"` per state with
time). Then every table of `tables.sections`. All text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from acdgate.acd.reports.build import Report
from acdgate.acd.reports.intervals import utc_text
from acdgate.acd.reports.tables import sections
from acdgate.acd.states import AgentState

_COLOURS = {
    "offered": "#4e79a7", "answered": "#59a14f", "abandoned": "#e15759", "sl": "#76b7b2",
    AgentState.READY.value: "#59a14f", AgentState.NOT_READY.value: "#e15759",
    AgentState.RESERVED.value: "#edc948", AgentState.TALKING.value: "#4e79a7",
    AgentState.WORK_READY.value: "#b07aa1", AgentState.WORK_NOT_READY.value: "#ff9da7",
    AgentState.LOGGED_OUT.value: "#bab0ac",
}  # fmt: skip
_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
svg { display: block; margin: 0.5em 0 1.5em; }
.legend span { display: inline-block; margin-right: 1em; }
.legend i { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; }
"""


def _legend(names: Sequence[str]) -> str:
    items = "".join(f'<span><i style="background:{_COLOURS[n]}"></i>{escape(n)}</span>' for n in names)
    return f'<div class="legend">{items}</div>'


def _calls_chart(report: Report) -> str:
    """Offered / answered / abandoned per interval, all monitored groups together."""
    sums: dict[float, list[int]] = {}
    labels: dict[float, str] = {}
    for g in report.groups:
        acc = sums.setdefault(g.start, [0, 0, 0])
        acc[0] += g.offered
        acc[1] += g.answered
        acc[2] += g.abandoned
        labels[g.start] = utc_text(g.start)[5:16]
    slots = sorted(sums)
    top = max([max(v) for v in sums.values()] + [1])
    width, height, bar = max(300, 40 + 3 * 8 * len(slots) + 4 * len(slots)), 220, 8
    parts = [f'<svg class="chart calls" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img"><title>Calls per interval</title>',
             f'<line x1="30" y1="{height - 30}" x2="{width}" y2="{height - 30}" stroke="#888"/>',
             f'<text x="0" y="15" font-size="10">{top}</text>']
    for i, slot in enumerate(slots):
        x0 = 32 + i * (3 * bar + 4)
        for j, name in enumerate(("offered", "answered", "abandoned")):
            h = (height - 50) * sums[slot][j] / top
            parts.append(f'<rect class="bar {name}" x="{x0 + j * bar}" y="{height - 30 - h:.1f}" width="{bar - 1}" '
                         f'height="{h:.1f}" fill="{_COLOURS[name]}"><title>{escape(labels[slot])} {name} '
                         f'{sums[slot][j]}</title></rect>')
    parts.append("</svg>")
    return _legend(("offered", "answered", "abandoned")) + "".join(parts)


def _sl_chart(report: Report) -> str:
    """Service level per interval over all monitored groups (intervals without calls: no bar)."""
    sums: dict[float, list[int]] = {}
    for g in report.groups:
        acc = sums.setdefault(g.start, [0, 0])
        acc[0] += g.answered_in_threshold
        acc[1] += g.answered + g.abandoned - g.short_abandoned
    slots = sorted(sums)
    width, height, bar = max(300, 40 + 12 * len(slots)), 160, 10
    parts = [f'<svg class="chart service-level" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img"><title>Service level per interval (%)</title>',
             f'<line x1="30" y1="{height - 30}" x2="{width}" y2="{height - 30}" stroke="#888"/>',
             '<text x="0" y="25" font-size="10">100%</text>']
    for i, slot in enumerate(slots):
        within, base = sums[slot]
        if not base:
            continue
        pct = 100.0 * within / base
        h = (height - 50) * pct / 100
        parts.append(f'<rect class="bar sl" x="{32 + i * (bar + 2)}" y="{height - 30 - h:.1f}" width="{bar}" '
                     f'height="{h:.1f}" fill="{_COLOURS["sl"]}"><title>{escape(utc_text(slot))} '
                     f'{pct:.1f}%</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _state_chart(report: Report) -> str:
    """One horizontal stacked bar per agent: time in each state over the range."""
    rows = [a for a in report.agent_totals if a.logged_on_seconds > 0]
    top = max([a.logged_on_seconds for a in rows] + [1.0])
    width, row_h = 640, 22
    height = 20 + row_h * len(rows)
    parts = [f'<svg class="chart agent-states" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img"><title>Agent time in state</title>']
    order = [s for s in AgentState if s is not AgentState.LOGGED_OUT]
    for i, a in enumerate(rows):
        y = 10 + i * row_h
        parts.append(f'<text x="0" y="{y + 14}" font-size="11">{escape(a.user_id)}</text>')
        per_state = {s: sum(t.seconds for t in a.states if t.state is s) for s in order}
        x = 60.0
        for state in order:
            seconds = per_state[state]
            if seconds <= 0:
                continue
            w = (width - 70) * seconds / top
            parts.append(f'<rect class="bar state {state.value}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
                         f'height="{row_h - 6}" fill="{_COLOURS[state.value]}"><title>{escape(a.user_id)} '
                         f'{state.value} {seconds:.0f} s</title></rect>')
            x += w
    parts.append("</svg>")
    return _legend([s.value for s in order]) + "".join(parts)


def render_html(report: Report, site_name: str = "") -> str:
    """The whole report as an HTML document that needs nothing from the network."""
    title = f"acdgate report {utc_text(report.start)} .. {utc_text(report.end)} UTC"
    if site_name:
        title += f" ({site_name})"
    body = [f"<h1>{escape(title)}</h1>",
            "<h2>Calls per interval</h2>", _calls_chart(report),
            "<h2>Service level per interval</h2>", _sl_chart(report),
            "<h2>Agent time in state</h2>", _state_chart(report)]
    for section in sections(report):
        body.append(f"<h2>{escape(section.title)}</h2>")
        if not section.rows:
            body.append("<p>(none)</p>")
            continue
        head = "".join(f"<th>{escape(c)}</th>" for c in section.header)
        rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in section.rows)
        body.append(f'<table class="{escape(section.name)}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
