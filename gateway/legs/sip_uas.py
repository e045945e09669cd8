"""A SIP dialog as a leg: the UAS side of an INVITE, with its RTP media session.

A thin adapter (`dialog_session.DialogLeg`) around the sans-IO `InviteDialog` engine, which answers,
retransmits the 2xx until the ACK (RFC 3261 13.3.1.4), takes re-INVITEs and UPDATEs, runs the
session timer and ends with BYE either way; the leg negotiates the SDP (RFC 3264), plays tones
and reports digits from RFC 4733 events, SIP INFO and in-band audio. The call dispatcher hands
it the in-dialog requests (ACK, BYE, INFO, re-INVITE, UPDATE, CANCEL) that match its dialog.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from typing import Any

from acdgate.codecs.tones import Cadence
from acdgate.gateway.legs.dialog_session import DialogLeg
from acdgate.gateway.legs.invite_dialog import InviteDialog, State
from acdgate.gateway.legs.invite_dialog_actions import EndCause
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.legs.session_timer import SessionExpires
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import Negotiated, SdpError, negotiate_answer
from acdgate.gateway.media.session import MediaSession, Samples
from acdgate.gateway.sip.message import Request, new_tag
from acdgate.gateway.sip.stack import Incoming, SipStack
from twisted.internet import defer
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")


def local_ip_towards(peer: str, fallback: str) -> str:
    """The local address the kernel would use to reach `peer` (a UDP connect sends nothing)."""
    if fallback not in ("0.0.0.0", "::", ""):
        return fallback
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((peer, 9))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class SipLeg(DialogLeg):
    """The UAS side of one INVITE, as a `leg.Leg`: an adapter around its `InviteDialog` engine."""

    def __init__(
        self,
        reactor: Any,
        stack: SipStack,
        invite: Request,
        incoming: Incoming,
        *,
        station: str | None,
        dialled: str,
        ports: RtpPortPool,
        bind_ip: str,
        session_timer: SessionExpires | None = None,
    ) -> None:
        self.reactor = reactor
        self.stack = stack
        self.invite = invite
        self.session_timer = session_timer  # RFC 4028, negotiated by the dispatcher
        self.incoming = incoming
        self.station = station
        self.dialled = dialled
        self.on_digit: Callable[[str, str], None] | None = None
        self.on_ended: Callable[[EndReason], None] | None = None
        self.local_tag = new_tag()
        self.ended = False
        self._confirmed_d: defer.Deferred[None] | None = None
        self._init_dialog_leg()
        self.media_ip = local_ip_towards(incoming.source[0], bind_ip)
        _host, port = stack.local_address
        contact_host = self.media_ip if ":" not in self.media_ip else f"[{self.media_ip}]"
        self.contact = f"sip:acdgate@{contact_host}:{port}"
        if incoming.transport != "UDP":
            self.contact += f";transport={incoming.transport.lower()}"
        self.engine: InviteDialog | None = InviteDialog.uas(
            invite, local_tag=self.local_tag, local_contact=self.contact,
            via=stack.via_for(incoming.transport), settings=stack.layer.settings,  # the site's T1, T2
            reliable=incoming.transport != "UDP", session_timer=session_timer)
        self.media = MediaSession(reactor)
        self.rtp = RtpSocket(reactor, bind_ip if bind_ip not in ("", "::") else "0.0.0.0", ports,
                             self.media)
        self.negotiated: Negotiated | None = None
        self._media_problem = ""
        try:
            rtp_port = self.rtp.open()
        except OSError as exc:
            self._media_problem = f"No RTP port available ({exc})"
        else:
            if not invite.body:
                self._media_problem = "No SDP offer in INVITE"
            else:
                try:
                    self.negotiated = negotiate_answer(invite.body, self.media_ip, rtp_port,
                                                       secrets.randbelow(2**31))
                except SdpError as exc:
                    self._media_problem = str(exc)
        self.media.on_digit = self._media_digit

    def _peer(self) -> tuple[tuple[str, int], str]:
        return self.incoming.source, self.incoming.transport

    @property
    def call_id(self) -> str:
        """The INVITE's Call-ID: the call's key in the call layer."""
        return self.invite.call_id or ""

    @property
    def _engine(self) -> InviteDialog:
        assert self.engine is not None
        return self.engine

    # -- Leg ---------------------------------------------------------------------------

    @property
    def has_media(self) -> bool:
        return self.negotiated is not None and self.dialog is not None

    @property
    def media_problem(self) -> str:
        return self._media_problem or ("" if self.dialog is not None else "INVITE lacks Contact")

    def ringing(self) -> None:
        """180 Ringing (with our tag: it creates the early dialog)."""
        if self._engine.state is State.PROCEEDING:
            self._run(self._engine.ringing(self._now()))

    def answer(self) -> defer.Deferred[None]:
        """200 OK with our SDP, retransmitted until the ACK; fires on the ACK."""
        assert self.negotiated is not None and self.dialog is not None, "answer() needs media"
        d: defer.Deferred[None] = defer.Deferred()
        if self.ended or self._engine.state is not State.PROCEEDING:
            d.errback(RuntimeError("leg already ended"))
            return d
        self._confirmed_d = d
        self._session_started(self.negotiated)
        self._run(self._engine.answer(self.negotiated.local.to_bytes(), self._now()))
        self.media.start(self.negotiated)
        return d

    def refuse(self, refusal: Refusal) -> None:
        if self.ended or self._engine.state is not State.PROCEEDING:
            return
        self._run(self._engine.refuse(refusal.status, refusal.reason, self._now()))

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        if self.ended:
            return defer.succeed(None)
        return self.media.play_tone(cadence, duration_ms)

    def play_samples(self, samples: Samples) -> defer.Deferred[None]:
        if self.ended:
            return defer.succeed(None)
        return self.media.play(samples)

    def stop_playing(self) -> None:
        if not self.ended:
            self.media.stop_playing()

    def hangup(self) -> None:
        """BYE when answered (after the ACK, RFC 3261 15); 480 before the final response."""
        if self.ended:
            return
        if self._engine.state is State.PROCEEDING:
            self.refuse(Refusal(480, "Temporarily Unavailable"))
            return
        self._run(self._engine.hangup(self._now()))

    def cancelled(self) -> None:
        """A CANCEL matched our INVITE (the stack answered it 200)."""
        self._run(self._engine.cancel_received(self._now()))

    # -- engine events -------------------------------------------------------------------

    def _confirmed(self) -> None:
        d, self._confirmed_d = self._confirmed_d, None
        if d is not None:
            d.callback(None)

    def _finish(self, reason: EndReason, cause: EndCause) -> None:
        if self.ended:
            return
        self.ended = True
        self.media.on_digit = None
        self.rtp.close()
        d, self._confirmed_d = self._confirmed_d, None
        if cause is EndCause.NO_ACK:
            log.warn("no ACK for 200 to INVITE from {peer} (Call-ID {call_id}); hung up",
                     peer=f"{self.incoming.source[0]}:{self.incoming.source[1]}", call_id=self.invite.call_id)
        elif d is not None:
            d.errback(ConnectionError(f"leg ended: {reason.value}"))
            d.addErrback(lambda _: None)
            d = None
        if self.on_ended is not None:
            self.on_ended(reason)
        if d is not None:
            d.errback(TimeoutError("no ACK"))
