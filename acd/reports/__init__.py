"""Archived contact-center reports built from the journal alone (issue 17).

Pure: records in (an iterable, read in journal order), report out; no I/O, no clock. One
module per idea: `intervals` (the range and its 15/30/60 minute or day intervals), `labels`
(each code family labelled from its own table), `agent` and `group` (the folds), `build`
(one pass over the records), `tables`, `render_text`, `render_json`, `render_html`.
"""

from __future__ import annotations

from acdgate.acd.reports.agent import (
    AgentRow,
    AgentSession,
    NotReadyPeriod,
    StateStretch,
    StateTime,
    WrapupUse,
)
from acdgate.acd.reports.build import REPORT_KINDS, AgentStateRow, Report, build_report
from acdgate.acd.reports.group import GroupRow
from acdgate.acd.reports.intervals import Granularity, ReportQuery
from acdgate.acd.reports.labels import CodeFamily, CodeLabels
from acdgate.acd.reports.render_html import render_html
from acdgate.acd.reports.render_json import agents_json, groups_json, report_json
from acdgate.acd.reports.render_text import render_csv, render_table

AgentInterval = StateStretch  # the name the first report used for a state stretch

__all__ = [
    "REPORT_KINDS", "AgentInterval", "AgentRow", "AgentSession", "AgentStateRow", "CodeFamily",
    "CodeLabels", "Granularity", "GroupRow", "NotReadyPeriod", "Report", "ReportQuery", "StateStretch",
    "StateTime", "WrapupUse", "agents_json", "build_report", "groups_json", "render_csv",
    "render_html", "render_table", "report_json",
]  # fmt: skip
