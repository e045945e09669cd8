"""An incoming H.323 call as a leg: the called side of a Setup, with its RTP media session.

A thin adapter around the call signalling edge (`h323.cs_protocol`: the engine's commands go
through `edge.execute`) and one `H245Session`. Media comes from fastStart when the Setup
proposes G.711 (H.323 8.1.7: `answer_fast_start` with our RTP port, the answer rides on
Connect), else from H.245 (capability exchange, master/slave, logical channels, tunnelled or
on the separate H.245 connection) once `MediaReady` says both directions are open. Digits come
from H.245 userInputIndication ("h245-uii"), RFC 4733 events when the peer's capability set
offers RFC 2833 ("rfc4733", decoded by the `MediaSession`) and the Q.931 Keypad IE ("keypad").
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from acdgate.codecs.tones import Cadence
from acdgate.gateway.h323.call_signalling_actions import (
    Call,
    CallOffered,
    CallReleased,
    DigitsReceived,
    H245Received,
)
from acdgate.gateway.h323.cs_messages import CallState, Cause, ReleaseCompleteReason
from acdgate.gateway.h323.cs_protocol import CallEvent, CallSignallingProtocol
from acdgate.gateway.h323.fast_start import FastStartAccepted, answer_fast_start
from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_events import (
    DigitReceived,
    H245Action,
    MediaReady,
    SendH245,
    SessionEnded,
    SessionFailed,
)
from acdgate.gateway.h323.h245_messages import AudioCodec
from acdgate.gateway.h323.h245_session import H245Session, H245Settings
from acdgate.gateway.h323.ras_messages import TransportAddress
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.legs.sip_uas import local_ip_towards
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import (
    TELEPHONE_EVENT,
    Direction,
    MediaFormat,
    Negotiated,
    build_offer,
)
from acdgate.gateway.media.session import MediaSession, Samples
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")

_ENCODING = {AudioCodec.G711_ULAW: "PCMU", AudioCodec.G711_ALAW: "PCMA"}
_PAYLOAD_TYPE = {AudioCodec.G711_ULAW: 0, AudioCodec.G711_ALAW: 8}

# A refusal's SIP-style status as a Q.850 cause (RFC 3398 7.2.4.1 maps the other way; these are
# its inverse for the statuses the call layer uses) and the ReleaseCompleteReason that fits.
_CAUSES: dict[int, tuple[Cause, ReleaseCompleteReason | None]] = {
    404: (Cause.UNALLOCATED_NUMBER, ReleaseCompleteReason.UNREACHABLE_DESTINATION),
    486: (Cause.USER_BUSY, None),
    480: (Cause.NO_USER_RESPONDING, None),
    403: (Cause.CALL_REJECTED, ReleaseCompleteReason.DESTINATION_REJECTION),
    503: (Cause.TEMPORARY_FAILURE, ReleaseCompleteReason.GATEWAY_RESOURCES),
}


# the Q.931 states of an offered call that Alerting, and Connect, may still be sent in
_BEFORE_ALERTING = (CallState.CALL_PRESENT, CallState.OVERLAP_RECEIVING,
                    CallState.INCOMING_CALL_PROCEEDING)
_ANSWERABLE = (*_BEFORE_ALERTING, CallState.CALL_RECEIVED)


def release_cause(refusal: Refusal) -> tuple[Cause, ReleaseCompleteReason | None]:
    """The Q.850 cause (and ReleaseCompleteReason) to refuse a call with for `refusal`."""
    if refusal.status == 503 and "congest" in refusal.reason.lower():
        return Cause.SWITCHING_EQUIPMENT_CONGESTION, ReleaseCompleteReason.GATEWAY_RESOURCES
    return _CAUSES.get(refusal.status, (Cause.NORMAL_UNSPECIFIED, None))


def negotiated_for(media_ip: str, local_port: int, codec: AudioCodec, remote: TransportAddress,
                   telephone_event: int | None) -> Negotiated:
    """What `MediaSession.start` needs, from the codec and address H.323 agreed (fastStart or
    H.245) and the peer's RFC 2833 payload type, if any."""
    encoding = _ENCODING[codec]
    event = (MediaFormat(telephone_event, TELEPHONE_EVENT, fmtp="0-16")
             if telephone_event is not None else None)
    local = build_offer(media_ip, local_port, secrets.randbelow(2**31), codecs=(encoding,),
                        telephone_event=telephone_event if telephone_event is not None
                        and 96 <= telephone_event <= 127 else None)
    return Negotiated(MediaFormat(_PAYLOAD_TYPE[codec], encoding), event,
                      (remote.host, remote.port), Direction.SENDRECV, local)


class H323Leg:
    """The called side of one H.323 call, as a `leg.Leg` (module docstring)."""

    def __init__(self, reactor: Any, edge: CallSignallingProtocol, offered: CallOffered, *,
                 station: str | None, dialled: str, ports: RtpPortPool, bind_ip: str,
                 codec: H245Codec) -> None:
        self.reactor = reactor
        self.edge = edge
        self.call: Call = offered.call
        self.setup = offered.setup
        self.station = station
        self.dialled = dialled
        self.on_digit: Callable[[str, str], None] | None = None
        self.on_ended: Callable[[EndReason], None] | None = None
        self.ended = False
        self._codec = codec
        self.media_ip = local_ip_towards(edge.peer[0], edge.local[0])
        self.media = MediaSession(reactor)
        self.rtp = RtpSocket(reactor, bind_ip if bind_ip not in ("", "::") else "0.0.0.0", ports,
                             self.media)
        self.negotiated: Negotiated | None = None
        self._fast_start: FastStartAccepted | None = None
        self._problem = ""
        self._answer_d: defer.Deferred[None] | None = None
        self._h245_started = False
        self._answered = False  # Connect sent with fastStart: the media session runs
        self._h245_timer: IDelayedCall | None = None
        self._h245: H245Session | None = None
        try:
            port = self.rtp.open()
        except OSError as exc:
            self._problem = f"No RTP port available ({exc})"
        else:
            rtp, rtcp = TransportAddress(self.media_ip, port), TransportAddress(self.media_ip, port + 1)
            self._h245 = H245Session(H245Settings(rtp=rtp, rtcp=rtcp),
                                     random_number=lambda: secrets.randbelow(1 << 24))
            if self.setup.fast_start:
                answer = answer_fast_start(codec, self.setup.fast_start, rtp, rtcp)
                if isinstance(answer, FastStartAccepted):
                    self._fast_start = answer
                    self.negotiated = self._negotiated(answer.codec, answer.remote_rtp)
                elif not edge.has_h245(self.call):
                    self._problem = f"fastStart refused ({answer.reason}) and no H.245"
            elif not edge.has_h245(self.call):
                self._problem = "No fastStart and no H.245 in the Setup"
        self.media.on_digit = self._media_digit

    # -- identity ------------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        """The H.225.0 callIdentifier GUID as hex: the call's key in the call layer."""
        return self.setup.call_identifier.hex()

    # -- Leg -----------------------------------------------------------------------------

    @property
    def has_media(self) -> bool:
        return not self._problem and not self.ended

    @property
    def media_problem(self) -> str:
        return self._problem

    def proceed(self) -> None:
        """Call Proceeding: the number is complete (answers the caller's T303)."""
        self._run(self.edge.engine.proceed(self.call, self.edge.now()))

    def ringing(self) -> None:
        """Alerting: the called party rings (once: a second target ringing sends nothing)."""
        if not self.ended and self._state() in _BEFORE_ALERTING:
            self._run(self.edge.engine.alert(self.call, self.edge.now()))

    def answer(self) -> defer.Deferred[None]:
        """Connect (with the fastStart answer); fires when media is set up: at once with
        fastStart, at H.245's MediaReady without it."""
        d: defer.Deferred[None] = defer.Deferred()
        if self.ended or self._answer_d is not None or self._problem \
                or self._state() not in _ANSWERABLE:
            d.errback(RuntimeError("leg already ended or answered"))
            return d
        now = self.edge.now()
        self.edge.open_h245(self.call)  # a separate H.245 connection, when the peer asked for one
        if self._fast_start is not None and self.negotiated is not None:
            self._run(self.edge.engine.connect(self.call, now, fast_start=self._fast_start.elements))
            self._answered = True
            self.media.start(self.negotiated)
            d.callback(None)
            return d
        self._answer_d = d
        pdus = self._start_h245(now)
        tunnel = self.edge.engine.tunnelling(self.call)
        self._run(self.edge.engine.connect(self.call, now, h245=pdus if tunnel else ()))
        if not tunnel:
            self.edge.send_h245(self.call, pdus)
        return d

    def refuse(self, refusal: Refusal) -> None:
        """Release Complete with the Q.850 cause `refusal` maps to (`release_cause`)."""
        if self.ended:
            return
        cause, reason = release_cause(refusal)
        self._run(self.edge.engine.release(self.call, self.edge.now(), cause, reason))

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

    def hangup(self) -> None:
        """Release Complete, cause 16 (H.323 8.5: endSessionCommand first when H.245 runs)."""
        if self.ended:
            return
        now = self.edge.now()
        pdus: tuple[bytes, ...] = ()
        if self._h245 is not None and self._h245_started:
            pdus = self._encode(self._h245.end(now))
        tunnel = self.edge.engine.tunnelling(self.call)
        if pdus and not tunnel:
            self.edge.send_h245(self.call, pdus)
        self._run(self.edge.engine.release(self.call, now, Cause.NORMAL_CALL_CLEARING,
                                           h245=pdus if tunnel else ()))

    def information(self, display: str) -> None:
        """A Display IE for the handset (Q.931 Information), once the call is proceeding."""
        if not self.ended and self._state() not in (CallState.CALL_PRESENT, CallState.NULL):
            self._run(self.edge.engine.information(self.call, self.edge.now(), display=display))

    # -- events from call signalling ------------------------------------------------------

    def call_event(self, event: CallEvent) -> None:
        """The edge's `CallHandler`: digits, H.245, the end."""
        match event:
            case DigitsReceived():
                for digit in event.digits:
                    self._digit(digit, "keypad")
            case H245Received():
                self._h245_received(event.pdus)
            case CallReleased():
                self._finish(EndReason.REMOTE_HANGUP if event.by_peer else EndReason.LOCAL_HANGUP)
            case _:
                pass  # progress and answers concern calls we place, which this leg is not

    # -- H.245 ------------------------------------------------------------------------------

    def _start_h245(self, now: float) -> tuple[bytes, ...]:
        if self._h245 is None or self._h245_started:
            return ()
        self._h245_started = True
        return self._handle_h245(self._h245.start(now))

    def _h245_received(self, pdus: tuple[bytes, ...]) -> None:
        if self._h245 is None or self.ended:
            return
        now = self.edge.now()
        out: list[bytes] = []
        for pdu in pdus:
            out.extend(self._handle_h245(self._h245.receive(self._codec.decode(pdu), now)))
        self.edge.send_h245(self.call, tuple(out))
        pt = self._h245.rfc2833_payload_type
        if (self._fast_start is not None and self.negotiated is not None and pt is not None
                and self.negotiated.telephone_event is None and not self.ended):
            # fastStart media runs already: the peer's capability set adds RFC 2833 events
            self.negotiated = self._negotiated(self._fast_start.codec, self._fast_start.remote_rtp, pt)
            if self.media.local_port is not None and self._answered:
                self.media.start(self.negotiated)

    def _handle_h245(self, actions: list[H245Action]) -> tuple[bytes, ...]:
        """Carry out the session's actions; the PDUs to send, encoded, in order."""
        out: list[bytes] = []
        for action in actions:
            match action:
                case SendH245():
                    out.append(self._codec.encode(action.message))
                case MediaReady():
                    self._media_ready(action)
                case DigitReceived():
                    self._digit(action.digit, "h245-uii")
                case SessionFailed():
                    log.info("H.245 of call {call_id} failed: {reason}", call_id=self.call_id,
                             reason=action.reason)
                    if self._answer_d is not None and self.negotiated is None:
                        self.reactor.callLater(0, self.hangup)
                case SessionEnded():
                    pass  # the Release Complete follows (H.323 8.5)
                case _:
                    pass  # ChannelClosed: the call goes on without that direction
        self._arm_h245()
        return tuple(out)

    def _encode(self, actions: list[H245Action]) -> tuple[bytes, ...]:
        return self._handle_h245(actions)

    def _media_ready(self, ready: MediaReady) -> None:
        if self._fast_start is not None and self.negotiated is not None:
            return  # fastStart runs the media (RFC 2833 follows the capability set, above)
        self.negotiated = self._negotiated(ready.codec, ready.remote_rtp, ready.rfc2833_payload_type)
        self.media.start(self.negotiated)
        d, self._answer_d = self._answer_d, None
        if d is not None:
            d.callback(None)

    def _arm_h245(self) -> None:
        if self._h245_timer is not None and self._h245_timer.active():
            self._h245_timer.cancel()
        self._h245_timer = None
        when = self._h245.next_timer() if self._h245 is not None and not self.ended else None
        if when is not None:
            self._h245_timer = self.reactor.callLater(max(0.0, when - self.edge.now()),
                                                      self._h245_expired)

    def _h245_expired(self) -> None:
        self._h245_timer = None
        if self._h245 is not None and not self.ended:
            self.edge.send_h245(self.call, self._handle_h245(self._h245.handle_timer(self.edge.now())))

    # -- plumbing ---------------------------------------------------------------------------

    def _state(self) -> CallState:
        return self.edge.engine.state(self.call)

    def _negotiated(self, codec: AudioCodec, remote: TransportAddress,
                    telephone_event: int | None = None) -> Negotiated:
        return negotiated_for(self.media_ip, self.media.local_port or 0, codec, remote,
                              telephone_event)

    def _run(self, actions: list[Any]) -> None:
        self.edge.execute(actions)

    def _digit(self, digit: str, method: str) -> None:
        if self.on_digit is not None and not self.ended:
            self.on_digit(digit, method)

    def _media_digit(self, digit: str, method: str) -> None:
        self._digit(digit, method)

    def _finish(self, reason: EndReason) -> None:
        if self.ended:
            return
        self.ended = True
        self.media.on_digit = None
        if self._h245_timer is not None and self._h245_timer.active():
            self._h245_timer.cancel()
        self._h245_timer = None
        self.rtp.close()
        d, self._answer_d = self._answer_d, None
        if d is not None:
            d.errback(ConnectionError(f"leg ended: {reason.value}"))
            d.addErrback(lambda _: None)
        if self.on_ended is not None:
            self.on_ended(reason)


__all__ = ["H323Leg", "negotiated_for", "release_cause"]
