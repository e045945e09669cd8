"""Commands: what enters the ACD (from phones, short codes, the B2BUA), as frozen dataclasses.

The gateway turns a dialled short code, a feature key or a leg event into one of these and
passes it to `Acd.handle(command, now)`; the ACD answers with a list of events.
"""

from __future__ import annotations

from dataclasses import dataclass

from acdgate.acd.states import AgentState
from acdgate.acd.station_calls import CallDirection


@dataclass(frozen=True, slots=True)
class Login:
    """Log `user_id` on at `station` with `pin`; `force` logs out whoever is in the way."""

    user_id: str
    pin: str
    station: str
    force: bool = False
    # The gateway authenticated the station this user belongs to (`Station.agent`): the
    # station's digest credentials stand in for the PIN. A locked user stays locked.
    station_authenticated: bool = False
    # where the PIN came from (the HTTP client's host), counted and locked apart (issue 19)
    source: str = ""


@dataclass(frozen=True, slots=True)
class Logout:
    """Log `user_id` off (only from NOT_READY)."""

    user_id: str
    reason_code: int | None = None


@dataclass(frozen=True, slots=True)
class SetState:
    """The agent chose `state` from the Change State menu (pending while TALKING)."""

    user_id: str
    state: AgentState
    reason_code: int | None = None
    wrapup_code: int | None = None


@dataclass(frozen=True, slots=True)
class GiveWrapupCode:
    """The wrap-up code an agent owes for a routed call it chose Work (Not) Ready on while
    talking, given once the call has ended (guide: wrap-up data "after the call ends")."""

    user_id: str
    wrapup_code: int


@dataclass(frozen=True, slots=True)
class SetMembership:
    """Enable or disable the user's membership of `group` (IP Office Hunt Group Enable/Disable)."""

    user_id: str
    group: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A routed call arrived at `group`; higher `priority` is served first."""

    call_id: str
    group: str
    ani: str = ""
    dnis: str = ""
    priority: int = 0
    data: tuple[tuple[str, str], ...] = ()  # enterprise data shown on the agent's phone


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The agent's station answered the offered call."""

    call_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """Caller or agent hung up a routed call, answered or not (abandon when not answered)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """The agent's station could not be rung for the offered call (e.g. unreachable)."""

    call_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class DirectCallStarted:
    """A non-routed call of `station`: one that rings it, or one its phone placed (`OUTGOING`).

    Every call of a station is reported (to another station, to a user, to a group, a
    transferred call, a supervisor's leg), whether someone is logged on there or not: an
    agent whose station has a call is never offered a routed one. A station-to-station call
    is one call id with a part at each station.
    """

    call_id: str
    station: str
    ani: str = ""
    dnis: str = ""
    direction: CallDirection = CallDirection.INCOMING


@dataclass(frozen=True, slots=True)
class DirectCallAnswered:
    """The non-routed call was answered (at every station it has a part at)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class DirectCallEnded:
    """The non-routed call ended, answered or not; only `station`'s part of it when given
    (a blind transfer handed the other party on)."""

    call_id: str
    station: str | None = None


Command = (
    Login
    | Logout
    | SetState
    | GiveWrapupCode
    | SetMembership
    | CallArrived
    | CallAnswered
    | CallEnded
    | OfferFailed
    | DirectCallStarted
    | DirectCallAnswered
    | DirectCallEnded
)
