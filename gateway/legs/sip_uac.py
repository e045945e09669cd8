"""The gateway calling a station: the UAC side of an INVITE, as a leg.

It offers SDP from its own RTP session, reports ringing and the answer, ACKs every 2xx
(retransmissions and forks included, RFC 6026), CANCELs while ringing, and ends with BYE
either way. Requests go to the address the station registered from (NAT), over the
transport it registered with.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from acdgate.codecs.tones import Cadence
from acdgate.gateway.legs.dialog_session import ALLOW, SUPPORTED, DialogSession, allows
from acdgate.gateway.legs.leg import EndReason
from acdgate.gateway.legs.session_timer import TimerSyntaxError, parse_session_expires
from acdgate.gateway.legs.sip_uas import InDialogRequests, local_ip_towards
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import (
    Negotiated,
    SdpError,
    SessionDescription,
    build_offer,
    parse_answer,
)
from acdgate.gateway.media.session import MediaSession
from acdgate.gateway.sip.dialog import Dialog, DialogInput, DialogState
from acdgate.gateway.sip.message import (
    Headers,
    Request,
    Response,
    SipSyntaxError,
    new_branch,
    new_tag,
)
from acdgate.gateway.sip.registrar import Binding
from acdgate.gateway.sip.stack import SipStack, TransactionFailed
from twisted.internet import defer
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")


def _ignore_transaction_failure(failure: Any) -> None:
    failure.trap(TransactionFailed)


class OutgoingSipLeg(InDialogRequests):
    """An INVITE from the gateway to one registered contact of a station."""

    def __init__(
        self,
        reactor: Any,
        stack: SipStack,
        binding: Binding,
        *,
        station: str,
        caller_number: str,
        caller_name: str,
        headers: list[tuple[str, str]] | None = None,
        ports: RtpPortPool,
        bind_ip: str,
    ) -> None:
        self.reactor = reactor
        self.stack = stack
        self.binding = binding
        self.station: str | None = station
        self.dialled = station
        self.caller_number = caller_number
        self.caller_name = caller_name
        self.extra_headers = headers or []
        self.on_digit: Callable[[str, str], None] | None = None
        self.on_ended: Callable[[EndReason], None] | None = None
        self.on_ringing: Callable[[], None] | None = None
        self.on_answered: Callable[[], None] | None = None
        self.ended = False
        self.answered = False
        self.final_status: int | None = None
        self.media_ip = local_ip_towards(binding.source[0], bind_ip)
        self.media = MediaSession(reactor)
        self.rtp = RtpSocket(reactor, bind_ip if bind_ip not in ("", "::") else "0.0.0.0", ports,
                             self.media)
        self.media.on_digit = self._media_digit
        self.negotiated: Negotiated | None = None
        self.dialog: Dialog | None = None
        self.invite: Request | None = None
        self.call_id = f"{secrets.token_hex(12)}@acdgate"
        self._offer: SessionDescription | None = None
        _host, port = stack.local_address
        contact_host = self.media_ip if ":" not in self.media_ip else f"[{self.media_ip}]"
        self.contact = f"sip:acdgate@{contact_host}:{port}"
        if binding.transport != "UDP":
            self.contact += f";transport={binding.transport.lower()}"
        self._acked: set[str] = set()
        self.session: DialogSession | None = None  # once answered: re-INVITE, UPDATE, refreshes

    def _peer(self) -> tuple[tuple[str, int], str]:
        return self.binding.source, self.binding.transport

    @property
    def has_media(self) -> bool:
        return self.negotiated is not None

    @property
    def media_problem(self) -> str:
        return "" if self.negotiated is not None else "No answer SDP"

    # -- placing the call -----------------------------------------------------------------

    def start(self) -> defer.Deferred[Response]:
        """Send the INVITE; fires with the final response (a 2xx has been ACKed by then)."""
        rtp_port = self.rtp.open()
        self._offer = build_offer(self.media_ip, rtp_port, secrets.randbelow(2**31))
        _host, _port = self.stack.local_address
        name = self.caller_name.replace('"', "'")
        headers = Headers([
            ("Via", f"{self.stack.via_for(self.binding.transport)};branch={new_branch()}"),
            ("Max-Forwards", "70"),
            ("From", f'"{name}" <sip:{self.caller_number}@{self.media_ip}>;tag={new_tag()}'),
            ("To", f"<sip:{self.station}@{self.media_ip}>"),
            ("Call-ID", self.call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<{self.contact}>"),
            ("Allow", ALLOW),
            ("Supported", SUPPORTED),
            ("User-Agent", "acdgate/0.1"),
        ])
        for name_, value in self.extra_headers:
            headers.add(name_, value)
        headers.add("Content-Type", "application/sdp")
        self.invite = Request("INVITE", self.binding.contact, headers, self._offer.to_bytes())
        d = self.stack.send_request(self.invite, self.binding.source, self.binding.transport,
                                    on_response=self._response)
        d.addCallbacks(self._final, self._failed)
        return d

    def cancel(self) -> None:
        """CANCEL while ringing (RFC 3261 9.1); the INVITE then ends with 487."""
        if self.ended or self.answered or self.invite is None:
            return
        via = self.invite.headers.get("Via") or ""
        cancel = Request("CANCEL", self.invite.uri, Headers([
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", self.invite.headers.get("From") or ""),
            ("To", self.invite.headers.get("To") or ""),
            ("Call-ID", self.call_id),
            ("CSeq", "1 CANCEL"),
        ]))
        d = self.stack.send_request(cancel, self.binding.source, self.binding.transport)
        d.addCallback(self._cancel_answered)
        d.addErrback(_ignore_transaction_failure)
        self._end(EndReason.LOCAL_HANGUP)

    def _cancel_answered(self, response: Response) -> None:
        # the phone's answer to our CANCEL: proof it stopped ringing (operators and tests read it)
        log.info("CANCEL of {call_id} to station {station} answered {status}", call_id=self.call_id,
                 station=self.station or "?", status=response.status)

    def hangup(self) -> None:
        """BYE when answered, CANCEL while ringing."""
        if self.ended:
            return
        if not self.answered:
            self.cancel()
            return
        assert self.dialog is not None
        if self.dialog.state is not DialogState.TERMINATED:
            self.dialog.advance(DialogInput.BYE)
            bye = self.dialog.request("BYE", self.stack.via_for(self.binding.transport))
            self.stack.send_request(bye, self.binding.source, self.binding.transport).addErrback(
                _ignore_transaction_failure)
        self._end(EndReason.LOCAL_HANGUP)

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        if self.ended or self.negotiated is None:
            return defer.succeed(None)
        return self.media.play_tone(cadence, duration_ms)

    def stop_playing(self) -> None:
        if not self.ended:
            self.media.stop_playing()

    # -- responses and in-dialog requests ---------------------------------------------------

    def _response(self, response: Response) -> None:
        if 100 < response.status < 200 and self.on_ringing is not None and not self.ended:
            self.on_ringing()
        elif 200 <= response.status < 300:
            self._ack(response)

    def _ack(self, response: Response) -> None:
        """ACK each distinct 2xx once per arrival (retransmissions are re-ACKed, 13.2.2.4)."""
        assert self.invite is not None
        if self.dialog is None:
            try:
                self.dialog = Dialog.from_response(self.invite, response, self.contact)
            except SipSyntaxError as exc:
                log.warn("unusable 2xx from {station}: {error}", station=self.station, error=exc)
                return
        ack = self.dialog.request("ACK", self.stack.via_for(self.binding.transport))
        self.stack.send_stateless(ack, self.binding.source, self.binding.transport)

    def _final(self, response: Response) -> Response:
        self.final_status = response.status
        if self.ended:
            if 200 <= response.status < 300:  # answered while we were cancelling: hang up
                self.answered = True
                if self.dialog is not None and self.dialog.state is DialogState.EARLY:
                    self.dialog.advance(DialogInput.ACKED)
                    self.dialog.advance(DialogInput.BYE)
                    bye = self.dialog.request("BYE", self.stack.via_for(self.binding.transport))
                    self.stack.send_request(bye, self.binding.source, self.binding.transport).addErrback(
                        _ignore_transaction_failure)
            return response
        if not 200 <= response.status < 300:
            self._end(EndReason.REFUSED)
            return response
        assert self._offer is not None and self.dialog is not None
        self.dialog.advance(DialogInput.ACKED)
        try:
            self.negotiated = parse_answer(response.body, self._offer)
        except SdpError as exc:
            log.warn("station {station} answered with unusable SDP: {error}", station=self.station, error=exc)
            self.answered = True
            self.hangup()
            return response
        self.media.start(self.negotiated)
        self.answered = True
        self.session = DialogSession(self.reactor, self.stack, self.dialog, self.media,
                                     negotiated=self.negotiated, media_ip=self.media_ip,
                                     destination=self.binding.source, transport=self.binding.transport,
                                     we_placed_call=True, peer_allows_update=allows(response, "UPDATE"))
        self.session.on_changed = self._renegotiated
        self.session.on_expired = lambda why: self.hangup()
        value = response.headers.get("Session-Expires")
        if value is not None:  # RFC 4028 7.2: the phone chose session timers for us
            try:
                self.session.start_timer(parse_session_expires(value), we_are_uas=False)
            except TimerSyntaxError as exc:
                log.warn("station {station}: {error}", station=self.station, error=exc)
        if self.on_answered is not None:
            self.on_answered()
        return response

    def _failed(self, failure: Any) -> None:
        failure.trap(TransactionFailed)
        self._end(EndReason.TIMEOUT)

    def matches(self, request: Request) -> bool:
        return self.dialog is not None and self.dialog.matches(request)

    def bye_received(self, request: Request) -> None:
        self.stack.respond(request, 200)
        if self.dialog is not None and self.dialog.state is not DialogState.TERMINATED:
            self.dialog.advance(DialogInput.BYE)
        self._end(EndReason.REMOTE_HANGUP)

    def ack_received(self, request: Request) -> None:
        """The ACK for our 2xx to the phone's re-INVITE."""
        if self.session is not None:
            self.session.ack_received(request)

    def _end(self, reason: EndReason) -> None:
        if self.ended:
            return
        self.ended = True
        if self.session is not None:
            self.session.close()
        self.media.on_digit = None
        self.rtp.close()
        if self.on_ended is not None:
            self.on_ended(reason)
