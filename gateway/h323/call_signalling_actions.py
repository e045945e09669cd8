"""What the call signalling engine (`call_signalling.CallSignallingConnection`) returns: the
call handle, its timers, the messages to send and the events for the bridge above."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from acdgate.gateway.h323.cs_messages import (
    Alerting,
    CallProceeding,
    CallSignal,
    Connect,
    Progress,
    ReleaseCompleteReason,
    Setup,
)
from acdgate.gateway.h323.ras_messages import TransportAddress


@dataclass(frozen=True, slots=True)
class Call:
    """One call on a connection: its call reference value and who allocated it (Q.931 4.3).

    `outgoing` is True for a call we placed (we chose the reference: our messages carry the
    flag "from the originating side"), False for a call the peer offered.
    """

    reference: int
    outgoing: bool


class CallTimer(StrEnum):
    """The per-call timers, by their Q.931 Table 9-1 names (`SETUP_ANSWER` is H.225.0's)."""

    T301 = "T301"  # CALL_DELIVERED: the called user is rung, no Connect yet
    T302 = "T302"  # OVERLAP_RECEIVING: no Information with more digits
    T303 = "T303"  # CALL_INITIATED: our Setup unanswered
    T310 = "T310"  # OUTGOING_CALL_PROCEEDING: Call Proceeding, then nothing
    SETUP_ANSWER = "setup-answer"  # CALL_PRESENT: the bridge has not answered the peer's Setup


class ProgressKind(StrEnum):
    """Which answer to our Setup moved the call on."""

    PROCEEDING = "proceeding"
    ALERTING = "alerting"
    PROGRESS = "progress"


class DigitSource(StrEnum):
    """Where overlap digits came from (Q.931 4.5: Keypad facility or Called party number IE)."""

    KEYPAD = "keypad"
    CALLED_NUMBER = "called-number"


# -- for the edge ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendSignal:
    """Encode `message` (TPKT, `cs_codec`) and write it to the connection."""

    message: CallSignal


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close the TCP connection, after writing what went before (no call is left on it)."""

    reason: str


@dataclass(frozen=True, slots=True)
class LogDefect:
    """The peer broke the protocol (remote fault): what was wrong, for the log. Any answer
    (Status, Release Complete) is among the other actions."""

    defect: str
    call: Call | None = None


# -- for the bridge --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallOffered:
    """The peer's Setup made a new call (CALL_PRESENT): answer it with `proceed`,
    `acknowledge_setup`, `alert`, `connect` or `release`."""

    call: Call
    setup: Setup


@dataclass(frozen=True, slots=True)
class DigitsReceived:
    """More digits for a call, from an Information message (overlap dialling, or keypad
    presses during the call)."""

    call: Call
    digits: str
    source: DigitSource


@dataclass(frozen=True, slots=True)
class CallProgressed:
    """The call we placed proceeds, rings or has in-band progress; a fastStart answer or an
    H.245 address may come with it."""

    call: Call
    kind: ProgressKind
    message: CallProceeding | Alerting | Progress
    fast_start: tuple[bytes, ...] = ()
    h245_address: TransportAddress | None = None


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The call we placed was answered (ACTIVE)."""

    call: Call
    connect: Connect


@dataclass(frozen=True, slots=True)
class H245Received:
    """Tunnelled H.245 PDUs (h245Control, encoded) from any message of the call."""

    call: Call
    pdus: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class H245AddressOffered:
    """The peer asks for a separate H.245 connection to `address` (h245Address in a message,
    or a Facility startH245)."""

    call: Call
    address: TransportAddress


@dataclass(frozen=True, slots=True)
class CallReleased:
    """The call is over (NULL): every timer of it stopped, any Release Complete of ours
    already among the actions. `by_peer` says who ended it: the peer (its Release Complete,
    a Status reporting NULL, the connection lost) or this side (the bridge, a timer)."""

    call: Call
    cause: int
    reason: ReleaseCompleteReason | None
    by_peer: bool
    why: str = ""


CallSignallingAction = (SendSignal | CloseConnection | LogDefect | CallOffered | DigitsReceived
                        | CallProgressed | CallAnswered | H245Received | H245AddressOffered
                        | CallReleased)
