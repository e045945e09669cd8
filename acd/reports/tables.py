"""The report as rows of text cells, one table per section: what the text table, the CSV and
the HTML report all show, so the three never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from acdgate.acd.reports.agent import AgentRow, StateTime
from acdgate.acd.reports.build import Report
from acdgate.acd.reports.group import GroupRow
from acdgate.acd.reports.intervals import Granularity, utc_iso


@dataclass(frozen=True, slots=True)
class Section:
    """One table: a name (the CSV's `section` column), a title, a header and rows."""

    name: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _s(seconds: float) -> str:
    return f"{seconds:.1f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


_GROUP_HEADER = (
    "group", "name", "offered", "answered", "abandoned", "overflowed", "asa seconds",
    "short abandoned", "longest wait seconds", "sl threshold seconds", "service level %",
    "abandon rate %",
)  # fmt: skip
_AGENT_HEADER = (
    "agent", "name", "logged on s", "offered", "answered", "ring no answer", "talk s",
    "avg talk s", "wrap-up s", "avg wrap-up s", "avg handle s", "transfers", "recordings",
)  # fmt: skip
_STATE_HEADER = ("agent", "state", "reason code", "reason", "seconds", "intervals")
_SPAN = ("from", "to")


def _span(start: float, end: float) -> tuple[str, str]:
    return utc_iso(start), utc_iso(end)


def _group_cells(g: GroupRow) -> tuple[str, ...]:
    return (
        g.number, g.name, str(g.offered), str(g.answered), str(g.abandoned), str(g.overflowed),
        _s(g.asa_seconds), str(g.short_abandoned), _s(g.longest_wait), str(g.threshold_seconds),
        _pct(g.service_level), _pct(g.abandon_rate),
    )  # fmt: skip


def _agent_cells(a: AgentRow) -> tuple[str, ...]:
    return (
        a.user_id, a.name, _s(a.logged_on_seconds), str(a.offered), str(a.answered),
        str(a.ring_no_answer), _s(a.talk_seconds), _s(a.average_talk), _s(a.wrapup_seconds),
        _s(a.average_wrapup), _s(a.average_handle), str(a.transfers), str(a.recordings),
    )  # fmt: skip


def _state_cells(user_id: str, st: StateTime) -> tuple[str, ...]:
    code = "" if st.code is None else str(st.code)
    return (user_id, st.state.value, code, st.label, _s(st.seconds), str(st.stretches))


def sections(report: Report) -> list[Section]:
    """Every table of the report, in the order the text, CSV and HTML reports show them.

    The first two (`agent`: time per state and code, `group`: group totals) keep the columns
    the first report had, new columns appended, so CSV readers of it keep working."""
    per = "per day" if report.granularity is Granularity.DAY else f"per {report.granularity.value} minutes"
    return [
        Section("agent", "Agent time in state (the code labelled from its own family)", _STATE_HEADER,
                tuple(_state_cells(a.user_id, st) for a in report.agent_totals for st in a.states)),
        Section("group", "Groups, whole range", _GROUP_HEADER,
                tuple(_group_cells(g) for g in report.group_totals)),
        Section("agent-total", "Agents, whole range", _AGENT_HEADER,
                tuple(_agent_cells(a) for a in report.agent_totals)),
        Section("not-ready", "Not Ready periods (back to back apart)",
                ("agent", "from", "to", "seconds", "reason code", "reason"),
                tuple((p.user_id, *_span(p.start, p.end), _s(p.seconds),
                       "" if p.code is None else str(p.code), p.label) for p in report.not_ready_periods)),
        Section("session", "Logons and logoffs",
                ("agent", "station", "logon", "logoff", "logout reason code", "logout reason", "forced"),
                tuple((s.user_id, s.station, utc_iso(s.logon), "" if s.logoff is None else utc_iso(s.logoff),
                       "" if s.logout_code is None else str(s.logout_code), s.logout_label,
                       "yes" if s.forced else "") for s in report.sessions)),
        Section("wrap-up", "Wrap-up codes", ("agent", "code", "label", "count", "seconds"),
                tuple((w.user_id, str(w.code), w.label, str(w.count), _s(w.seconds)) for w in report.wrapups)),
        Section("group-interval", f"Groups {per}", (*_SPAN, *_GROUP_HEADER),
                tuple((*_span(g.start, g.end), *_group_cells(g)) for g in report.groups)),
        Section("agent-interval", f"Agents {per}", (*_SPAN, *_AGENT_HEADER),
                tuple((*_span(a.start, a.end), *_agent_cells(a)) for a in report.agents)),
        Section("agent-state-interval", f"Agent time in state {per}", (*_SPAN, *_STATE_HEADER),
                tuple((*_span(a.start, a.end), *_state_cells(a.user_id, st)) for a in report.agents
                      for st in a.states)),
    ]
