"""The report as JSON-able data (`acdgate report --format json`, `GET /api/reports/...`)."""

from __future__ import annotations

from typing import Any

from acdgate.acd.reports.agent import AgentRow
from acdgate.acd.reports.build import Report
from acdgate.acd.reports.group import GroupRow
from acdgate.acd.reports.intervals import utc_iso


def _span(start: float, end: float) -> dict[str, Any]:
    return {"from": utc_iso(start), "to": utc_iso(end), "from_epoch": start, "to_epoch": end}


def group_json(g: GroupRow) -> dict[str, Any]:
    """One group row with its derived figures."""
    return {
        **_span(g.start, g.end), "group": g.number, "name": g.name, "offered": g.offered,
        "answered": g.answered, "answered_in_threshold": g.answered_in_threshold,
        "abandoned": g.abandoned, "short_abandoned": g.short_abandoned, "overflowed": g.overflowed,
        "asa_seconds": g.asa_seconds, "longest_wait_seconds": g.longest_wait,
        "service_level_threshold_seconds": g.threshold_seconds, "service_level_percent": g.service_level,
        "abandon_rate_percent": g.abandon_rate,
    }  # fmt: skip


def agent_json(a: AgentRow) -> dict[str, Any]:
    """One agent row with its derived figures and its time per state and code."""
    return {
        **_span(a.start, a.end), "agent": a.user_id, "name": a.name,
        "logged_on_seconds": a.logged_on_seconds,
        "states": [
            {"state": s.state.value, "code": s.code, "label": s.label, "seconds": s.seconds,
             "periods": s.stretches}
            for s in a.states
        ],
        "offered": a.offered, "answered": a.answered, "ring_no_answer": a.ring_no_answer,
        "completed": a.completed, "talk_seconds": a.talk_seconds, "average_talk_seconds": a.average_talk,
        "wrapup_seconds": a.wrapup_seconds, "average_wrapup_seconds": a.average_wrapup,
        "average_handle_seconds": a.average_handle, "transfers": a.transfers, "recordings": a.recordings,
    }  # fmt: skip


def _head(report: Report) -> dict[str, Any]:
    return {**_span(report.start, report.end), "interval": report.granularity.value}


def groups_json(report: Report) -> dict[str, Any]:
    """The group part: totals over the range and rows per interval."""
    return {**_head(report), "totals": [group_json(g) for g in report.group_totals],
            "intervals": [group_json(g) for g in report.groups]}


def agents_json(report: Report) -> dict[str, Any]:
    """The agent part: totals, rows per interval, Not Ready periods, sessions, wrap-up codes."""
    return {
        **_head(report),
        "totals": [agent_json(a) for a in report.agent_totals],
        "intervals": [agent_json(a) for a in report.agents],
        "not_ready_periods": [
            {"agent": p.user_id, **_span(p.start, p.end), "seconds": p.seconds, "code": p.code, "label": p.label}
            for p in report.not_ready_periods
        ],
        "sessions": [
            {"agent": s.user_id, "station": s.station, "logon": utc_iso(s.logon), "logon_epoch": s.logon,
             "logoff": None if s.logoff is None else utc_iso(s.logoff), "logoff_epoch": s.logoff,
             "logout_code": s.logout_code, "logout_label": s.logout_label, "forced": s.forced}
            for s in report.sessions
        ],
        "wrapup_codes": [
            {"agent": w.user_id, "code": w.code, "label": w.label, "count": w.count, "seconds": w.seconds}
            for w in report.wrapups
        ],
    }


def report_json(report: Report) -> dict[str, Any]:
    """The whole report."""
    return {**_head(report), "groups": groups_json(report), "agents": agents_json(report)}
