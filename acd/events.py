"""Events: what the ACD emits, as frozen dataclasses, and their flat journal records.

Every event carries `at` (the `now` of the command or timer that caused it). The gateway
acts on events (ring a station, play a tone, update a display) and appends each one to
its journal as `event_to_record(event)`; reports read the records back with
`record_to_event`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum, StrEnum

from acdgate.acd.states import AgentState


class LoginRejectReason(StrEnum):
    """Why a login was refused."""

    WRONG_PIN = "wrong-pin"
    LOCKED = "locked"  # too many wrong PINs; try again after the lockout
    UNKNOWN_USER = "unknown-user"
    UNKNOWN_STATION = "unknown-station"
    IN_USE = "in-use"  # user or station busy: the phone offers the Forced Login menu
    FORCE_REFUSED_BUSY = "force-refused-busy"  # the session in the way is on a call
    SOURCE_LOCKED = "source-locked"  # too many wrong PINs from where this one comes (issue 19)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all ACD events."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggedIn(Event):
    user_id: str
    station: str
    forced: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggedOut(Event):
    user_id: str
    station: str
    reason_code: int | None = None
    forced: bool = False  # logged out by a forced login of someone else


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginRejected(Event):
    user_id: str
    station: str
    reason: LoginRejectReason


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    """The agent's state changed (or NOT_READY was chosen again with a new reason)."""

    user_id: str
    station: str
    old: AgentState
    new: AgentState
    reason_code: int | None = None
    wrapup_code: int | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatePending(Event):
    """A state chosen while TALKING; it takes effect when the call ends."""

    user_id: str
    station: str
    state: AgentState
    reason_code: int | None = None
    wrapup_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WrapupCodeGiven(Event):
    """The wrap-up code the agent owed for its last routed call was given."""

    user_id: str
    station: str
    wrapup_code: int
    call_id: str | None = None  # the routed call it is for, when known


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRejected(Event):
    """A command the ACD refused: unknown user or call, not allowed in this state, ..."""

    user_id: str | None
    command: str
    reason: str  # in English, for the journal and the API: `message` with `params` filled in
    # The reason as a message id of the phone catalogs (gateway.i18n) and its parameters, so
    # a phone can show it in its user's language; "" for reasons no phone shows.
    message: str = ""
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEntered(Event):
    """A call entered a group (arrived, or overflowed into it): the group's "offered"."""

    call_id: str
    group: str
    ani: str = ""
    dnis: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CallQueued(Event):
    """No agent was available: the call waits; `position` is the CIQ once it is queued."""

    call_id: str
    group: str
    position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCall(Event):
    """Ring `station` for the call (the agent is now RESERVED)."""

    call_id: str
    user_id: str
    station: str
    group: str
    ani: str = ""
    dnis: str = ""
    data: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCancelled(Event):
    """Stop ringing `station` for the call."""

    call_id: str
    user_id: str
    station: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallConnected(Event):
    """The agent answered; `waited` is the time since the call arrived at the ACD."""

    call_id: str
    user_id: str
    station: str
    group: str
    waited: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAbandoned(Event):
    """The caller hung up before an agent answered."""

    call_id: str
    group: str
    waited: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOverflowed(Event):
    call_id: str
    from_group: str
    to_group: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRefused(Event):
    """The call was not accepted: "queue full" or "no such group"."""

    call_id: str
    group: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallCompleted(Event):
    """An answered call ended; `talked` is the time since it was answered."""

    call_id: str
    user_id: str
    group: str
    talked: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RingNoAnswer(Event):
    call_id: str
    user_id: str
    station: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipChanged(Event):
    user_id: str
    group: str
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class UserLocked(Event):
    """Too many wrong PINs: logins of `user_id` are refused until `until`."""

    user_id: str
    until: float


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        LoggedIn,
        LoggedOut,
        LoginRejected,
        StateChanged,
        StatePending,
        WrapupCodeGiven,
        CommandRejected,
        CallEntered,
        CallQueued,
        OfferCall,
        OfferCancelled,
        CallConnected,
        CallAbandoned,
        CallOverflowed,
        CallRefused,
        CallCompleted,
        RingNoAnswer,
        MembershipChanged,
        UserLocked,
    )
}

Record = dict[str, object]
_Decoder = Callable[[object], object]


def _identity(value: object) -> object:
    return value


def _pairs(value: object) -> object:
    assert isinstance(value, list | tuple)
    return tuple((str(k), str(v)) for k, v in value)


def _decoder(tp: object) -> _Decoder:
    """How to turn a JSON value back into a field of type `tp`."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = _decoder(next(a for a in args if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if isinstance(tp, type) and issubclass(tp, Enum):
        enum_type: type[Enum] = tp
        return lambda v: enum_type(v)
    if tp is float:
        return lambda v: float(typing.cast(float, v))
    if typing.get_origin(tp) is tuple:
        return _pairs
    return _identity


_DECODERS: dict[str, dict[str, _Decoder]] = {
    name: {f: _decoder(tp) for f, tp in typing.get_type_hints(cls).items()}
    for name, cls in EVENT_TYPES.items()
}


def event_to_record(event: Event) -> Record:
    """A flat JSON-able dict: `{"type": "StateChanged", "at": ..., field: value, ...}`."""
    record: Record = {"type": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = [list(pair) for pair in value]
        record[f.name] = value
    return record


def record_to_event(record: typing.Mapping[str, object]) -> Event:
    """The event `event_to_record` made `record` from; KeyError/ValueError when malformed."""
    name = str(record["type"])
    cls = EVENT_TYPES[name]
    decoders = _DECODERS[name]
    kwargs: dict[str, typing.Any] = {
        f: decode(record[f]) for f, decode in decoders.items() if f in record
    }
    return cls(**kwargs)
