"""A SIP dialog as a leg: the UAS side of an INVITE, with its RTP media session.

It answers with SDP (RFC 3264) and retransmits the 2xx until the ACK (RFC 3261 13.3.1.4),
plays tones and reports digits from RFC 4733 events, SIP INFO and in-band audio, and ends
with BYE either way. The call dispatcher hands it the in-dialog requests (ACK, BYE, INFO,
CANCEL) that match its dialog.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from typing import Any

from acdgate.codecs.tones import Cadence
from acdgate.gateway.legs.dialog_session import (
    ALLOW,
    SUPPORTED,
    DialogSession,
    allows,
    supports_timer,
    timer_headers,
)
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.legs.session_timer import SessionExpires
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import Negotiated, SdpError, negotiate_answer
from acdgate.gateway.media.session import MediaSession
from acdgate.gateway.sip.dialog import Dialog, DialogInput, DialogState
from acdgate.gateway.sip.message import Request, SipSyntaxError, new_tag
from acdgate.gateway.sip.stack import Incoming, SipStack, TransactionFailed
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
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


def parse_info_digit(content_type: str, body: bytes) -> str | None:
    """The key in a SIP INFO DTMF body (`application/dtmf-relay` Signal=, `application/dtmf`)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    text = body.decode("ascii", "replace").strip()
    if kind == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                text = value.strip()
                break
        else:
            return None
    elif kind != "application/dtmf":
        return None
    mapping = {"10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D"}
    text = mapping.get(text, text)
    if len(text) == 1 and text in "0123456789*#ABCDabcd":
        return text.upper()
    return None


def _ignore_failed_bye(failure: Any) -> None:
    """A BYE nobody answers ends the dialog all the same (RFC 3261 15.1.1)."""
    failure.trap(TransactionFailed)


class InDialogRequests:
    """What both kinds of SIP leg do with requests inside their dialog: INFO key presses,
    re-INVITE/UPDATE offers (through the leg's `DialogSession`), and sending in the dialog.

    A leg provides `stack`, `dialog`, `session`, `ended`, `on_digit`, `negotiated` and
    `_peer()`: where its phone is (the address it registered or called from) and how.
    """

    stack: SipStack
    dialog: Dialog | None
    session: DialogSession | None
    ended: bool
    on_digit: Callable[[str, str], None] | None
    negotiated: Negotiated | None

    def _peer(self) -> tuple[tuple[str, int], str]:
        raise NotImplementedError

    def info_received(self, request: Request) -> None:
        """SIP INFO with a key press (`application/dtmf-relay` or `application/dtmf`)."""
        digit = parse_info_digit(request.headers.get("Content-Type") or "", request.body)
        if digit is None:
            self.stack.respond(request, 415, "Unsupported INFO Package",
                               headers=[("Accept", "application/dtmf-relay, application/dtmf")])
            return
        self.stack.respond(request, 200)
        if self.on_digit is not None:
            self.on_digit(digit, "info")

    def reoffer_received(self, request: Request) -> None:
        """A re-INVITE or UPDATE in our dialog (hold, resume, codec change, session refresh)."""
        if self.session is None or self.ended:
            # RFC 3261 14.2 / RFC 3311 5.2: our INVITE transaction is still open
            self.stack.respond(request, 500, "Initial INVITE Pending", headers=[("Retry-After", "1")])
            return
        self.session.offer_received(request)

    def send_in_dialog(self, method: str, *, body: bytes = b"", content_type: str | None = None,
                       extra: list[tuple[str, str]] | None = None) -> defer.Deferred[Any]:
        """Send a request inside our dialog (NOTIFY for a REFER); fires with the final response."""
        assert self.dialog is not None
        destination, transport = self._peer()
        request = self.dialog.request(method, self.stack.via_for(transport), body=body,
                                      content_type=content_type, extra=extra)
        return self.stack.send_request(request, destination, transport)

    def _renegotiated(self, negotiated: Negotiated) -> None:
        self.negotiated = negotiated

    def _media_digit(self, digit: str, method: str) -> None:
        if self.on_digit is not None and not self.ended:
            self.on_digit(digit, method)


class SipLeg(InDialogRequests):
    """The UAS side of one INVITE, as a `leg.Leg`."""

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
        self.session: DialogSession | None = None  # once answered: re-INVITE, UPDATE, refreshes
        self.incoming = incoming
        self.station = station
        self.dialled = dialled
        self.on_digit: Callable[[str, str], None] | None = None
        self.on_ended: Callable[[EndReason], None] | None = None
        self.local_tag = new_tag()
        self.ended = False
        self._answered = False
        self._final_sent = False
        self._confirmed: defer.Deferred[None] | None = None
        self._retransmit: IDelayedCall | None = None
        timers = stack.layer.settings  # the site's RFC 3261 timer bases
        self._t1, self._t2 = timers.t1, timers.t2
        self._retransmit_interval = self._t1
        self._retransmit_deadline = 0.0
        self._response: Any = None
        self.media_ip = local_ip_towards(incoming.source[0], bind_ip)
        _host, port = stack.local_address
        contact_host = self.media_ip if ":" not in self.media_ip else f"[{self.media_ip}]"
        self.contact = f"sip:acdgate@{contact_host}:{port}"
        if incoming.transport != "UDP":
            self.contact += f";transport={incoming.transport.lower()}"
        self.dialog: Dialog | None
        try:
            self.dialog = Dialog.from_invite(invite, self.local_tag, self.contact)
        except SipSyntaxError:
            self.dialog = None
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

    # -- Leg ---------------------------------------------------------------------------

    @property
    def has_media(self) -> bool:
        return self.negotiated is not None and self.dialog is not None

    @property
    def media_problem(self) -> str:
        return self._media_problem or ("" if self.dialog is not None else "INVITE lacks Contact")

    def ringing(self) -> None:
        """180 Ringing (with our tag: it creates the early dialog)."""
        if not self._final_sent:
            self.stack.respond(self.invite, 180, to_tag=self.local_tag, headers=[("Contact", f"<{self.contact}>")])

    def answer(self) -> defer.Deferred[None]:
        """200 OK with our SDP; fires on the ACK."""
        assert self.negotiated is not None and self.dialog is not None, "answer() needs media"
        d: defer.Deferred[None] = defer.Deferred()
        if self.ended or self._final_sent:
            d.errback(RuntimeError("leg already ended"))
            return d
        self._confirmed = d
        self._answered = True
        self._final_sent = True
        self.dialog.advance(DialogInput.ANSWERED)
        self._response = self.stack.respond(
            self.invite, 200, to_tag=self.local_tag,
            headers=[("Contact", f"<{self.contact}>"), ("Content-Type", "application/sdp"),
                     ("Allow", ALLOW), ("Supported", SUPPORTED),
                     *timer_headers(self.session_timer, supports_timer(self.invite))],
            body=self.negotiated.local.to_bytes(),
        )
        self.media.start(self.negotiated)
        self.session = DialogSession(self.reactor, self.stack, self.dialog, self.media,
                                     negotiated=self.negotiated, media_ip=self.media_ip,
                                     destination=self.incoming.source, transport=self.incoming.transport,
                                     we_placed_call=False, peer_allows_update=allows(self.invite, "UPDATE"))
        self.session.on_changed = self._renegotiated
        self.session.on_expired = lambda why: self.hangup()
        self.session.start_timer(self.session_timer, we_are_uas=True)
        # RFC 3261 13.3.1.4: the UAS core retransmits the 2xx until the ACK, T1 doubling to T2,
        # for 64*T1; on UDP only (a reliable transport carries it once)
        if self.incoming.transport == "UDP":
            self._retransmit_deadline = self.reactor.seconds() + 64 * self._t1
            self._retransmit = self.reactor.callLater(self._t1, self._retransmit_2xx)
        else:
            self._retransmit = self.reactor.callLater(64 * self._t1, self._no_ack)
        return d

    def refuse(self, refusal: Refusal) -> None:
        if self._final_sent or self.ended:
            return
        self._final_sent = True
        self.stack.respond(self.invite, refusal.status, refusal.reason, to_tag=self.local_tag)
        if self.dialog is not None:
            self.dialog.advance(DialogInput.REJECTED)
        self._end(EndReason.REFUSED)

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        if self.ended:
            return defer.succeed(None)
        return self.media.play_tone(cadence, duration_ms)

    def stop_playing(self) -> None:
        if not self.ended:
            self.media.stop_playing()

    def hangup(self) -> None:
        """BYE when answered; 480 before the final response."""
        if self.ended:
            return
        if not self._final_sent:
            self.refuse(Refusal(480, "Temporarily Unavailable"))
            return
        assert self.dialog is not None
        if self.dialog.state is not DialogState.TERMINATED:
            self.dialog.advance(DialogInput.BYE)
            bye = self.dialog.request("BYE", self.stack.via_for(self.incoming.transport))
            d = self.stack.send_request(bye, self.incoming.source, self.incoming.transport)
            d.addErrback(_ignore_failed_bye)
        self._end(EndReason.LOCAL_HANGUP)

    # -- in-dialog requests from the dispatcher ----------------------------------------

    def ack_received(self, request: Request) -> None:
        """The ACK for our 2xx (to the INVITE, or to a re-INVITE)."""
        if self.dialog is None or self.dialog.state is DialogState.TERMINATED:
            return
        if self.session is not None and self.session.ack_received(request):
            return
        self.dialog.advance(DialogInput.ACKED)
        self._cancel_retransmit()
        d, self._confirmed = self._confirmed, None
        if d is not None:
            d.callback(None)

    def bye_received(self, request: Request) -> None:
        self.stack.respond(request, 200)
        if self.dialog is not None:
            self.dialog.advance(DialogInput.BYE)
        self._end(EndReason.REMOTE_HANGUP)

    def cancelled(self) -> None:
        """A CANCEL matched our INVITE (the stack answered it 200)."""
        if self._final_sent:
            return
        self._final_sent = True
        self.stack.respond(self.invite, 487, to_tag=self.local_tag)
        if self.dialog is not None:
            self.dialog.advance(DialogInput.REJECTED)
        self._end(EndReason.REMOTE_HANGUP)

    # -- internals ---------------------------------------------------------------------

    def _retransmit_2xx(self) -> None:
        self._retransmit = None
        if self.ended or self._response is None:
            return
        if self.reactor.seconds() >= self._retransmit_deadline:
            self._no_ack()
            return
        self.stack.send_response(self._response)
        self._retransmit_interval = min(self._retransmit_interval * 2, self._t2)
        self._retransmit = self.reactor.callLater(self._retransmit_interval, self._retransmit_2xx)

    def _no_ack(self) -> None:
        """RFC 3261 13.3.1.4: no ACK in 64*T1: the dialog is confirmed then ended with a BYE."""
        self._retransmit = None
        log.warn("no ACK for 200 to INVITE from {peer} (Call-ID {call_id}); hanging up",
                 peer=f"{self.incoming.source[0]}:{self.incoming.source[1]}", call_id=self.invite.call_id)
        d, self._confirmed = self._confirmed, None
        if self.dialog is not None and self.dialog.state is DialogState.EARLY:
            self.dialog.state = DialogState.CONFIRMED
        self.hangup()
        if d is not None:
            d.errback(TimeoutError("no ACK"))

    def _cancel_retransmit(self) -> None:
        if self._retransmit is not None and self._retransmit.active():
            self._retransmit.cancel()
        self._retransmit = None

    def _end(self, reason: EndReason) -> None:
        if self.ended:
            return
        self.ended = True
        self._cancel_retransmit()
        if self.session is not None:
            self.session.close()
        self.media.on_digit = None
        self.rtp.close()
        d, self._confirmed = self._confirmed, None
        if d is not None:
            d.errback(ConnectionError(f"leg ended: {reason.value}"))
            d.addErrback(lambda _: None)
        if self.on_ended is not None:
            self.on_ended(reason)
