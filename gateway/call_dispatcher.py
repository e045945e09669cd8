"""New INVITEs and the requests inside their dialogs, routed to legs and features.

An INVITE from a station is authenticated (digest, as REGISTER), its Request-URI user part
decoded (`%23` is `#`) and matched against the site's short codes; a match becomes a
`SipLeg` served by the `FeatureHandler`. ACK, BYE, INFO and CANCEL find their leg by dialog.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from acdgate.acd.shortcodes import MatchKind
from acdgate.acd.site import Site
from acdgate.gateway.calls import CallController
from acdgate.gateway.features import FeatureHandler
from acdgate.gateway.leg import EndReason
from acdgate.gateway.media import RtpPortPool
from acdgate.gateway.routed_calls import RoutedCalls
from acdgate.gateway.sip.message import Request, SipSyntaxError
from acdgate.gateway.sip.stack import Incoming, SipStack
from acdgate.gateway.sip_leg import SipLeg
from acdgate.gateway.sip_service import SipService
from acdgate.gateway.sip_uac_leg import OutgoingSipLeg
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
        for method, handler in (("INVITE", self.invite), ("ACK", self.ack), ("BYE", self.bye),
                                ("INFO", self.info)):
            sip.add_method(method, handler)
        sip.cancel_listeners.append(self.cancel)

    def stop(self) -> None:
        """Hang up every leg (orderly shutdown)."""
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
            if self._leg_for(request) is None:
                self.stack.respond(request, 481)
            else:  # a re-INVITE (hold, session refresh): the session stays as it is
                self.stack.respond(request, 488, "Re-INVITE Not Supported Yet")
            return
        username = self.sip.authenticate(request, incoming)
        if username is None:
            return  # challenged or refused
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
                     dialled=dialled, ports=self.ports, bind_ip=self.bind_ip)
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
                    if previous is not None:
                        previous(reason)
                    forget(reason)

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

    def cancel(self, invite_transaction_key: str) -> None:
        leg = self._by_transaction.get(invite_transaction_key)
        if leg is not None:
            leg.cancelled()


__all__ = ["CallDispatcher", "EndReason"]
