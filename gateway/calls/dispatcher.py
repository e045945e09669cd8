"""New INVITEs and the requests inside their dialogs, routed to legs and features.

An INVITE from a station is authenticated (digest, as REGISTER), its Request-URI user part
decoded (`%23` is `#`) and matched against the site's short codes; a match becomes a
`SipLeg` served by the `FeatureHandler`. ACK, BYE, INFO and CANCEL find their leg by dialog.
Re-INVITE and UPDATE go to the leg's `DialogSession` (hold, resume, session refresh); REFER
from an agent's leg starts a blind transfer (`transfer.Transfers`). When a call's caller leg
ends, every leg's RTP statistics go into the journal as `CallMediaStats` records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from acdgate.acd.shortcodes import MatchKind
from acdgate.acd.site import Site
from acdgate.gateway.agents.short_code_calls import FeatureHandler
from acdgate.gateway.calls.direct import CallController
from acdgate.gateway.calls.routed import RoutedCalls
from acdgate.gateway.calls.transfer import Transfers
from acdgate.gateway.legs.leg import EndReason
from acdgate.gateway.legs.session_timer import MIN_SE, TimerSyntaxError, TooSmall, negotiate
from acdgate.gateway.legs.sip_uac import OutgoingSipLeg
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.media.hold_music import load_hold_music
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.relay import Bridge
from acdgate.gateway.sip.message import Request, SipSyntaxError
from acdgate.gateway.sip.service import SipService
from acdgate.gateway.sip.stack import Incoming, SipStack
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")


class CallDispatcher:
    """Owns the live legs; serves INVITE, ACK, BYE, INFO and CANCEL."""

    def __init__(self, reactor: Any, site: Site, sip: SipService, stack: SipStack,
                 features: FeatureHandler, ports: RtpPortPool, bind_ip: str,
                 calls: CallController | None = None, routed: RoutedCalls | None = None) -> None:
        self.reactor = reactor
        self.site = site
        self.sip = sip
        self.stack = stack
        self.features = features
        self.ports = ports
        self.bind_ip = bind_ip
        self.calls = calls
        self.routed = routed
        self.legs: dict[str, SipLeg] = {}  # Call-ID -> leg
        self._by_transaction: dict[str, SipLeg] = {}
        self.hold_music = load_hold_music(site)  # ConfigError: the gateway does not start
        self.transfers: Transfers | None = None
        if calls is not None:
            self.transfers = Transfers(reactor, stack, calls.registrar, ports, bind_ip,
                                       calls.target_station, calls.sip_username, acd=calls.acd)
        for method, handler in (("INVITE", self.invite), ("ACK", self.ack), ("BYE", self.bye),
                                ("INFO", self.info), ("UPDATE", self.update), ("REFER", self.refer)):
            sip.add_method(method, handler)
        sip.cancel_listeners.append(self.cancel)

    def stop(self) -> None:
        """Hang up every leg (orderly shutdown)."""
        if self.transfers is not None:
            self.transfers.stop()
        if self.calls is not None:
            self.calls.stop()
        if self.routed is not None:
            self.routed.stop()
        for leg in list(self.legs.values()):
            leg.hangup()

    # -- INVITE ---------------------------------------------------------------------------

    def invite(self, request: Request, incoming: Incoming) -> None:
        to_addr = request.to_addr
        if to_addr is not None and to_addr.tag is not None:
            leg_in = self._leg_for(request)
            if leg_in is None:
                self.stack.respond(request, 481)
            else:  # a re-INVITE: hold, resume, media change, session refresh
                leg_in.reoffer_received(request)
            return
        username = self.sip.authenticate(request, incoming)
        if username is None:
            return  # challenged or refused
        try:  # RFC 4028: session timers when the INVITE offers them
            timer = negotiate(request.headers.get("Supported"), request.headers.get("Session-Expires"),
                              request.headers.get("Min-SE"), our_min_se=MIN_SE)
        except TimerSyntaxError as exc:
            self.stack.respond(request, 400, str(exc)[:80])
            return
        if isinstance(timer, TooSmall):  # RFC 4028 8.1.1
            self.stack.respond(request, 422, headers=[("Min-SE", str(timer.min_se))])
            return
        station = self.site.station_by_username(username)
        try:
            user_part = request.request_uri.user or ""
        except SipSyntaxError:
            self.stack.respond(request, 416, "Unsupported URI Scheme")
            return
        dialled = unquote(user_part)
        match = self.features.match(dialled)
        routed = match.kind is MatchKind.NO_MATCH and self.routed is not None and self.routed.knows(dialled)
        direct = (match.kind is MatchKind.NO_MATCH and not routed and self.calls is not None
                  and self.calls.knows(dialled))
        if match.kind is MatchKind.NO_MATCH and not direct and not routed:
            self.stack.respond(request, 404, f"No Short Code Or Number {dialled[:40]}")
            return
        leg = SipLeg(self.reactor, self.stack, request, incoming,
                     station=station.extension if station is not None else None,
                     dialled=dialled, ports=self.ports, bind_ip=self.bind_ip, session_timer=timer)
        leg.media.hold_music = self.hold_music
        call_id = request.call_id or ""
        self.legs[call_id] = leg
        if incoming.transaction_key is not None:
            self._by_transaction[incoming.transaction_key] = leg
        key = incoming.transaction_key

        def forget(_: object) -> None:
            if self.legs.get(call_id) is leg:
                del self.legs[call_id]
            if key is not None:
                self._by_transaction.pop(key, None)

        if direct or routed:
            leg.on_ended = lambda reason: forget(reason)
            if routed:
                assert self.routed is not None
                self.routed.enter(leg, dialled)
            else:
                assert self.calls is not None
                self.calls.place(leg, dialled)
            if leg.ended:
                forget(None)
            else:
                previous = leg.on_ended

                def ended(reason: EndReason) -> None:
                    partners = self._partners(call_id)
                    if previous is not None:
                        previous(reason)
                    forget(reason)
                    self._journal_stats(call_id, [("caller", leg), *partners])

                leg.on_ended = ended
            return
        self.features.run(leg, match).addBoth(forget)

    # -- in-dialog ------------------------------------------------------------------------

    def _leg_for(self, request: Request, *, lenient: bool = False) -> SipLeg | OutgoingSipLeg | None:
        call_id = request.call_id or ""
        leg: SipLeg | OutgoingSipLeg | None = self.legs.get(call_id)
        if leg is None and self.calls is not None:
            leg = self.calls.outgoing.get(call_id)
        if leg is None and self.routed is not None:
            leg = self.routed.outgoing.get(call_id)
        if leg is None and self.transfers is not None:
            leg = self.transfers.outgoing.get(call_id)
        if leg is None or leg.dialog is None or not leg.dialog.matches(request, lenient_to_tag=lenient):
            return None
        return leg

    def ack(self, request: Request, incoming: Incoming) -> None:
        leg = self._leg_for(request, lenient=True)  # pyVoIP ACKs with a fresh To tag
        if leg is not None:
            leg.ack_received(request)

    def bye(self, request: Request, incoming: Incoming) -> None:
        leg = self._leg_for(request)
        if leg is None:
            self.stack.respond(request, 481)
            return
        leg.bye_received(request)

    def info(self, request: Request, incoming: Incoming) -> None:
        leg = self._leg_for(request)
        if leg is None:
            self.stack.respond(request, 481)
            return
        leg.info_received(request)

    def update(self, request: Request, incoming: Incoming) -> None:
        """RFC 3311 UPDATE: a session change or refresh inside a dialog."""
        leg = self._leg_for(request)
        if leg is None:
            self.stack.respond(request, 481)
            return
        leg.reoffer_received(request)

    def refer(self, request: Request, incoming: Incoming) -> None:
        """RFC 3515 REFER from an agent's leg: a blind transfer of the party it talks to."""
        leg = self._leg_for(request)
        if leg is None:
            self.stack.respond(request, 481)
            return
        if self.transfers is None:
            self.stack.respond(request, 501, "Transfer Not Available")
            return
        found = self._talking_to(leg)
        if found is None:
            self.stack.respond(request, 403, "Only An Answered Agent Or Callee Can Transfer")
            return
        caller, release = found
        self.transfers.refer(request, leg, caller, release)

    def _talking_to(self, leg: SipLeg | OutgoingSipLeg) -> tuple[SipLeg, Callable[[], Bridge | None]] | None:
        """The caller a connected agent/callee leg is bridged to, and how to release that call."""
        if self.routed is not None and isinstance(leg, OutgoingSipLeg):
            routed = next((c for c in self.routed.calls.values()
                           if c.agent_leg is leg and not c.ended and c.bridge is not None), None)
            if routed is not None:
                routed_calls, routed_id = self.routed, routed.call_id
                return routed.caller, lambda: routed_calls.release(routed_id)
        if self.calls is not None and isinstance(leg, OutgoingSipLeg):
            direct = next((c for c in self.calls.calls.values()
                           if c.answered_by is leg and not c.ended and c.bridge is not None), None)
            if direct is not None:
                calls, call_id = self.calls, direct.call_id
                return direct.caller, lambda: calls.release(call_id)
        return None

    def _partners(self, call_id: str) -> list[tuple[str, SipLeg | OutgoingSipLeg]]:
        """The other legs of the call whose caller leg has Call-ID `call_id`."""
        if self.transfers is not None and call_id in self.transfers.calls:
            return list(self.transfers.calls[call_id].legs)
        if self.routed is not None and call_id in self.routed.calls:
            agent = self.routed.calls[call_id].agent_leg
            return [("agent", agent)] if agent is not None and isinstance(agent, OutgoingSipLeg) else []
        if self.calls is not None and call_id in self.calls.calls:
            callee = self.calls.calls[call_id].answered_by
            return [("callee", callee)] if callee is not None else []
        return []

    def _journal_stats(self, call_id: str, legs: list[tuple[str, SipLeg | OutgoingSipLeg]]) -> None:
        """One `CallMediaStats` journal record per leg that carried media (issue 6)."""
        service = self.calls.acd if self.calls is not None else (self.routed.acd if self.routed else None)
        if service is None:
            return
        now = self.reactor.seconds()
        records = []
        for role, leg in legs:
            if leg.negotiated is None:
                continue
            stats = leg.media.stats
            records.append({
                "type": "CallMediaStats", "at": now, "call_id": call_id, "leg": role,
                "leg_call_id": leg.invite.call_id if isinstance(leg, SipLeg) else leg.call_id,
                "station": leg.station, "codec": leg.negotiated.codec.encoding,
                "packets_sent": stats.packets_sent, "packets_received": stats.packets_received,
                "packets_lost": stats.packets_lost, "jitter_ms": round(stats.jitter_ms, 3),
                "octets_sent": stats.octets_sent, "invalid_packets": stats.invalid_packets,
                "remote": f"{stats.remote[0]}:{stats.remote[1]}" if stats.remote else None,
            })
        if records:
            service.store.append(records)

    def cancel(self, invite_transaction_key: str) -> None:
        leg = self._by_transaction.get(invite_transaction_key)
        if leg is not None:
            leg.cancelled()


__all__ = ["CallDispatcher", "EndReason"]
