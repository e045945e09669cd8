"""A report from journal records: one pass, in journal order, nothing kept but the figures.

`build_report` takes the journal's records (flat dicts, `acd.events.event_to_record` and the
gateway's own records) from the beginning of the journal, or at least from before every agent
that matters logged on, up to the end of the range: the records before `start` only establish
who was logged on where and in which state when the range began. Records are read as they
come (an iterator over the store is fine); the report keeps per-interval sums, the open
stretches and calls, and the rows it returns.

The gateway's record types the report reads are named here as strings (`CallTransferred`,
`RecordingStarted`: gateway/agents/journal.py), as `acd` imports nothing from the gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from acdgate.acd.reports.agent import (
    AgentFold,
    AgentRow,
    AgentSession,
    NotReadyPeriod,
    StateStretch,
    WrapupUse,
)
from acdgate.acd.reports.group import GroupFold, GroupRow
from acdgate.acd.reports.intervals import Granularity, ReportQuery
from acdgate.acd.reports.labels import CodeLabels
from acdgate.acd.site import Site
from acdgate.acd.states import AgentState

# The journal record types a report reads (the store can filter on them).
REPORT_KINDS = (
    "LoggedIn", "LoggedOut", "StateChanged", "OfferCall", "CallConnected", "RingNoAnswer",
    "CallCompleted", "CallEntered", "CallAbandoned", "CallOverflowed", "CallTransferred",
    "RecordingStarted", "WrapupCodeGiven",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AgentStateRow:
    """An agent's time in one state with one code over the whole range."""

    user_id: str
    state: AgentState
    reason_code: int | None  # the Not Ready reason, or the wrap-up code in the work states
    reason: str  # the code's label from its own family's table, "" without a code
    seconds: float
    intervals: int  # how many stretches


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report shows; the renderers only format it."""

    start: float
    end: float
    granularity: Granularity
    agents: tuple[AgentRow, ...]  # per interval and agent
    agent_totals: tuple[AgentRow, ...]  # per agent over the range
    groups: tuple[GroupRow, ...]  # per interval and monitored group
    group_totals: tuple[GroupRow, ...]
    not_ready_periods: tuple[NotReadyPeriod, ...]
    sessions: tuple[AgentSession, ...]
    wrapups: tuple[WrapupUse, ...]
    intervals: tuple[StateStretch, ...]  # every state stretch (empty when built without detail)

    @property
    def agent_rows(self) -> tuple[AgentStateRow, ...]:
        """Time per (agent, state, code) over the range."""
        return tuple(
            AgentStateRow(row.user_id, st.state, st.code, st.label, st.seconds, st.stretches)
            for row in self.agent_totals
            for st in row.states
        )

    @property
    def group_rows(self) -> tuple[GroupRow, ...]:
        """The groups over the whole range."""
        return self.group_totals


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def build_report(
    records: Iterable[Mapping[str, object]],
    start: float,
    end: float,
    site: Site,
    granularity: Granularity = Granularity.MINUTES_60,
    *,
    detail: bool = True,
) -> Report:
    """The report of `[start, end)` cut by `granularity`, from records in journal order.

    Records at or after `end` are ignored (the caller may stop reading there). `detail=False`
    leaves out the list of every state stretch (`Report.intervals`)."""
    query = ReportQuery(start, end, granularity)
    labels = CodeLabels.of_site(site)
    agents = AgentFold(query, labels, {u.user_id: u.name for u in site.users}, detail=detail)
    groups = GroupFold(query, site)
    for r in records:
        kind = r["type"]
        at = float(r["at"])  # type: ignore[arg-type]
        if at >= end:
            continue
        if kind == "StateChanged":
            agents.state_changed(at, str(r["user_id"]), AgentState(str(r["new"])), _int(r.get("reason_code")),
                                 _int(r.get("wrapup_code")))
        elif kind == "CallEntered":
            groups.entered(at, str(r["call_id"]), str(r["group"]))
        elif kind == "CallConnected":
            groups.answered(str(r["call_id"]), str(r["group"]), float(r["waited"]))  # type: ignore[arg-type]
            agents.answered(at, str(r["user_id"]))
        elif kind == "CallAbandoned":
            groups.abandoned(str(r["call_id"]), str(r["group"]), float(r["waited"]))  # type: ignore[arg-type]
        elif kind == "CallOverflowed":
            groups.overflowed(str(r["call_id"]), str(r["from_group"]))
        elif kind == "OfferCall":
            agents.offered(at, str(r["user_id"]))
        elif kind == "RingNoAnswer":
            agents.ring_no_answer(at, str(r["user_id"]))
        elif kind == "CallCompleted":
            agents.completed(at, str(r["user_id"]), float(r["talked"]))  # type: ignore[arg-type]
        elif kind == "LoggedIn":
            agents.logged_in(at, str(r["user_id"]), str(r["station"]))
        elif kind == "LoggedOut":
            agents.logged_out(at, str(r["user_id"]), str(r["station"]), _int(r.get("reason_code")),
                              bool(r.get("forced", False)))
        elif kind == "CallTransferred":
            agents.transferred(at, str(r["station"]))
        elif kind == "WrapupCodeGiven":
            agents.wrapup_code_given(at, str(r["user_id"]), int(r["wrapup_code"]))  # type: ignore[call-overload]
        elif kind == "RecordingStarted":
            agents.recording_started(at, str(r.get("user_id") or ""))
    agents.finish()
    return Report(
        start=start,
        end=end,
        granularity=granularity,
        agents=tuple(agents.rows()),
        agent_totals=tuple(agents.totals()),
        groups=tuple(groups.rows()),
        group_totals=tuple(groups.totals()),
        not_ready_periods=tuple(agents.not_ready),
        sessions=tuple(agents.sessions),
        wrapups=tuple(agents.wrapups()),
        intervals=tuple(agents.stretches),
    )


__all__ = ["REPORT_KINDS", "AgentStateRow", "Report", "build_report"]
