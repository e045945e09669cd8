"""Qualify: the OPTIONS keep-alive schedule for registered contacts, and station reachability.

Theory of operation: every tracked binding is probed every `interval` seconds. `due(now)` hands
out the bindings to send an OPTIONS to (at most one probe in flight per binding); the transaction
layer reports exactly one of `answered` (any final response, even 404/405: the phone is there)
or `timed_out` (Timer F) per probe. Each binding runs the small table below; a station is
reachable while at least one of its bindings is, and the transitions of that come out as
`StationReachable` / `StationUnreachable` events. A fresh REGISTER counts as a sign of life.
Pure: no I/O, time is `now`; arm one timer at `next_due()`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from acdgate.gateway.sip.registrar import Binding


class ProbeState(Enum):
    """A binding's reachability and whether a probe is in flight."""

    IDLE_UP = "idle-up"
    PROBING_UP = "probing-up"
    IDLE_DOWN = "idle-down"
    PROBING_DOWN = "probing-down"


class ProbeInput(Enum):
    """What happens to a binding."""

    SEND = "send"  # an OPTIONS goes out
    ANSWER = "answer"  # a final response came back
    TIMEOUT = "timeout"  # the OPTIONS transaction timed out
    REFRESH = "refresh"  # the phone registered again


_UP = frozenset((ProbeState.IDLE_UP, ProbeState.PROBING_UP))

# (state, input) -> next state; a pair missing here is a protocol error (QualifyError)
_TABLE: dict[tuple[ProbeState, ProbeInput], ProbeState] = {
    (ProbeState.IDLE_UP, ProbeInput.SEND): ProbeState.PROBING_UP,
    (ProbeState.IDLE_UP, ProbeInput.REFRESH): ProbeState.IDLE_UP,
    (ProbeState.PROBING_UP, ProbeInput.ANSWER): ProbeState.IDLE_UP,
    (ProbeState.PROBING_UP, ProbeInput.TIMEOUT): ProbeState.IDLE_DOWN,
    (ProbeState.PROBING_UP, ProbeInput.REFRESH): ProbeState.PROBING_UP,
    (ProbeState.IDLE_DOWN, ProbeInput.SEND): ProbeState.PROBING_DOWN,
    (ProbeState.IDLE_DOWN, ProbeInput.REFRESH): ProbeState.IDLE_UP,
    (ProbeState.PROBING_DOWN, ProbeInput.ANSWER): ProbeState.IDLE_UP,
    (ProbeState.PROBING_DOWN, ProbeInput.TIMEOUT): ProbeState.IDLE_DOWN,
    (ProbeState.PROBING_DOWN, ProbeInput.REFRESH): ProbeState.PROBING_UP,
}


class QualifyError(RuntimeError):
    """Local fault: an input the binding's state has no entry for (e.g. an answer with no probe)."""


@dataclass(frozen=True, slots=True)
class StationReachable:
    """A station answers again (or registered again) after being unreachable."""

    username: str
    at: float


@dataclass(frozen=True, slots=True)
class StationUnreachable:
    """None of a station's contacts answers OPTIONS any more."""

    username: str
    at: float


QualifyEvent = StationReachable | StationUnreachable
Key = tuple[str, str]


@dataclass(slots=True)
class _Entry:
    binding: Binding
    state: ProbeState
    due_at: float


class Qualifier:
    """Per-binding OPTIONS schedule and per-station reachability."""

    def __init__(self, interval: float) -> None:
        self._interval = interval  # 0: never probe
        self._entries: dict[Key, _Entry] = {}
        # the same entries by station: reachability is asked on every REGISTER, and a scan
        # of every binding of the site there grew with the site
        self._by_user: dict[str, dict[Key, _Entry]] = {}
        self._heap: list[tuple[float, int, Key]] = []  # (due_at, seq, key); stale ones skipped
        self._seq = itertools.count()
        self._down: set[str] = set()  # stations reported unreachable

    # -- bindings come and go --------------------------------------------------------------

    def track(self, binding: Binding, now: float) -> list[QualifyEvent]:
        """A binding was added or refreshed (a REGISTER: the phone is alive)."""
        key = binding.key()
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(binding, ProbeState.IDLE_UP, now + self._interval)
            self._entries[key] = entry
            self._by_user.setdefault(key[0], {})[key] = entry
            self._schedule(key, entry)
        else:
            entry.binding = binding
            self._step(entry, ProbeInput.REFRESH)
        return self._station_events(binding.username, now)

    def track_all(self, bindings: Iterable[Binding], now: float) -> list[QualifyEvent]:
        """`track` for each (a restore)."""
        return [e for b in bindings for e in self.track(b, now)]

    def forget(self, key: Key, now: float) -> list[QualifyEvent]:
        """A binding was removed or expired; late probe results for it are ignored."""
        if self._entries.pop(key, None) is None:
            return []
        username = key[0]
        mine = self._by_user[username]
        del mine[key]
        if not mine:
            del self._by_user[username]
            self._down.discard(username)  # gone, not unreachable: the registrar reports that
            return []
        return self._station_events(username, now)

    # -- the probe cycle -------------------------------------------------------------------

    def due(self, now: float) -> list[Binding]:
        """The bindings to send an OPTIONS to now; each is in flight until answered/timed out."""
        out: list[Binding] = []
        while self._heap and self._heap[0][0] <= now:
            due_at, _, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            if entry is None or entry.due_at != due_at:
                continue
            self._step(entry, ProbeInput.SEND)
            entry.due_at = now + self._interval
            out.append(entry.binding)
        return out

    def answered(self, key: Key, now: float) -> list[QualifyEvent]:
        """Any final response to the binding's OPTIONS."""
        return self._result(key, ProbeInput.ANSWER, now)

    def timed_out(self, key: Key, now: float) -> list[QualifyEvent]:
        """The binding's OPTIONS got no response (transaction timeout)."""
        return self._result(key, ProbeInput.TIMEOUT, now)

    def next_due(self) -> float | None:
        """When `due` next has something (arm a timer), None if nothing is scheduled."""
        while self._heap:
            due_at, _, key = self._heap[0]
            entry = self._entries.get(key)
            if entry is not None and entry.due_at == due_at and entry.state not in _PROBING:
                return due_at
            heapq.heappop(self._heap)
        return None

    def reachable(self, username: str) -> bool:
        """Whether the station has a binding believed reachable."""
        return any(e.state in _UP for e in self._by_user.get(username, {}).values())

    def state(self, key: Key) -> ProbeState | None:
        """The binding's probe state, None if not tracked."""
        entry = self._entries.get(key)
        return None if entry is None else entry.state

    # -- internals -------------------------------------------------------------------------

    def _result(self, key: Key, event: ProbeInput, now: float) -> list[QualifyEvent]:
        entry = self._entries.get(key)
        if entry is None:
            return []  # forgotten while the probe was in flight
        self._step(entry, event)
        self._schedule(key, entry)
        return self._station_events(key[0], now)

    def _schedule(self, key: Key, entry: _Entry) -> None:
        if self._interval > 0:
            heapq.heappush(self._heap, (entry.due_at, next(self._seq), key))

    @staticmethod
    def _step(entry: _Entry, event: ProbeInput) -> None:
        nxt = _TABLE.get((entry.state, event))
        if nxt is None:
            raise QualifyError(f"{event.value} in state {entry.state.value} for {entry.binding.key()}")
        entry.state = nxt

    def _station_events(self, username: str, now: float) -> list[QualifyEvent]:
        up = self.reachable(username)
        if up and username in self._down:
            self._down.discard(username)
            return [StationReachable(username, now)]
        if not up and username not in self._down:
            self._down.add(username)
            return [StationUnreachable(username, now)]
        return []


_PROBING = frozenset((ProbeState.PROBING_UP, ProbeState.PROBING_DOWN))
