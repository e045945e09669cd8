"""Every non-routed call of each station, incoming or outgoing: the ACD's view of a busy phone.

A routed call reaches an agent only when the agent is READY, and an agent is READY only
when its station has no call (IP Phone Agent guide, Table 2: a non-routed call makes the
agent Reserved, then Talking, then puts it back). The gateway reports each station's part
of a non-routed call here: a call that rings the station, one its phone placed (to another
station, to a user's number, to a group), a transferred call, a supervisor's leg. One call
can have a part at two stations (station to station): the same call id, each station once.
Calls of stations where nobody is logged on are kept too, so that whoever logs on there
during the call is on it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CallDirection(StrEnum):
    """Which way a station's call goes, seen from the station."""

    INCOMING = "incoming"  # it rings (or rang) the station
    OUTGOING = "outgoing"  # the station's phone placed it


@dataclass(slots=True)
class StationCall:
    """One station's part of a non-routed call."""

    call_id: str
    station: str
    direction: CallDirection
    answered: bool = False
    other: str = ""  # the other party's number: the caller (incoming), the number dialled (outgoing)

    def view(self) -> StationCallView:
        """A frozen snapshot."""
        return StationCallView(self.call_id, self.station, self.direction, self.answered, self.other)


@dataclass(frozen=True, slots=True)
class StationCallView:
    """A frozen snapshot of one station's part of a call, for the gateway and tests."""

    call_id: str
    station: str
    direction: CallDirection
    answered: bool
    other: str = ""  # the other party's number (the wallboard's caller column)


class StationCalls:
    """The live non-routed calls by station and by call id, in the order they started."""

    __slots__ = ("_by_call", "_by_station")

    def __init__(self) -> None:
        self._by_station: dict[str, dict[str, StationCall]] = {}
        self._by_call: dict[str, dict[str, StationCall]] = {}

    def start(self, call_id: str, station: str, direction: CallDirection, other: str = "") -> bool:
        """Track `station`'s part of `call_id` (`other`: the other party's number); False when it
        is tracked already."""
        parts = self._by_call.setdefault(call_id, {})
        if station in parts:
            return False
        part = StationCall(call_id, station, direction, other=other)
        parts[station] = part
        self._by_station.setdefault(station, {})[call_id] = part
        return True

    def answer(self, call_id: str) -> list[str]:
        """The call was answered: every part of it is; the stations it has parts at."""
        parts = self._by_call.get(call_id, {})
        for part in parts.values():
            part.answered = True
        return list(parts)

    def end(self, call_id: str, station: str | None = None) -> list[str]:
        """The call ended (only `station`'s part when given); the stations whose part ended."""
        parts = self._by_call.get(call_id)
        if parts is None:
            return []
        stations = list(parts) if station is None else [station] if station in parts else []
        for s in stations:
            del parts[s]
            calls = self._by_station[s]
            del calls[call_id]
            if not calls:
                del self._by_station[s]
        if not parts:
            del self._by_call[call_id]
        return stations

    def current(self, station: str | None, keep: str | None = None) -> StationCall | None:
        """The call an agent at `station` is on: `keep` (the one it follows) while it is live
        and no other is answered before it is, else the first answered one, else the first."""
        calls = self._by_station.get(station or "")
        if not calls:
            return None
        answered = next((c for c in calls.values() if c.answered), None)
        kept = calls.get(keep or "")
        if kept is not None and (kept.answered or answered is None):
            return kept
        return answered or next(iter(calls.values()))

    def at(self, station: str) -> list[StationCallView]:
        """The station's calls, oldest first."""
        return [c.view() for c in self._by_station.get(station, {}).values()]
