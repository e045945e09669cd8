"""New INVITEs and the requests inside their dialogs, routed to legs and features.

An INVITE from a station is authenticated (digest, as REGISTER), its Request-URI user part
decoded (`%23` is `#`) and matched against the site's short codes; a match becomes a
`SipLeg` served by the `FeatureHandler`. ACK, BYE, INFO and CANCEL find their leg by dialog
in the one registry of live legs (`legs.registry`), where each controller keeps the legs it owns.
Re-INVITE and UPDATE go to the leg's dialog engine (`legs.invite_dialog` through `DialogLeg`: hold, resume, session refresh); REFER
from an agent's leg starts a blind transfer (`transfer.Transfers`). When a call's caller leg
ends, every leg's RTP statistics go into the journal as `CallMediaStats` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import unquote

from acdgate.acd.shortcodes import MatchKind, ShortCodeMatch
from acdgate.acd.site import Site
from acdgate.gateway.agents.journal import CallMediaStats
from acdgate.gateway.agents.short_code_calls import FeatureHandler
from acdgate.gateway.calls.direct import CallController
from acdgate.gateway.calls.routed import RoutedCalls
from acdgate.gateway.calls.transfer import Transfers
from acdgate.gateway.legs.h323_leg import H323Leg
from acdgate.gateway.legs.leg import EndReason
from acdgate.gateway.legs.registry import (
    CallerLeg,
    LegOwner,
    LegRegistry,
    RegisteredLeg,
    SipLegs,
    leg_call_id,
)
from acdgate.gateway.legs.session_timer import MIN_SE, TimerSyntaxError, TooSmall, negotiate
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.media.hold_music import load_hold_music
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.sip.message import Request, SipSyntaxError
from acdgate.gateway.sip.service import SipService
from acdgate.gateway.sip.stack import Incoming, SipStack
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")


class DestinationKind(Enum):
    """What a dialled number reaches."""

    FEATURE = "feature"  # a short code (complete, or a prefix whose rest is collected)
    ROUTED = "routed"  # a group number: the ACD
    DIRECT = "direct"  # a station extension or a user number


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a new call goes, and the short code match behind it."""

    kind: DestinationKind
    match: ShortCodeMatch


class CallDispatcher:
    """Creates the incoming legs; serves INVITE, ACK, BYE, INFO, UPDATE, REFER and CANCEL,
    finding a request's leg in the one registry of live legs."""

    def __init__(self, reactor: Any, site: Site, sip: SipService, stack: SipStack,
                 features: FeatureHandler, ports: RtpPortPool, bind_ip: str, legs: LegRegistry,
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
        self.legs = legs
        self.hold_music = load_hold_music(site)  # ConfigError: the gateway does not start
        self.transfers: Transfers | None = None
        if calls is not None:
            context = calls.context
            self.transfers = Transfers(reactor, stack, context.registrar, ports, bind_ip,
                                       calls.target_station, calls.sip_username, legs, acd=context.acd,
                                       dialog_states=context.dialog_states)
        self.acd = calls.acd if calls is not None else (routed.acd if routed is not None else None)
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
        for leg in list(self.legs):
            if isinstance(leg, SipLeg | H323Leg):  # the incoming legs; each controller hung up its own
                leg.hangup()

    # -- INVITE ---------------------------------------------------------------------------

    def invite(self, request: Request, incoming: Incoming) -> None:
        to_addr = request.to_addr
        if to_addr is not None and to_addr.tag is not None:
            found = self.legs.find(request)
            if found is None:
                self.stack.respond(request, 481)
            else:  # a re-INVITE: hold, resume, media change, session refresh
                found[0].reoffer_received(request)
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
        destination = self.destination(dialled)
        if destination is None:
            self.stack.respond(request, 404, f"No Short Code Or Number {dialled[:40]}")
            return
        leg = SipLeg(self.reactor, self.stack, request, incoming,
                     station=station.extension if station is not None else None,
                     dialled=dialled, ports=self.ports, bind_ip=self.bind_ip, session_timer=timer)
        self.serve(leg, destination, transaction_key=incoming.transaction_key)

    # -- what SIP and H.323 callers share once their leg exists --------------------------------

    def destination(self, dialled: str) -> Destination | None:
        """Where `dialled` goes: a short code, a group (routed), a station or user (direct);
        None: nowhere (404 for SIP, cause 1 for H.323)."""
        match = self.features.match(dialled)
        if match.kind is not MatchKind.NO_MATCH:
            return Destination(DestinationKind.FEATURE, match)
        if self.routed is not None and self.routed.knows(dialled):
            return Destination(DestinationKind.ROUTED, match)
        if self.calls is not None and self.calls.knows(dialled):
            return Destination(DestinationKind.DIRECT, match)
        return None

    def serve(self, leg: CallerLeg, destination: Destination, *,
              transaction_key: str | None = None) -> None:
        """Hand a new incoming leg (SIP or H.323) to the feature handler, the routed calls or
        the direct calls, registered in the leg registry until it ends; when a call's caller
        leg ends, its legs' RTP statistics go into the journal."""
        leg.media.hold_music = self.hold_music
        call_id = leg.call_id
        dialled = leg.dialled
        kind = destination.kind
        owner: LegOwner = self.features
        if kind is DestinationKind.ROUTED:
            assert self.routed is not None
            owner = self.routed
        elif kind is DestinationKind.DIRECT:
            assert self.calls is not None
            owner = self.calls
        self.legs.add(leg, owner, transaction_key=transaction_key)

        def forget(_: object) -> None:
            self.legs.remove(leg)

        if kind is DestinationKind.FEATURE:
            self.features.run(leg, destination.match).addBoth(forget)
            return
        leg.on_ended = lambda reason: forget(reason)
        if kind is DestinationKind.ROUTED:
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
                now_owner = self.legs.owner(leg)  # a transfer may have taken the call over
                partners = now_owner.partners(leg) if now_owner is not None else []
                if previous is not None:
                    previous(reason)
                forget(reason)
                self._journal_stats(call_id, [("caller", leg), *partners])

            leg.on_ended = ended

    # -- in-dialog ------------------------------------------------------------------------

    def _leg_for(self, request: Request, *, lenient: bool = False) -> SipLegs | None:
        found = self.legs.find(request, lenient=lenient)
        return found[0] if found is not None else None

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
        found = self.legs.find(request)
        if found is None:
            self.stack.respond(request, 481)
            return
        if self.transfers is None:
            self.stack.respond(request, 501, "Transfer Not Available")
            return
        leg, owner = found
        handover = owner.handover(leg)
        if handover is None:
            self.stack.respond(request, 403, "Only An Answered Agent Or Callee Can Transfer")
            return
        self.transfers.refer(request, leg, handover)

    def _journal_stats(self, call_id: str, legs: list[tuple[str, RegisteredLeg]]) -> None:
        """One `CallMediaStats` journal record per leg that carried media (issue 6)."""
        if self.acd is None:
            return
        now = self.reactor.seconds()
        records = []
        for role, leg in legs:
            if leg.negotiated is None:
                continue
            stats = leg.media.stats
            records.append(CallMediaStats(
                at=now, call_id=call_id, leg=role, leg_call_id=leg_call_id(leg), station=leg.station,
                codec=leg.negotiated.codec.encoding, packets_sent=stats.packets_sent,
                packets_received=stats.packets_received, packets_lost=stats.packets_lost,
                jitter_ms=round(stats.jitter_ms, 3), octets_sent=stats.octets_sent,
                invalid_packets=stats.invalid_packets,
                remote=f"{stats.remote[0]}:{stats.remote[1]}" if stats.remote else None,
            ))
        self.acd.journal(records)

    def cancel(self, invite_transaction_key: str) -> None:
        leg = self.legs.by_transaction(invite_transaction_key)
        if isinstance(leg, SipLeg):
            leg.cancelled()


__all__ = ["CallDispatcher", "EndReason"]
