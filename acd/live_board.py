"""The live wallboard's figures: a snapshot of groups and agents, then deltas as events come.

Pure: the ACD engine's views and its events in, JSON-able dicts out; time is an argument. The
gateway feeds every batch of events the ACD service commits to `apply` and streams what comes
back (`GET /api/events`). Each delta has an increasing id; the last `ring_size` are kept so a
client that reconnects with `Last-Event-ID` gets what it missed (`since`), or, when its id is
older than the ring (or from before a restart: ids start at the board's creation time in
milliseconds), a fresh snapshot.

"Today" figures (answered, abandoned, service level per group) are the archived reports'
own definitions: a `reports.group.GroupFold` over the current UTC day, fed the same records
the journal holds (the day's history at start-up, then each live event); calls handled
today are the agent's `CallCompleted` records of the day. Times sent are epoch seconds
(`since`, `oldest_enqueued_at`); the page computes time in state and the longest wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from acdgate.acd.engine import Acd
from acdgate.acd.events import Event, event_to_record
from acdgate.acd.reports.group import GroupFold, GroupRow
from acdgate.acd.reports.intervals import DAY_SECONDS, Granularity, ReportQuery, day_start
from acdgate.acd.reports.labels import CodeLabels, family_of
from acdgate.acd.site import Site
from acdgate.acd.states import ON_CALL, AgentState

# the journal record types the "today" figures read (the store can filter on them)
BOARD_KINDS = ("CallEntered", "CallConnected", "CallAbandoned", "CallOverflowed", "CallCompleted")


class BoardKind:
    """The SSE event names (`event:` lines) the stream sends."""

    SNAPSHOT = "snapshot"
    AGENT = "agent"  # one agent's row (state "logged-out": it left the board)
    GROUP = "group"  # one group's row
    CALL = "call"  # a call answered or abandoned: {"outcome": "answered" | "abandoned", ...}


@dataclass(frozen=True, slots=True)
class BoardEvent:
    """One message of the stream: its id, its `event:` name and its JSON data."""

    id: int
    kind: str
    data: Mapping[str, Any]


class _Today:
    """The current UTC day's group figures (the reports' fold) and calls handled per agent."""

    def __init__(self, site: Site, now: float) -> None:
        self.start = day_start(now)
        self.groups = GroupFold(ReportQuery(self.start, self.start + DAY_SECONDS, Granularity.DAY), site)
        self.handled: dict[str, int] = {}

    def record(self, r: Mapping[str, Any]) -> None:
        """Fold one journal record (as `event_to_record` writes it) of this day."""
        at = float(r["at"])
        if not self.start <= at < self.start + DAY_SECONDS:
            return
        kind = r["type"]
        if kind == "CallEntered":
            self.groups.entered(at, str(r["call_id"]), str(r["group"]))
        elif kind == "CallConnected":
            self.groups.answered(str(r["call_id"]), str(r["group"]), float(r["waited"]))
        elif kind == "CallAbandoned":
            self.groups.abandoned(str(r["call_id"]), str(r["group"]), float(r["waited"]))
        elif kind == "CallOverflowed":
            self.groups.overflowed(str(r["call_id"]), str(r["from_group"]))
        elif kind == "CallCompleted":
            user = str(r["user_id"])
            self.handled[user] = self.handled.get(user, 0) + 1


class LiveBoard:
    """Groups and agents as the wallboard shows them, and the ring of recent deltas."""

    def __init__(self, site: Site, acd: Acd, now: float, history: Iterable[Mapping[str, Any]] = (),
                 *, ring_size: int = 1000) -> None:
        """`history`: the journal's records (any kinds, in order; `BOARD_KINDS` suffice) up to
        `now`, for the figures of the day so far."""
        self.site = site
        self.acd = acd
        self._labels = CodeLabels.of_site(site)
        self._names = {u.user_id: u.name for u in site.users}
        self._groups = {g.number: g for g in site.groups}  # in site order
        self._user_groups: dict[str, list[str]] = {}
        for g in site.groups:
            for member in g.members:
                self._user_groups.setdefault(member, []).append(g.number)
        self._today = _Today(site, now)
        for record in history:
            self._today.record(record)
        self._callers: dict[str, str] = {}  # routed call id -> the caller's number (its ANI)
        self._ring: deque[BoardEvent] = deque(maxlen=ring_size)
        self.last_id = int(now * 1000)  # the id of the newest delta (or of the start)

    # ------------------------------------------------------------------ rows

    def agent_row(self, user_id: str, now: float) -> dict[str, Any]:
        """One agent: state, reason, since when, calls handled today, the current caller."""
        view = self.acd.agent(user_id)
        assert view is not None, f"unknown user {user_id}"
        code = view.wrapup_code if view.state in (AgentState.WORK_READY, AgentState.WORK_NOT_READY) \
            else view.reason_code
        caller = None
        if view.state in ON_CALL and view.call_id is not None:
            number = self._callers.get(view.call_id)
            direction = "routed"
            if number is None:  # a non-routed call of the agent's station
                part = next((p for p in self.acd.station_calls(view.station or "") if p.call_id == view.call_id), None)
                number, direction = (part.other, part.direction.value) if part is not None else (None, "")
            if number is not None:
                caller = {"number": number, "name": self._name_at(number), "direction": direction}
        return {
            "user": user_id,
            "name": self._names.get(user_id, ""),
            "station": view.station,
            "state": view.state.value,
            "reason_code": code,
            "reason": self._labels.label(family_of(view.state), code),
            "since": view.since,
            "calls_handled_today": self._today.handled.get(user_id, 0),
            "call": caller,
        }

    def group_row(self, number: str, now: float, totals: Mapping[str, GroupRow] | None = None) -> dict[str, Any]:
        """One group: calls waiting, the oldest waiting call's arrival, agents by state and
        today's answered / abandoned / service level (null for groups reports leave out);
        `totals`: today's rows by group, when the caller has them already."""
        group = self._groups[number]
        stats = self.acd.group_stats(number, now)
        row: dict[str, Any] = {
            "number": number,
            "name": group.name,
            "mode": group.mode.value,
            "waiting": stats.ciq,
            "oldest_enqueued_at": now - stats.lqt_seconds if stats.ciq else None,
            "agents": {state.value: n for state, n in stats.agents.items() if state is not AgentState.LOGGED_OUT},
            "reported": number in self._today.groups.groups,
            "offered": None, "answered": None, "abandoned": None, "service_level": None,
            "service_level_threshold_seconds": None,
        }  # fmt: skip
        if row["reported"]:
            total = (totals or self._totals())[number]
            row.update(offered=total.offered, answered=total.answered, abandoned=total.abandoned,
                       service_level=total.service_level,
                       service_level_threshold_seconds=total.threshold_seconds)
        return row

    def snapshot(self, now: float) -> BoardEvent:
        """Everything, with the id of the newest delta: resuming from it needs nothing older."""
        self._roll_day(now)
        return BoardEvent(self.last_id, BoardKind.SNAPSHOT, {
            "at": now,
            "day_start": self._today.start,
            "groups": self._group_rows(self._groups, now),
            "agents": [self.agent_row(a.user_id, now) for a in self.acd.agents()],
        })  # fmt: skip

    # ------------------------------------------------------------------ deltas

    def apply(self, events: Iterable[Event], now: float) -> list[BoardEvent]:
        """The deltas one committed batch of events makes (also kept in the ring)."""
        out: list[tuple[str, dict[str, Any]]] = []
        if self._roll_day(now):
            out += [(BoardKind.GROUP, row) for row in self._group_rows(self._groups, now)]
        users: dict[str, None] = {}
        groups: dict[str, None] = {}
        for event in events:
            record = event_to_record(event)
            self._today.record(record)
            kind = record["type"]
            user = record.get("user_id")
            if isinstance(user, str) and user in self._names:
                users[user] = None
                groups.update(dict.fromkeys(self._user_groups.get(user, ())))
            for key in ("group", "from_group", "to_group"):
                number = record.get(key)
                if isinstance(number, str) and number in self._groups:
                    groups[number] = None
            if kind in ("CallCompleted", "CallAbandoned"):
                self._callers.pop(str(record["call_id"]), None)
            if kind == "OfferCall":
                self._callers[str(record["call_id"])] = str(record["ani"])
            elif kind in ("CallConnected", "CallAbandoned"):
                out.append((BoardKind.CALL, {
                    "outcome": "answered" if kind == "CallConnected" else "abandoned",
                    "call_id": record["call_id"], "group": record["group"], "waited": record["waited"],
                    "user": record.get("user_id"),
                }))  # fmt: skip
        for user in users:
            if self.acd.agent(user) is not None:
                out.append((BoardKind.AGENT, self.agent_row(user, now)))
        out += [(BoardKind.GROUP, row) for row in self._group_rows(groups, now)]
        deltas = []
        for kind, data in out:
            self.last_id += 1
            deltas.append(BoardEvent(self.last_id, kind, data))
        self._ring.extend(deltas)
        return deltas

    def since(self, last_id: int) -> list[BoardEvent] | None:
        """The deltas after `last_id`, or None when the ring no longer holds them all (or the
        id is not one of this board's): the client needs a fresh snapshot."""
        if last_id == self.last_id:
            return []
        if last_id > self.last_id or not self._ring or last_id < self._ring[0].id - 1:
            return None
        return [e for e in self._ring if e.id > last_id]

    def _name_at(self, number: str) -> str:
        """The name of whoever is logged on at station `number`, else "" (an outside number)."""
        at = self.acd.agent_at_station(number)
        return self._names.get(at.user_id, "") if at is not None else ""

    def _totals(self) -> dict[str, GroupRow]:
        return {t.number: t for t in self._today.groups.totals()}

    def _group_rows(self, numbers: Iterable[str], now: float) -> list[dict[str, Any]]:
        totals = self._totals()
        return [self.group_row(number, now, totals) for number in numbers]

    def _roll_day(self, now: float) -> bool:
        """Start a new day's figures when `now` is past midnight UTC; True when it did."""
        if day_start(now) == self._today.start:
            return False
        self._today = _Today(self.site, now)
        return True


__all__ = ["BOARD_KINDS", "BoardEvent", "BoardKind", "LiveBoard"]
