"""The media session of an established INVITE dialog: offers inside it and session timers.

Either party may change the session with a re-INVITE (RFC 3261 14) or an UPDATE (RFC 3311):
we answer with our SDP for the same RTP port (o= version incremented, RFC 3264 8; the
direction mirrored, so a=sendonly from a phone that holds makes us answer recvonly and stop
sending to it) and restart the `MediaSession` with the new negotiation. A re-INVITE's 2xx is
retransmitted until its ACK (RFC 3261 13.3.1.4). Glare: a re-INVITE or an UPDATE with an
offer while our own re-INVITE is pending gets 491 (RFC 3261 14.2, RFC 3311 5.2); a second
re-INVITE while the peer's is still open gets 500 with Retry-After.

Session timers (RFC 4028): the refresher refreshes at half the interval; we refresh with
UPDATE when the peer allows it (no SDP), else a re-INVITE carrying our unchanged SDP; a
refresh answered 408/481, a 491 retried too often, or no refresh from the peer in time
ends the session (`on_expired`: the leg sends BYE).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from acdgate.gateway.legs.session_timer import (
    MIN_SE,
    Refresher,
    SessionExpires,
    SessionTimer,
    TimerAction,
    TimerSyntaxError,
    TooSmall,
    negotiate,
    parse_session_expires,
)
from acdgate.gateway.media.ports import MediaError
from acdgate.gateway.media.sdp import (
    Negotiated,
    SdpError,
    negotiate_answer,
    parse_answer,
)
from acdgate.gateway.media.session import MediaSession
from acdgate.gateway.sip.dialog import Dialog, DialogState
from acdgate.gateway.sip.message import Request, Response
from acdgate.gateway.sip.stack import SipStack, TransactionFailed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")

ALLOW = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS, UPDATE, REFER, NOTIFY"
SUPPORTED = "timer, replaces"
_MAX_GLARE_RETRIES = 3

Address = tuple[str, int]


def allows(message: Request | Response, method: str) -> bool:
    """Whether the peer's Allow header lists `method`."""
    return any(method == m.strip().upper() for v in message.headers.get_all("Allow") for m in v.split(","))


def timer_headers(negotiated: SessionExpires | None, require: bool) -> list[tuple[str, str]]:
    """Session-Expires (and Require: timer when the peer supports it) for a 2xx (RFC 4028 9)."""
    if negotiated is None:
        return []
    headers = [("Session-Expires", negotiated.header())]
    if require:
        headers.append(("Require", "timer"))
    return headers


def supports_timer(message: Request | Response) -> bool:
    return any("timer" == t.strip().lower() for v in message.headers.get_all("Supported") for t in v.split(","))


class DialogSession:
    """Re-offers and session refreshes for one confirmed dialog and its `MediaSession`."""

    def __init__(self, reactor: Any, stack: SipStack, dialog: Dialog, media: MediaSession, *,
                 negotiated: Negotiated, media_ip: str, destination: Address, transport: str,
                 we_placed_call: bool, peer_allows_update: bool) -> None:
        self.reactor = reactor
        self.stack = stack
        self.dialog = dialog
        self.media = media
        self.negotiated = negotiated
        self.media_ip = media_ip
        self.destination = destination
        self.transport = transport
        self.we_placed_call = we_placed_call
        self.peer_allows_update = peer_allows_update
        origin = negotiated.local.origin
        self.session_id = int(origin.session_id) if origin.session_id.isdigit() else secrets.randbelow(2**31)
        self.version = int(origin.version) if origin.version.isdigit() else 1
        self.on_changed: Callable[[Negotiated], None] | None = None
        self.on_expired: Callable[[str], None] | None = None
        self.timer: SessionTimer | None = None
        self.timer_negotiated: SessionExpires | None = None
        self.closed = False
        self._timer_call: IDelayedCall | None = None
        self._our_invite_cseq: int | None = None  # our re-INVITE in progress
        self._their_invite: Request | None = None  # their re-INVITE, 2xx not ACKed yet
        self._their_response: Response | None = None
        self._retransmit: IDelayedCall | None = None
        self._t1, self._t2 = stack.layer.settings.t1, stack.layer.settings.t2  # the site's timer bases
        self._retransmit_interval = self._t1
        self._retransmit_deadline = 0.0
        self._glare_call: IDelayedCall | None = None
        self._glare_retries = 0

    # -- session timer -------------------------------------------------------------------

    def start_timer(self, negotiated: SessionExpires | None, *, we_are_uas: bool) -> None:
        """Run (or stop, with None) the session timer negotiated by an INVITE transaction."""
        self.timer_negotiated = negotiated
        if negotiated is None:
            self.timer = None
        else:
            now = self.reactor.seconds()
            self.timer = (SessionTimer.for_uas(negotiated, now) if we_are_uas
                          else SessionTimer.for_uac(negotiated, now))
        self._arm()

    def _arm(self) -> None:
        if self._timer_call is not None and self._timer_call.active():
            self._timer_call.cancel()
        self._timer_call = None
        if self.closed or self.timer is None:
            return
        deadline = self.timer.deadline()
        if deadline is not None:
            self._timer_call = self.reactor.callLater(max(0.0, deadline - self.reactor.seconds()), self._fire)

    def _fire(self) -> None:
        self._timer_call = None
        if self.timer is None or self.closed:
            return
        action = self.timer.handle_timer(self.reactor.seconds())
        if action is TimerAction.REFRESH:
            self.refresh()
        elif action is TimerAction.EXPIRE:
            self._expire("session expired without refresh (RFC 4028 10)")
            return
        self._arm()

    def _expire(self, why: str) -> None:
        log.info("dialog {call_id}: {why}", call_id=self.dialog.call_id, why=why)
        if self.on_expired is not None and not self.closed:
            self.on_expired(why)

    # -- offers from the peer ------------------------------------------------------------

    def offer_received(self, request: Request) -> None:
        """A re-INVITE or UPDATE inside the dialog: answer it and apply the new session."""
        is_invite = request.method == "INVITE"
        if not self.dialog.accept_remote_cseq(request):
            self.stack.respond(request, 500, "CSeq Out Of Order")
            return
        if self._our_invite_cseq is not None and (is_invite or request.body):
            self.stack.respond(request, 491)  # RFC 3261 14.2 / RFC 3311 5.2: glare
            return
        if is_invite and self._their_invite is not None:
            self.stack.respond(request, 500, "Previous Re-INVITE Pending", headers=[("Retry-After", "1")])
            return
        try:
            timer = negotiate(request.headers.get("Supported"), request.headers.get("Session-Expires"),
                              request.headers.get("Min-SE"), our_min_se=MIN_SE)
        except TimerSyntaxError as exc:
            self.stack.respond(request, 400, str(exc)[:80])
            return
        if isinstance(timer, TooSmall):
            self.stack.respond(request, 422, headers=[("Min-SE", str(timer.min_se))])
            return
        body = b""
        if request.body:
            try:
                negotiated = negotiate_answer(request.body, self.media_ip, self.media.local_port or 0,
                                              self.session_id, version=self.version + 1,
                                              codecs=self._codecs())
                self.media.start(negotiated)
            except (SdpError, MediaError) as exc:
                # RFC 3261 14.2: a refused offer leaves the session as it was
                self.stack.respond(request, 488, str(exc)[:100])
                return
            self.version += 1
            self.negotiated = negotiated
            body = negotiated.local.to_bytes()
        elif is_invite:
            # RFC 3261 14.2: an offerless re-INVITE gets our current session as the offer
            body = self.negotiated.local.to_bytes()
        self.dialog.update_target(request)
        if timer is not None:
            self.start_timer(timer, we_are_uas=True)
        elif self.timer is not None:
            self.timer.refreshed(self.reactor.seconds())
            self._arm()
        headers = [("Contact", f"<{self.dialog.local_contact}>"), ("Allow", ALLOW), ("Supported", SUPPORTED),
                   *timer_headers(timer, supports_timer(request))]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = self.stack.respond(request, 200, headers=headers, body=body)
        if is_invite:
            self._their_invite = request
            self._their_response = response
            if self.transport == "UDP":
                self._retransmit_interval = self._t1
                self._retransmit_deadline = self.reactor.seconds() + 64 * self._t1
                self._retransmit = self.reactor.callLater(self._t1, self._retransmit_2xx)
        if request.body and self.on_changed is not None:
            self.on_changed(self.negotiated)

    def _codecs(self) -> tuple[str, ...]:
        """Keep the codec in use first, so a re-offer does not switch laws needlessly."""
        current = self.negotiated.codec.encoding.upper()
        return (current, *(c for c in ("PCMU", "PCMA") if c != current))

    def ack_received(self, request: Request) -> bool:
        """The ACK for our 2xx to their re-INVITE (True when it was that one)."""
        pending = self._their_invite
        cseq = request.cseq
        if pending is None or cseq is None or pending.cseq is None or cseq[0] != pending.cseq[0]:
            return False
        self._their_invite = None
        self._their_response = None
        self._cancel_retransmit()
        if not pending.body and request.body:  # the answer to the offer in our 2xx
            try:
                negotiated = parse_answer(request.body, self.negotiated.local)
                self.media.start(negotiated)
            except (SdpError, MediaError) as exc:
                log.warn("unusable SDP in ACK on {call_id}: {error}", call_id=self.dialog.call_id, error=exc)
                return True
            self.negotiated = negotiated
            if self.on_changed is not None:
                self.on_changed(negotiated)
        return True

    def _retransmit_2xx(self) -> None:
        self._retransmit = None
        if self.closed or self._their_response is None:
            return
        if self.reactor.seconds() >= self._retransmit_deadline:
            self._their_invite = self._their_response = None
            self._expire("no ACK for the 2xx to a re-INVITE (RFC 3261 14.2)")
            return
        self.stack.send_response(self._their_response)
        self._retransmit_interval = min(self._retransmit_interval * 2, self._t2)
        self._retransmit = self.reactor.callLater(self._retransmit_interval, self._retransmit_2xx)

    def _cancel_retransmit(self) -> None:
        if self._retransmit is not None and self._retransmit.active():
            self._retransmit.cancel()
        self._retransmit = None

    # -- our refreshes -------------------------------------------------------------------

    def refresh(self) -> None:
        """Refresh the session (RFC 4028 7.4/8): UPDATE when allowed, else a re-INVITE."""
        if self.closed or self.dialog.state is not DialogState.CONFIRMED:
            return
        if self._our_invite_cseq is not None or self._their_invite is not None:
            self._glare_call = self.reactor.callLater(1.0, self.refresh)  # one at a time
            return
        interval = self.timer.interval if self.timer is not None else MIN_SE
        headers = [("Supported", SUPPORTED), ("Allow", ALLOW),
                   ("Session-Expires", SessionExpires(interval, Refresher.UAC).header()),
                   ("Min-SE", str(MIN_SE))]
        via = self.stack.via_for(self.transport)
        if self.peer_allows_update:
            request = self.dialog.request("UPDATE", via, extra=headers)
        else:
            request = self.dialog.request("INVITE", via, extra=headers, body=self.negotiated.local.to_bytes(),
                                          content_type="application/sdp")
            cseq = request.cseq
            self._our_invite_cseq = cseq[0] if cseq is not None else None
        d = self.stack.send_request(request, self.destination, self.transport,
                                    on_response=lambda r: self._refresh_response(request, r))
        d.addCallbacks(lambda r: self._refresh_final(request, r), self._refresh_failed)

    def _refresh_response(self, request: Request, response: Response) -> None:
        if request.method == "INVITE" and 200 <= response.status < 300:
            cseq = request.cseq
            ack = self.dialog.request("ACK", self.stack.via_for(self.transport),
                                      ack_cseq=cseq[0] if cseq is not None else None)
            self.stack.send_stateless(ack, self.destination, self.transport)

    def _refresh_final(self, request: Request, response: Response) -> None:
        if request.method == "INVITE":
            self._our_invite_cseq = None
        if self.closed:
            return
        if 200 <= response.status < 300:
            self._glare_retries = 0
            self.dialog.update_target(response)
            if request.method == "INVITE" and response.body:
                try:
                    negotiated = parse_answer(response.body, self.negotiated.local)
                    self.media.start(negotiated)
                    self.negotiated = negotiated
                except (SdpError, MediaError) as exc:
                    log.warn("unusable SDP answering our refresh on {call_id}: {error}",
                             call_id=self.dialog.call_id, error=exc)
            value = response.headers.get("Session-Expires")
            negotiated_timer: SessionExpires | None = None
            if value is not None:
                try:
                    negotiated_timer = parse_session_expires(value)
                except TimerSyntaxError:
                    negotiated_timer = None
            if negotiated_timer is not None:
                self.start_timer(negotiated_timer, we_are_uas=False)
            elif self.timer is not None:
                self.timer.refreshed(self.reactor.seconds())
                self._arm()
        elif response.status == 491 and self._glare_retries < _MAX_GLARE_RETRIES:
            # RFC 3261 14.1: retry after 2.1-4 s if we own the Call-ID, else 0-2 s
            self._glare_retries += 1
            low = 2.1 if self.we_placed_call else 0.0
            delay = low + secrets.randbelow(1900) / 1000.0
            self._glare_call = self.reactor.callLater(delay, self.refresh)
        elif response.status == 422:
            min_se = response.headers.get("Min-SE") or ""
            if self.timer is not None and min_se.strip().isdigit():
                self.timer.interval = max(self.timer.interval, int(min_se.strip()))
                self.refresh()
        elif response.status in (408, 481):
            self._expire(f"session refresh answered {response.status}")
        # any other failure: the session timer's expiry decides (RFC 4028 10)

    def _refresh_failed(self, failure: Any) -> None:
        failure.trap(TransactionFailed)
        self._our_invite_cseq = None
        if not self.closed:
            self._expire("session refresh timed out (RFC 4028 10)")

    def close(self) -> None:
        """Stop every timer (the dialog ended)."""
        self.closed = True
        self._cancel_retransmit()
        for call in (self._timer_call, self._glare_call):
            if call is not None and call.active():
                call.cancel()
        self._timer_call = self._glare_call = None


__all__ = ["ALLOW", "SUPPORTED", "DialogSession", "allows", "supports_timer", "timer_headers"]
