"""What the INVITE dialog engine (`invite_dialog.InviteDialog`) asks of its leg: the actions
(frozen dataclasses) every engine call returns, the names of its timers and why a dialog ended."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from acdgate.gateway.sip.message import Request, Response


class DialogTimer(Enum):
    """The engine's timers; the leg runs one of each name at most (a new start replaces it)."""

    RETRANSMIT_2XX = "2xx"  # RFC 3261 13.3.1.4: resend our 2xx to the INVITE until the ACK
    RETRANSMIT_REINVITE_2XX = "re-2xx"  # the same for our 2xx to the peer's re-INVITE (14.2)
    SESSION = "session"  # RFC 4028 10: refresh at half the interval, or BYE before it expires
    GLARE = "glare"  # RFC 3261 14.1: retry our refresh after a 491 (or once the peer's is done)


class EndCause(Enum):
    """Why the dialog ended (the leg maps it to `leg.EndReason`)."""

    LOCAL_HANGUP = "local-hangup"  # our BYE, or our CANCEL
    REMOTE_HANGUP = "remote-hangup"  # their BYE, or their CANCEL
    REFUSED = "refused"  # a final non-2xx to the INVITE, either way
    TIMEOUT = "timeout"  # our INVITE got no final response (Timer B) or could not be sent
    NO_ACK = "no-ack"  # RFC 3261 13.3.1.4: no ACK for our 2xx in 64*T1; we sent BYE
    SESSION_EXPIRED = "session-expired"  # RFC 4028 10, or a refresh answered 408/481; we sent BYE
    ERROR = "error"  # the peer's 2xx could not make a dialog


# -- actions: what to do --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendResponse:
    """Send `response` through the server transaction of the request it answers."""

    response: Response


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send `request` in a new client transaction; feed its responses to
    `InviteDialog.response_received` and a failure to `request_failed`."""

    request: Request


@dataclass(frozen=True, slots=True)
class SendAck:
    """Send the ACK for a 2xx outside any transaction (RFC 3261 13.2.2.4, 17.1.1.3)."""

    request: Request


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Call `InviteDialog.timer_fired(name, now)` at `at`; replaces a pending timer of that name."""

    name: DialogTimer
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget the pending timer `name`."""

    name: DialogTimer


# -- events: what happened, for the leg ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ringing:
    """UAC: a provisional response (101-199) to our INVITE."""

    response: Response


@dataclass(frozen=True, slots=True)
class Answered:
    """UAC: the 2xx to our INVITE, ACKed; its body is the answer to our offer."""

    response: Response


@dataclass(frozen=True, slots=True)
class Confirmed:
    """UAS: the ACK for our 2xx to the INVITE arrived (RFC 3261 13.3.1.4)."""

    ack: Request


@dataclass(frozen=True, slots=True)
class OfferReceived:
    """A re-INVITE or UPDATE the engine accepted so far (dialog, CSeq, glare, session timer);
    the leg answers it with `InviteDialog.accept_offer` (its SDP) or `refuse_offer` (488)."""

    request: Request


@dataclass(frozen=True, slots=True)
class AnswerReceived:
    """An SDP answer to an offer of ours: in the ACK for our 2xx to an offerless re-INVITE, or in
    the 2xx to our re-INVITE (RFC 3264)."""

    body: bytes


@dataclass(frozen=True, slots=True)
class Ended:
    """The dialog ended (every timer cancelled, any BYE already among the actions)."""

    cause: EndCause
    why: str


@dataclass(frozen=True, slots=True)
class PeerError:
    """The peer broke the protocol: input with no entry in the state table (remote fault). A
    request among them has been answered with `status` (0: an ACK or a response, not answered)."""

    reason: str
    status: int = 0


Action = (
    SendResponse
    | SendRequest
    | SendAck
    | StartTimer
    | CancelTimer
    | Ringing
    | Answered
    | Confirmed
    | OfferReceived
    | AnswerReceived
    | Ended
    | PeerError
)
