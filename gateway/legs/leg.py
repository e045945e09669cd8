"""Legs: one party's side of a call, as the feature handler and the B2BUA see it.

A leg is offered, answered, plays tones, reports key presses and ends. A SIP dialog is one
kind of leg (`sip_uas.SipLeg`); an H.323 call from the bridge is another (`h323_leg.H323Leg`),
and the code above legs never looks at SIP or H.323 messages (DESIGN.md, "Calls are legs, not
SIP").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from acdgate.codecs.tones import Cadence
from acdgate.gateway.media.session import Samples as Samples  # what play_samples takes
from twisted.internet import defer


class EndReason(Enum):
    """Why a leg ended."""

    LOCAL_HANGUP = "local-hangup"  # we hung up
    REMOTE_HANGUP = "remote-hangup"  # the party hung up (BYE, CANCEL)
    REFUSED = "refused"  # we refused it before answering
    TIMEOUT = "timeout"  # no ACK, no media, transaction timeout
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A status and reason phrase to refuse a leg with (the SIP leg maps it 1:1)."""

    status: int
    reason: str


class Leg(Protocol):
    """One party of a call."""

    station: str | None  # the station it comes from, when it is one of ours
    dialled: str  # what the party dialled (decoded: '#' not '%23')
    on_digit: Callable[[str, str], None] | None  # (digit, method: rfc4733 | info | inband
    #                                               | h245-uii | keypad)
    on_ended: Callable[[EndReason], None] | None

    @property
    def call_id(self) -> str:
        """The call's identity the controllers key it by: a SIP leg's Call-ID, an H.323 leg's
        callIdentifier (hex)."""
        ...

    @property
    def has_media(self) -> bool:
        """Whether answering would give a usable audio path (a common codec was offered)."""
        ...

    @property
    def media_problem(self) -> str:
        """Why there is no usable media (empty when there is)."""
        ...

    def answer(self) -> defer.Deferred[None]:
        """Answer; fires when the far end confirmed (SIP: the ACK). Fails with ConnectionError
        when the leg ends first, TimeoutError when no confirmation came (the leg is hung up)."""
        ...

    def refuse(self, refusal: Refusal) -> None:
        """Refuse before answering."""
        ...

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        """Play a tone; fires when it has been sent."""
        ...

    def play_samples(self, samples: Samples) -> defer.Deferred[None]:
        """Play 8 kHz audio (a spoken prompt); fires when it has been sent or was cut short."""
        ...

    def stop_playing(self) -> None:
        """Stop the tone or audio now playing, if any."""
        ...

    def hangup(self) -> None:
        """End the leg from our side."""
        ...
