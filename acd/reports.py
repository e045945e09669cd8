"""Reports built from journal records: agent time in state by reason code, group call counts.

The gateway stores every event as `event_to_record(event)`; a report reads the records of
an interval `[start, end)` back. Pass the records from before `start` too (at least since
the agents' last login): they establish who was in which state when the interval began.

As the IP Phone Agent guide requires, back-to-back Not Ready intervals with different
reason codes are reported apart (`intervals` keeps every one; `agent_rows` sums per
(agent, state, reason code)). As the IP Office tip requires, groups that are not monitored
(and collective "group mode" groups, which cannot be) are left out of the group rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from acdgate.acd.events import (
    CallAbandoned,
    CallConnected,
    CallEntered,
    CallOverflowed,
    StateChanged,
    record_to_event,
)
from acdgate.acd.site import GroupMode, Site
from acdgate.acd.states import AgentState, SystemReason


@dataclass(frozen=True, slots=True)
class AgentInterval:
    """One stretch of one state with one reason code, clipped to the report interval."""

    user_id: str
    state: AgentState
    reason_code: int | None
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class AgentStateRow:
    user_id: str
    state: AgentState
    reason_code: int | None
    reason: str  # the code's label, "" without a code
    seconds: float
    intervals: int


@dataclass(frozen=True, slots=True)
class GroupRow:
    number: str
    name: str
    offered: int  # calls that entered the group (arrived or overflowed in)
    answered: int
    abandoned: int
    overflowed: int  # calls that left it for its overflow group
    asa_seconds: float  # average speed of answer: mean wait of answered calls


@dataclass(frozen=True, slots=True)
class Report:
    start: float
    end: float
    intervals: tuple[AgentInterval, ...]
    agent_rows: tuple[AgentStateRow, ...]
    group_rows: tuple[GroupRow, ...]


def reason_labels(site: Site) -> dict[int, str]:
    """Reason and wrap-up code labels of the site, and the ACD's own system reasons."""
    labels = {int(r): r.label for r in SystemReason}
    for code in (*site.not_ready_reasons, *site.logout_reasons, *site.wrapup_codes):
        labels[code.code] = code.label
    return labels


def build_report(
    records: Iterable[Mapping[str, object]], start: float, end: float, site: Site
) -> Report:
    """The report of `[start, end)` from journal records in journal order."""
    current: dict[str, tuple[AgentState, int | None, float]] = {}
    intervals: list[AgentInterval] = []
    monitored = {
        g.number: g for g in site.groups if g.monitored and g.mode is not GroupMode.COLLECTIVE
    }
    counts = {n: {"offered": 0, "answered": 0, "abandoned": 0, "overflowed": 0} for n in monitored}
    waits: dict[str, float] = dict.fromkeys(monitored, 0.0)

    def close(user_id: str, until: float) -> None:
        if user_id not in current:
            return
        state, reason, since = current.pop(user_id)
        lo, hi = max(since, start), min(until, end)
        if state is not AgentState.LOGGED_OUT and hi > lo:
            intervals.append(AgentInterval(user_id, state, reason, lo, hi))

    for record in records:
        kind = record.get("type")
        if kind not in _USED:
            continue
        event = record_to_event(record)
        if isinstance(event, StateChanged):
            close(event.user_id, event.at)
            current[event.user_id] = (event.new, event.reason_code, event.at)
            continue
        if not start <= event.at < end:
            continue
        if isinstance(event, CallEntered) and event.group in counts:
            counts[event.group]["offered"] += 1
        elif isinstance(event, CallConnected) and event.group in counts:
            counts[event.group]["answered"] += 1
            waits[event.group] += event.waited
        elif isinstance(event, CallAbandoned) and event.group in counts:
            counts[event.group]["abandoned"] += 1
        elif isinstance(event, CallOverflowed) and event.from_group in counts:
            counts[event.from_group]["overflowed"] += 1
    for user_id in list(current):
        close(user_id, end)

    labels = reason_labels(site)
    sums: dict[tuple[str, AgentState, int | None], list[float]] = {}
    for iv in intervals:
        acc = sums.setdefault((iv.user_id, iv.state, iv.reason_code), [0.0, 0])
        acc[0] += iv.end - iv.start
        acc[1] += 1
    agent_rows = tuple(
        AgentStateRow(u, s, r, labels.get(r, "") if r is not None else "", acc[0], int(acc[1]))
        for (u, s, r), acc in sorted(
            sums.items(), key=lambda kv: (kv[0][0], kv[0][1].value, kv[0][2] or 0)
        )
    )
    group_rows = tuple(
        GroupRow(
            number=n,
            name=g.name,
            offered=counts[n]["offered"],
            answered=counts[n]["answered"],
            abandoned=counts[n]["abandoned"],
            overflowed=counts[n]["overflowed"],
            asa_seconds=waits[n] / counts[n]["answered"] if counts[n]["answered"] else 0.0,
        )
        for n, g in monitored.items()
    )
    intervals.sort(key=lambda iv: (iv.user_id, iv.start))
    return Report(start, end, tuple(intervals), agent_rows, group_rows)


_USED = {"StateChanged", "CallEntered", "CallConnected", "CallAbandoned", "CallOverflowed"}

_AGENT_HEADER = ("agent", "state", "reason code", "reason", "seconds", "intervals")
_GROUP_HEADER = ("group", "name", "offered", "answered", "abandoned", "overflowed", "asa seconds")


def _agent_cells(row: AgentStateRow) -> tuple[str, ...]:
    code = "" if row.reason_code is None else str(row.reason_code)
    return (
        row.user_id,
        row.state.value,
        code,
        row.reason,
        f"{row.seconds:.1f}",
        str(row.intervals),
    )


def _group_cells(row: GroupRow) -> tuple[str, ...]:
    return (
        row.number,
        row.name,
        str(row.offered),
        str(row.answered),
        str(row.abandoned),
        str(row.overflowed),
        f"{row.asa_seconds:.1f}",
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _utc(moment: float) -> str:
    """`2026-11-22 09:30:00` for epoch seconds, in UTC (reports must not depend on the host's zone)."""
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_table(report: Report) -> str:
    """The report as aligned plain-text tables (agents, then groups)."""
    lines = [f"Report {_utc(report.start)} .. {_utc(report.end)} (UTC)", "", "Agent time in state"]
    lines += _table(_AGENT_HEADER, [_agent_cells(r) for r in report.agent_rows])
    lines += ["", "Groups"]
    lines += _table(_GROUP_HEADER, [_group_cells(r) for r in report.group_rows])
    return "\n".join(lines) + "\n"


def render_csv(report: Report) -> str:
    """The report as CSV: a `section` column tells agent rows from group rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("section", *_AGENT_HEADER))
    for row in report.agent_rows:
        writer.writerow(("agent", *_agent_cells(row)))
    writer.writerow(("section", *_GROUP_HEADER))
    for grow in report.group_rows:
        writer.writerow(("group", *_group_cells(grow)))
    return buf.getvalue()
