"""What the H.245 session engine asks of its edge and tells the call above it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from acdgate.gateway.h323.h245_messages import AudioCodec, H245Message
from acdgate.gateway.h323.ras_messages import TransportAddress


class DigitSource(StrEnum):
    """Which userInputIndication form carried a digit (H.245 UserInputIndication)."""

    ALPHANUMERIC = "alphanumeric"
    SIGNAL = "signal"


@dataclass(frozen=True, slots=True)
class SendH245:
    """Send this PDU to the peer, tunnelled or on the H.245 connection (the edge's choice)."""

    message: H245Message


@dataclass(frozen=True, slots=True)
class MediaReady:
    """Both audio channels are open: send `codec` RTP to `remote_rtp` (RTCP to `remote_rtcp`).

    `receive_codec` is what the peer sends us; `rfc2833_payload_type` is set when the peer's
    capabilities include RFC 2833 telephony events, so the media layer can read RFC 4733 digits.
    """

    codec: AudioCodec
    remote_rtp: TransportAddress
    remote_rtcp: TransportAddress | None
    receive_codec: AudioCodec
    rfc2833_payload_type: int | None = None


@dataclass(frozen=True, slots=True)
class DigitReceived:
    """A key the user pressed, from userInputIndication; `duration_ms` when a signal gave one."""

    digit: str
    duration_ms: int | None
    source: DigitSource


@dataclass(frozen=True, slots=True)
class ChannelClosed:
    """A logical channel closed: ours (we transmit on it) or the peer's (we receive on it)."""

    number: int
    ours: bool


@dataclass(frozen=True, slots=True)
class SessionFailed:
    """A procedure failed (a timer expired, no common codec, MSD indeterminate): media will
    not come up on this session; the call decides whether to release."""

    reason: str


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """endSessionCommand was exchanged: the session is over (H.323 8.5)."""

    by_peer: bool


H245Action = SendH245 | MediaReady | DigitReceived | ChannelClosed | SessionFailed | SessionEnded
