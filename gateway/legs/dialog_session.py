"""What both SIP legs are around their `InviteDialog` engine: the thin adapter that feeds it what
arrives (requests in the dialog, responses, timer firings, with `reactor.seconds()`) and carries
out what it returns with the SIP stack and `reactor.callLater`; plus the SDP side of re-offers.

Either party may change the session with a re-INVITE (RFC 3261 14) or an UPDATE (RFC 3311):
the engine decides whether the offer may be taken (dialog, CSeq, glare, session timer) and we
answer it with our SDP for the same RTP port (o= version incremented, RFC 3264 8; the
direction mirrored, so a=sendonly from a phone that holds makes us answer recvonly and stop
sending to it), restarting the `MediaSession` with the new negotiation, or refuse it with 488
(the session stays as it was). INFO key presses and requests sent inside the dialog for the
call layer (NOTIFY for a REFER) are here too.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from acdgate.gateway.legs.invite_dialog import InviteDialog
from acdgate.gateway.legs.invite_dialog_actions import (
    Action,
    Answered,
    AnswerReceived,
    CancelTimer,
    Confirmed,
    DialogTimer,
    EndCause,
    Ended,
    OfferReceived,
    PeerError,
    Ringing,
    SendAck,
    SendRequest,
    SendResponse,
    StartTimer,
)
from acdgate.gateway.legs.leg import EndReason
from acdgate.gateway.media.ports import MediaError
from acdgate.gateway.media.sdp import Negotiated, SdpError, negotiate_answer, parse_answer
from acdgate.gateway.media.session import MediaSession
from acdgate.gateway.sip.dialog import Dialog
from acdgate.gateway.sip.message import Request, Response
from acdgate.gateway.sip.stack import SipStack, TransactionFailed
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")

Address = tuple[str, int]

# what the call layer hears for each way a dialog ends (no ACK and an expired session end in our BYE)
END_REASONS: dict[EndCause, EndReason] = {
    EndCause.LOCAL_HANGUP: EndReason.LOCAL_HANGUP,
    EndCause.REMOTE_HANGUP: EndReason.REMOTE_HANGUP,
    EndCause.REFUSED: EndReason.REFUSED,
    EndCause.TIMEOUT: EndReason.TIMEOUT,
    EndCause.NO_ACK: EndReason.LOCAL_HANGUP,
    EndCause.SESSION_EXPIRED: EndReason.LOCAL_HANGUP,
    EndCause.ERROR: EndReason.ERROR,
}


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


class DialogLeg:
    """The adapter half of a SIP leg. A leg sets `engine` (once it has its INVITE), `media`,
    `media_ip` and `negotiated`, implements `_peer()` (where its phone is and over which
    transport) and `_finish(reason, cause)`, and may override the event hooks."""

    reactor: Any
    stack: SipStack
    engine: InviteDialog | None
    media: MediaSession
    media_ip: str
    negotiated: Negotiated | None
    station: str | None
    ended: bool
    on_digit: Callable[[str, str], None] | None

    def _init_dialog_leg(self) -> None:
        self._timer_calls: dict[DialogTimer, IDelayedCall] = {}
        self._sdp_session_id = 0
        self._sdp_version = 1

    def _peer(self) -> tuple[Address, str]:
        raise NotImplementedError

    def _finish(self, reason: EndReason, cause: EndCause) -> None:
        """The engine ended the dialog: release the leg and tell the call layer."""
        raise NotImplementedError

    @property
    def dialog(self) -> Dialog | None:
        """The dialog's identity (for the dispatcher's matching); None before there is one."""
        return self.engine.dialog if self.engine is not None else None

    # -- carrying out the engine's actions ---------------------------------------------------

    def _now(self) -> float:
        return float(self.reactor.seconds())

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendResponse):
                self.stack.send_response(action.response)
            elif isinstance(action, SendRequest):
                self._send(action.request)
            elif isinstance(action, SendAck):
                destination, transport = self._peer()
                self.stack.send_stateless(action.request, destination, transport)
            elif isinstance(action, StartTimer):
                self._cancel_timer(action.name)
                self._timer_calls[action.name] = self.reactor.callLater(
                    max(0.0, action.at - self._now()), self._timer_fired, action.name)
            elif isinstance(action, CancelTimer):
                self._cancel_timer(action.name)
            elif isinstance(action, Ended):
                log.info("dialog {call_id} ended: {why}", call_id=self._call_id(), why=action.why)
                self._finish(END_REASONS[action.cause], action.cause)
            elif isinstance(action, PeerError):
                log.warn("dialog {call_id}: {reason}", call_id=self._call_id(), reason=action.reason)
            elif isinstance(action, OfferReceived):
                self._offer_received(action.request)
            elif isinstance(action, AnswerReceived):
                self._answer_received(action.body)
            elif isinstance(action, Confirmed):
                self._confirmed()
            elif isinstance(action, Answered):
                self._answered(action.response)
            elif isinstance(action, Ringing):
                self._ringing(action.response)

    def _call_id(self) -> str:
        return (self.engine.invite.call_id or "") if self.engine is not None else ""

    def _send(self, request: Request) -> defer.Deferred[Response]:
        """`request` in a client transaction; its responses and failure go to the engine."""
        destination, transport = self._peer()
        engine = self.engine
        assert engine is not None

        def response(r: Response) -> None:
            if request.method == "CANCEL" and r.status >= 200:
                # the phone's answer to our CANCEL: proof it stopped ringing (operators and tests read it)
                log.info("CANCEL of {call_id} to station {station} answered {status}", call_id=self._call_id(),
                         station=self.station or "?", status=r.status)
            self._run(engine.response_received(request, r, self._now()))

        def failed(failure: Any) -> None:
            failure.trap(TransactionFailed)  # RFC 3261 15.1.1: a BYE nobody answers ends it all the same
            self._run(engine.request_failed(request, self._now()))

        d = self.stack.send_request(request, destination, transport, on_response=response)
        d.addErrback(failed)
        return d

    def _timer_fired(self, name: DialogTimer) -> None:
        self._timer_calls.pop(name, None)
        assert self.engine is not None
        self._run(self.engine.timer_fired(name, self._now()))

    def _cancel_timer(self, name: DialogTimer) -> None:
        call = self._timer_calls.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    # -- event hooks ---------------------------------------------------------------------------

    def _confirmed(self) -> None:
        """UAS: the ACK for our 2xx arrived."""

    def _answered(self, response: Response) -> None:
        """UAC: our INVITE was answered (and ACKed)."""

    def _ringing(self, response: Response) -> None:
        """UAC: a provisional response arrived."""

    # -- SDP of the established session ----------------------------------------------------------

    def _session_started(self, negotiated: Negotiated) -> None:
        """Answered: the SDP session our re-offers and answers continue (RFC 3264 8)."""
        self.negotiated = negotiated
        origin = negotiated.local.origin
        self._sdp_session_id = int(origin.session_id) if origin.session_id.isdigit() else secrets.randbelow(2**31)
        self._sdp_version = int(origin.version) if origin.version.isdigit() else 1
        if self.engine is not None:
            self.engine.local_body = negotiated.local.to_bytes()

    def _offer_received(self, request: Request) -> None:
        """A re-INVITE or UPDATE with an offer the engine let through: answer it with our SDP."""
        assert self.engine is not None and self.negotiated is not None
        now = self._now()
        try:
            negotiated = negotiate_answer(request.body, self.media_ip, self.media.local_port or 0,
                                          self._sdp_session_id, version=self._sdp_version + 1,
                                          codecs=self._codecs(self.negotiated))
            self.media.start(negotiated)
        except (SdpError, MediaError) as exc:
            # RFC 3261 14.2: a refused offer leaves the session as it was
            self._run(self.engine.refuse_offer(request, 488, str(exc)[:100], now))
            return
        self._sdp_version += 1
        self.negotiated = negotiated
        self._run(self.engine.accept_offer(request, negotiated.local.to_bytes(), now))

    @staticmethod
    def _codecs(negotiated: Negotiated) -> tuple[str, ...]:
        """Keep the codec in use first, so a re-offer does not switch laws needlessly."""
        current = negotiated.codec.encoding.upper()
        return (current, *(c for c in ("PCMU", "PCMA") if c != current))

    def _answer_received(self, body: bytes) -> None:
        """The answer to our offer (in an ACK, or in the 2xx to our re-INVITE)."""
        assert self.negotiated is not None
        try:
            negotiated = parse_answer(body, self.negotiated.local)
            self.media.start(negotiated)
        except (SdpError, MediaError) as exc:
            log.warn("unusable SDP answer on {call_id}: {error}", call_id=self._call_id(), error=exc)
            return
        self.negotiated = negotiated

    # -- in-dialog requests from the dispatcher -----------------------------------------------

    def ack_received(self, request: Request) -> None:
        """An ACK for a 2xx of ours (to the INVITE, or to a re-INVITE)."""
        if self.engine is not None:
            self._run(self.engine.request_received(request, self._now()))

    def bye_received(self, request: Request) -> None:
        assert self.engine is not None
        self._run(self.engine.request_received(request, self._now()))

    def reoffer_received(self, request: Request) -> None:
        """A re-INVITE or UPDATE in our dialog (hold, resume, codec change, session refresh)."""
        assert self.engine is not None
        self._run(self.engine.request_received(request, self._now()))

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

    def send_in_dialog(self, method: str, *, body: bytes = b"", content_type: str | None = None,
                       extra: list[tuple[str, str]] | None = None) -> defer.Deferred[Any]:
        """Send a request inside our dialog (NOTIFY for a REFER); fires with the final response."""
        assert self.dialog is not None
        destination, transport = self._peer()
        request = self.dialog.request(method, self.stack.via_for(transport), body=body,
                                      content_type=content_type, extra=extra)
        return self.stack.send_request(request, destination, transport)

    def _media_digit(self, digit: str, method: str) -> None:
        if self.on_digit is not None and not self.ended:
            self.on_digit(digit, method)


__all__ = ["END_REASONS", "DialogLeg", "parse_info_digit"]
