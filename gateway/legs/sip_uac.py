"""The gateway calling a station: the UAC side of an INVITE, as a leg.

A thin adapter (`dialog_session.DialogLeg`) around the sans-IO `InviteDialog` engine, which ACKs
every 2xx (retransmissions and forks included, RFC 6026), CANCELs while ringing (a 2xx that wins
the race is ACKed and BYEd), takes re-INVITEs and UPDATEs, runs the session timer and ends with
BYE either way. The leg offers SDP from its own RTP session and reports ringing and the answer.
Requests go to the address the station registered from (NAT), over the transport it registered
with.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from acdgate.codecs.tones import Cadence
from acdgate.gateway.legs.dialog_session import DialogLeg
from acdgate.gateway.legs.invite_dialog import ALLOW, SUPPORTED, InviteDialog, State
from acdgate.gateway.legs.invite_dialog_actions import EndCause
from acdgate.gateway.legs.leg import EndReason
from acdgate.gateway.legs.sip_uas import local_ip_towards
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import (
    Negotiated,
    SdpError,
    SessionDescription,
    build_offer,
    parse_answer,
)
from acdgate.gateway.media.session import MediaSession, Samples
from acdgate.gateway.sip.message import (
    Headers,
    Request,
    Response,
    new_branch,
    new_tag,
)
from acdgate.gateway.sip.registrar import Binding
from acdgate.gateway.sip.stack import SipStack, TransactionFailed
from twisted.internet import defer
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")


class OutgoingSipLeg(DialogLeg):
    """An INVITE from the gateway to one registered contact of a station, around its engine."""

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
        self._init_dialog_leg()
        self.media_ip = local_ip_towards(binding.source[0], bind_ip)
        self.media = MediaSession(reactor)
        self.rtp = RtpSocket(reactor, bind_ip if bind_ip not in ("", "::") else "0.0.0.0", ports,
                             self.media)
        self.media.on_digit = self._media_digit
        self.negotiated: Negotiated | None = None
        self.engine: InviteDialog | None = None  # from start()
        self.invite: Request | None = None
        self.call_id = f"{secrets.token_hex(12)}@acdgate"
        self._offer: SessionDescription | None = None
        _host, port = stack.local_address
        contact_host = self.media_ip if ":" not in self.media_ip else f"[{self.media_ip}]"
        self.contact = f"sip:acdgate@{contact_host}:{port}"
        if binding.transport != "UDP":
            self.contact += f";transport={binding.transport.lower()}"

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
        transport = self.binding.transport
        name = self.caller_name.replace('"', "'")
        headers = Headers([
            ("Via", f"{self.stack.via_for(transport)};branch={new_branch()}"),
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
        invite = Request("INVITE", self.binding.contact, headers, self._offer.to_bytes())
        self.invite = invite
        engine = InviteDialog.uac(invite, local_contact=self.contact, via=self.stack.via_for(transport),
                                  settings=self.stack.layer.settings, reliable=transport != "UDP")
        self.engine = engine

        def response(r: Response) -> None:
            if r.status >= 200 and self.final_status is None:
                self.final_status = r.status
            self._run(engine.response_received(invite, r, self._now()))

        def failed(failure: Any) -> None:
            failure.trap(TransactionFailed)
            self._run(engine.request_failed(invite, self._now()))

        d = self.stack.send_request(invite, self.binding.source, transport, on_response=response)
        d.addErrback(failed)
        return d

    def cancel(self) -> None:
        """CANCEL while ringing (RFC 3261 9.1); the INVITE then ends with 487."""
        if self.ended or self.engine is None or self.engine.state is not State.PROCEEDING:
            return
        self._run(self.engine.cancel(self._now()))

    def hangup(self) -> None:
        """BYE when answered, CANCEL while ringing."""
        if self.ended or self.engine is None:
            return
        if self.engine.state is State.PROCEEDING:
            self.cancel()
            return
        self._run(self.engine.hangup(self._now()))

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

    # -- engine events ----------------------------------------------------------------------

    def _ringing(self, response: Response) -> None:
        if self.on_ringing is not None and not self.ended:
            self.on_ringing()

    def _answered(self, response: Response) -> None:
        assert self._offer is not None
        self.answered = True
        try:
            negotiated = parse_answer(response.body, self._offer)
        except SdpError as exc:
            log.warn("station {station} answered with unusable SDP: {error}", station=self.station, error=exc)
            self.hangup()
            return
        self.media.start(negotiated)
        self._session_started(negotiated)
        if self.on_answered is not None:
            self.on_answered()

    def matches(self, request: Request) -> bool:
        return self.dialog is not None and self.dialog.matches(request)

    def _finish(self, reason: EndReason, cause: EndCause) -> None:
        if self.ended:
            return
        self.ended = True
        self.media.on_digit = None
        self.rtp.close()
        if self.on_ended is not None:
            self.on_ended(reason)
