"""The agent report: time in each state and reason, sessions, Not Ready periods, wrap-up codes
and call counts, folded from the journal one record at a time.

Every `StateChanged` closes the agent's previous stretch; the stretch is cut at interval
boundaries and summed per (interval, agent, state, code). The code of a stretch is the Not
Ready reason in NOT_READY and the wrap-up code in WORK_READY / WORK_NOT_READY, each labelled
from its own table (`labels.CodeLabels`). As the IP Phone Agent guide asks ("Reason Codes"),
Not Ready chosen again with another reason starts a new period: every Not Ready stretch is a
row of its own in `NotReadyPeriod`s.

Call figures come from the ACD's events (`OfferCall` offered, `CallConnected` answered,
`RingNoAnswer`, `CallCompleted` talk time) and the gateway's records (`CallTransferred`,
`RecordingStarted`; a transfer names the station, credited to whoever is logged on there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acdgate.acd.reports.intervals import ReportQuery
from acdgate.acd.reports.labels import CodeFamily, CodeLabels, family_of
from acdgate.acd.states import AgentState

_WORK = (AgentState.WORK_READY, AgentState.WORK_NOT_READY)


@dataclass(frozen=True, slots=True)
class StateTime:
    """Seconds in one state with one code (reason or wrap-up code)."""

    state: AgentState
    code: int | None
    label: str
    seconds: float
    stretches: int  # how many stretches (periods) of it began or ran in the interval


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent in one interval (or over the whole range: `start`, `end` = the range)."""

    start: float
    end: float
    user_id: str
    name: str
    states: tuple[StateTime, ...]
    offered: int  # routed calls that rang the agent (OfferCall)
    answered: int
    ring_no_answer: int
    completed: int  # answered calls that ended (CallCompleted): what talk time is averaged over
    talk_seconds: float
    wrapup_seconds: float  # time in WORK_READY and WORK_NOT_READY
    transfers: int  # blind transfers made by the agent (REFER)
    recordings: int  # recordings started on the agent's calls

    @property
    def logged_on_seconds(self) -> float:
        """Time logged on: the sum of every state's time."""
        return sum(s.seconds for s in self.states)

    @property
    def average_talk(self) -> float:
        """Talk seconds per completed call (0 without calls)."""
        return self.talk_seconds / self.completed if self.completed else 0.0

    @property
    def average_wrapup(self) -> float:
        """Wrap-up seconds per completed call (0 without calls)."""
        return self.wrapup_seconds / self.completed if self.completed else 0.0

    @property
    def average_handle(self) -> float:
        """Average handle time: talk plus wrap-up, per completed call."""
        return self.average_talk + self.average_wrapup


@dataclass(frozen=True, slots=True)
class NotReadyPeriod:
    """One Not Ready stretch with its reason, clipped to the range."""

    user_id: str
    start: float
    end: float
    code: int | None
    label: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class AgentSession:
    """A logon: when and where, and when and why it ended (None: still logged on at the end
    of the range)."""

    user_id: str
    station: str
    logon: float
    logoff: float | None
    logout_code: int | None
    logout_label: str
    forced: bool  # ended by someone else's forced login


@dataclass(frozen=True, slots=True)
class WrapupUse:
    """A wrap-up code of one agent: how many times it was entered and the time under it."""

    user_id: str
    code: int
    label: str
    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class StateStretch:
    """One stretch of one state with one code, clipped to the range (the report's detail)."""

    user_id: str
    state: AgentState
    code: int | None
    start: float
    end: float


@dataclass(slots=True)
class _Counts:
    states: dict[tuple[AgentState, int | None], list[float]] = field(default_factory=dict)
    offered: int = 0
    answered: int = 0
    ring_no_answer: int = 0
    completed: int = 0
    talk_seconds: float = 0.0
    wrapup_seconds: float = 0.0
    transfers: int = 0
    recordings: int = 0


@dataclass(slots=True)
class _Current:
    state: AgentState
    code: int | None
    since: float


class AgentFold:
    """Takes journal records in order (`feed`), then gives the rows (`rows`, `totals` ...)."""

    def __init__(self, query: ReportQuery, labels: CodeLabels, names: Mapping[str, str], *,
                 detail: bool = True) -> None:
        self.query = query
        self.labels = labels
        self.names = names
        self.detail = detail
        self._current: dict[str, _Current] = {}
        self._station_agent: dict[str, str] = {}
        self._counts: dict[tuple[float, str], _Counts] = {}
        self._totals: dict[str, _Counts] = {}
        self._open_sessions: dict[str, tuple[str, float]] = {}
        self.sessions: list[AgentSession] = []
        self.not_ready: list[NotReadyPeriod] = []
        self.stretches: list[StateStretch] = []
        self._wrapups: dict[tuple[str, int], list[float]] = {}
        self._uncoded_wrapup: dict[str, float] = {}  # the last wrap-up stretch with no code yet
        self._labels: dict[tuple[AgentState, int | None], str] = {}

    def _cell(self, bucket: float, user_id: str) -> _Counts:
        key = (bucket, user_id)
        cell = self._counts.get(key)
        if cell is None:
            cell = self._counts[key] = _Counts()
        return cell

    def _total(self, user_id: str) -> _Counts:
        cell = self._totals.get(user_id)
        if cell is None:
            cell = self._totals[user_id] = _Counts()
        return cell

    def _close(self, user_id: str, until: float) -> None:
        cur = self._current.pop(user_id, None)
        if cur is None or cur.state is AgentState.LOGGED_OUT:
            return
        q = self.query
        lo, hi = max(cur.since, q.start), min(until, q.end)
        if not lo < hi:
            return
        key = (cur.state, cur.code)
        work = cur.state in _WORK
        total = self._total(user_id)
        slot = total.states.get(key)
        if slot is None:
            slot = total.states[key] = [0.0, 0.0]
        slot[0] += hi - lo
        slot[1] += 1
        if work:
            total.wrapup_seconds += hi - lo
        for bucket, seconds in q.split(lo, hi):
            cell = self._cell(bucket, user_id)
            slot = cell.states.get(key)
            if slot is None:
                slot = cell.states[key] = [0.0, 0.0]
            slot[0] += seconds
            slot[1] += 1
            if work:
                cell.wrapup_seconds += seconds
        if work and cur.code is not None:
            self._wrapups.setdefault((user_id, cur.code), [0.0, 0.0])[1] += hi - lo
        elif work:
            self._uncoded_wrapup[user_id] = hi - lo
        if cur.state is AgentState.NOT_READY:
            label = self.labels.label(CodeFamily.NOT_READY, cur.code)
            self.not_ready.append(NotReadyPeriod(user_id, lo, hi, cur.code, label))
        if self.detail:
            self.stretches.append(StateStretch(user_id, cur.state, cur.code, lo, hi))

    def state_changed(self, at: float, user_id: str, new: AgentState, reason: int | None,
                      wrapup: int | None) -> None:
        self._close(user_id, at)
        code = wrapup if new in _WORK else reason if new is AgentState.NOT_READY else None
        self._current[user_id] = _Current(new, code, at)
        if new in _WORK and wrapup is not None and self.query.contains(at):
            self._wrapups.setdefault((user_id, wrapup), [0.0, 0.0])[0] += 1

    def wrapup_code_given(self, at: float, user_id: str, code: int) -> None:
        """An owed wrap-up code, given after the call (`WrapupCodeGiven`): one use of the code,
        and the wrap-up it was owed for is its time, whether still running or already over."""
        if self.query.contains(at):
            self._wrapups.setdefault((user_id, code), [0.0, 0.0])[0] += 1
        cur = self._current.get(user_id)
        if cur is not None and cur.state in _WORK and cur.code is None:
            cur.code = code  # the stretch, closed later, is timed under the code
            return
        seconds = self._uncoded_wrapup.pop(user_id, 0.0)
        if seconds:
            self._wrapups.setdefault((user_id, code), [0.0, 0.0])[1] += seconds

    def logged_in(self, at: float, user_id: str, station: str) -> None:
        self._station_agent[station] = user_id
        self._open_sessions[user_id] = (station, at)

    def logged_out(self, at: float, user_id: str, station: str, code: int | None, forced: bool) -> None:
        if self._station_agent.get(station) == user_id:
            del self._station_agent[station]
        opened = self._open_sessions.pop(user_id, None)
        if opened is None:
            return
        where, since = opened
        if at >= self.query.start and since < self.query.end:
            label = self.labels.label(CodeFamily.LOGOUT, code)
            self.sessions.append(AgentSession(user_id, where, since, at, code, label, forced))

    def _count(self, at: float, user_id: str) -> list[_Counts]:
        if not self.query.contains(at):
            return []
        return [self._cell(at // self.query.size * self.query.size, user_id), self._total(user_id)]

    def offered(self, at: float, user_id: str) -> None:
        for c in self._count(at, user_id):
            c.offered += 1

    def answered(self, at: float, user_id: str) -> None:
        for c in self._count(at, user_id):
            c.answered += 1

    def ring_no_answer(self, at: float, user_id: str) -> None:
        for c in self._count(at, user_id):
            c.ring_no_answer += 1

    def completed(self, at: float, user_id: str, talked: float) -> None:
        for c in self._count(at, user_id):
            c.completed += 1
            c.talk_seconds += talked

    def transferred(self, at: float, station: str) -> None:
        user_id = self._station_agent.get(station)
        if user_id is not None:
            for c in self._count(at, user_id):
                c.transfers += 1

    def recording_started(self, at: float, user_id: str) -> None:
        if user_id:
            for c in self._count(at, user_id):
                c.recordings += 1

    def finish(self) -> None:
        """Close every stretch and session still open at the end of the range."""
        for user_id in list(self._current):
            self._close(user_id, self.query.end)
        for user_id, (station, since) in sorted(self._open_sessions.items()):
            if since < self.query.end:
                self.sessions.append(AgentSession(user_id, station, since, None, None, "", False))
        self._open_sessions.clear()
        self.sessions.sort(key=lambda s: (s.user_id, s.logon))
        self.not_ready.sort(key=lambda p: (p.user_id, p.start))
        self.stretches.sort(key=lambda s: (s.user_id, s.start))

    def _label(self, state: AgentState, code: int | None) -> str:
        key = (state, code)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = self.labels.label(family_of(state), code)
        return label

    def _row(self, start: float, end: float, user_id: str, c: _Counts) -> AgentRow:
        states = tuple(
            StateTime(state, code, self._label(state, code), acc[0], int(acc[1]))
            for (state, code), acc in sorted(c.states.items(), key=lambda kv: (_ORDER[kv[0][0]], kv[0][1] or 0))
        )
        return AgentRow(start, end, user_id, self.names.get(user_id, ""), states, c.offered, c.answered,
                        c.ring_no_answer, c.completed, c.talk_seconds, c.wrapup_seconds, c.transfers,
                        c.recordings)

    def rows(self) -> list[AgentRow]:
        """One row per interval and agent with anything in it, by interval then agent."""
        out = []
        size = self.query.size
        for (bucket, user_id), c in sorted(self._counts.items()):
            start, end = max(bucket, self.query.start), min(bucket + size, self.query.end)
            out.append(self._row(start, end, user_id, c))
        return out

    def totals(self) -> list[AgentRow]:
        """One row per agent over the whole range."""
        return [self._row(self.query.start, self.query.end, u, c) for u, c in sorted(self._totals.items())]

    def wrapups(self) -> list[WrapupUse]:
        """Wrap-up codes per agent: times entered and time under each."""
        return [
            WrapupUse(u, code, self.labels.label(CodeFamily.WRAPUP, code), int(acc[0]), acc[1])
            for (u, code), acc in sorted(self._wrapups.items())
        ]


_ORDER = {s: i for i, s in enumerate(AgentState)}
