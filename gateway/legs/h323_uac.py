"""A call from the gateway to a registered H.323 station, as a leg (an agent's desk rung for a
routed call): the calling side of a Setup, with its RTP media session.

`start()` connects to the station's call signalling address (from its RRQ) through the edge's
factory and sends a Setup with our fastStart proposals (mu-law, A-law; H.323 8.1.7) and
h245Tunnelling. Alerting rings (`on_ringing`); Connect answers (`on_answered`) once its
fastStart answer names the channel we transmit on; the media then runs at once. The peer's
tunnelled H.245 is answered by an `H245Session` that is never started (capability sets
acknowledged, master/slave answered, userInputIndication read as digits). A Release Complete
ends the leg with `final_status`, the SIP-style status its cause maps to (RFC 3398 7.2.4.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from acdgate.codecs.tones import Cadence
from acdgate.gateway.h323.call_signalling_actions import (
    Call,
    CallAnswered,
    CallProgressed,
    CallReleased,
    DigitsReceived,
    H245Received,
    ProgressKind,
)
from acdgate.gateway.h323.cs_messages import Cause
from acdgate.gateway.h323.cs_protocol import (
    CallEvent,
    CallSignallingFactory,
    CallSignallingProtocol,
)
from acdgate.gateway.h323.fast_start import (
    FastStartAccepted,
    offer_fast_start,
    read_fast_start_answer,
)
from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_events import DigitReceived, SendH245
from acdgate.gateway.h323.h245_session import H245Session, H245Settings
from acdgate.gateway.h323.ras_messages import Alias, AliasKind, TransportAddress
from acdgate.gateway.legs.h323_leg import negotiated_for
from acdgate.gateway.legs.leg import EndReason
from acdgate.gateway.legs.sip_uas import local_ip_towards
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import Negotiated
from acdgate.gateway.media.session import MediaSession, Samples
from twisted.internet import defer
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")

# RFC 3398 7.2.4.1: the SIP status a Q.850 cause maps to (what the call layer reads as the
# far end's answer); anything else is 480 (temporarily unavailable)
_STATUS: dict[int, int] = {Cause.UNALLOCATED_NUMBER: 404, Cause.USER_BUSY: 486, Cause.NO_USER_RESPONDING: 408,
           Cause.NO_ANSWER: 480, Cause.CALL_REJECTED: 403, Cause.NORMAL_CALL_CLEARING: 480,
           Cause.TEMPORARY_FAILURE: 503, Cause.SWITCHING_EQUIPMENT_CONGESTION: 503}


class OutgoingH323Leg:
    """The calling side of one H.323 call to a station (module docstring)."""

    def __init__(self, reactor: Any, factory: CallSignallingFactory, address: TransportAddress, *,
                 station: str, alias: Alias | None = None, caller_number: str, caller_name: str,
                 ports: RtpPortPool, bind_ip: str, codec: H245Codec) -> None:
        self.reactor = reactor
        self.factory = factory
        self.address = address
        self.station: str | None = station
        self.dialled = station
        self.alias = alias if alias is not None else Alias(AliasKind.DIALLED_DIGITS, station)
        self.caller_number = caller_number
        self.caller_name = caller_name
        self.on_digit: Callable[[str, str], None] | None = None
        self.on_ended: Callable[[EndReason], None] | None = None
        self.on_ringing: Callable[[], None] | None = None
        self.on_answered: Callable[[], None] | None = None
        self.ended = False
        self.answered = False
        self.final_status: int | None = None
        self.call_id = f"h323-{secrets.token_hex(12)}"
        self._codec = codec
        self.media = MediaSession(reactor)
        self.rtp = RtpSocket(reactor, bind_ip if bind_ip not in ("", "::") else "0.0.0.0", ports,
                             self.media)
        self.media.on_digit = self._digit
        self.negotiated: Negotiated | None = None
        self.edge: CallSignallingProtocol | None = None
        self.call: Call | None = None
        self.media_ip = ""
        self._early: FastStartAccepted | None = None
        self._h245: H245Session | None = None

    @property
    def has_media(self) -> bool:
        return self.negotiated is not None

    @property
    def media_problem(self) -> str:
        return "" if self.negotiated is not None else "No fastStart answer"

    # -- placing the call ------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the station and send the Setup; the events follow."""
        try:
            self.rtp.open()
        except OSError as exc:
            log.warn("no RTP port for a call to {station}: {error}", station=self.station, error=exc)
            self.reactor.callLater(0, self._finish, EndReason.ERROR, 503)
            return
        self.factory.connect(self.address, self._connected, self._failed)

    def _connected(self, edge: CallSignallingProtocol) -> None:
        if self.ended:
            if edge.transport is not None:
                edge.transport.loseConnection()
            return
        self.edge = edge
        self.media_ip = local_ip_towards(edge.peer[0], edge.local[0])
        port = self.media.local_port or 0
        rtp, rtcp = TransportAddress(self.media_ip, port), TransportAddress(self.media_ip, port + 1)
        self._h245 = H245Session(H245Settings(rtp=rtp, rtcp=rtcp),
                                 random_number=lambda: secrets.randbelow(1 << 24))
        call, actions = edge.engine.setup(
            edge.now(), called_number=self.station, calling_number=self.caller_number,
            display=self.caller_name[:82], destination_aliases=(self.alias,),
            source_aliases=(Alias(AliasKind.DIALLED_DIGITS, self.caller_number),)
            if self.caller_number.isdigit() else (),
            fast_start=offer_fast_start(self._codec, rtp, rtcp))
        self.call = call
        edge.attach(call, self)
        edge.execute(actions)

    def _failed(self, why: str) -> None:
        log.info("call to H.323 station {station}: {why}", station=self.station, why=why)
        self._finish(EndReason.ERROR, 480)

    def cancel(self) -> None:
        """Stop ringing (Release Complete, cause 16: the call was taken elsewhere or given up)."""
        self.hangup()

    def hangup(self) -> None:
        """Release Complete, cause 16; before the connection is up, just give up."""
        if self.ended:
            return
        if self.edge is None or self.call is None:
            self._finish(EndReason.LOCAL_HANGUP, None)
            return
        self.edge.execute(self.edge.engine.release(self.call, self.edge.now(),
                                                   Cause.NORMAL_CALL_CLEARING))

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        if self.ended or self.negotiated is None:
            return defer.succeed(None)
        return self.media.play_tone(cadence, duration_ms)

    def play_samples(self, samples: Samples) -> defer.Deferred[None]:
        if self.ended or self.negotiated is None:
            return defer.succeed(None)
        return self.media.play(samples)

    def stop_playing(self) -> None:
        if not self.ended:
            self.media.stop_playing()

    # -- events ------------------------------------------------------------------------------

    def call_event(self, event: CallEvent) -> None:
        """The edge's `CallHandler`."""
        match event:
            case CallProgressed():
                if event.fast_start:
                    early = read_fast_start_answer(self._codec, event.fast_start)
                    if isinstance(early, FastStartAccepted):
                        self._early = early
                if event.kind is ProgressKind.ALERTING and self.on_ringing is not None:
                    self.on_ringing()
            case CallAnswered():
                answer = (read_fast_start_answer(self._codec, event.connect.fast_start)
                          if event.connect.fast_start else self._early)
                if not isinstance(answer, FastStartAccepted):
                    log.info("H.323 station {station} answered without fastStart: hung up "
                             "(H.245-only calls to stations are not supported)",
                             station=self.station)
                    self.final_status = 488
                    self.hangup()
                    return
                self.negotiated = negotiated_for(self.media_ip, self.media.local_port or 0,
                                                 answer.codec, answer.remote_rtp, None)
                self.media.start(self.negotiated)
                self.answered = True
                self.final_status = 200
                if self.on_answered is not None:
                    self.on_answered()
            case DigitsReceived():
                for digit in event.digits:
                    self._digit(digit, "keypad")
            case H245Received():
                self._h245_received(event.pdus)
            case CallReleased():
                status = self.final_status
                if status is None:
                    status = _STATUS.get(event.cause, 480) if event.by_peer else 487
                self._finish(EndReason.REMOTE_HANGUP if event.by_peer else EndReason.LOCAL_HANGUP,
                             status)

    def _h245_received(self, pdus: tuple[bytes, ...]) -> None:
        if self._h245 is None or self.edge is None or self.call is None or self.ended:
            return
        now = self.edge.now()
        out: list[bytes] = []
        for pdu in pdus:
            for action in self._h245.receive(self._codec.decode(pdu), now):
                if isinstance(action, SendH245):
                    out.append(self._codec.encode(action.message))
                elif isinstance(action, DigitReceived):
                    self._digit(action.digit, "h245-uii")
        self.edge.send_h245(self.call, tuple(out))

    def _digit(self, digit: str, method: str) -> None:
        if self.on_digit is not None and not self.ended:
            self.on_digit(digit, method)

    def _finish(self, reason: EndReason, status: int | None) -> None:
        if self.ended:
            return
        self.ended = True
        if self.final_status is None:
            self.final_status = status
        self.media.on_digit = None
        self.rtp.close()
        if self.on_ended is not None:
            self.on_ended(reason)


__all__ = ["OutgoingH323Leg"]
