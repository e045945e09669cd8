"""H.323 calls into the gateway: a Setup from a registered station goes where an INVITE goes.

`H323Entry` is the call signalling edge's `CallSignallingBridge`. A Setup's caller must be
registered with our gatekeeper (the TCP peer's host is the registration's call signalling or
RAS host, and its endpointIdentifier or a source alias names it, or it is the only one there):
anyone else gets Release Complete `callerNotRegistered`, cause 21. The number dialled is the
destinationAddress's dialledDigits, else the Called party number; when it is not complete yet
and the caller said canOverlapSend, we answer Setup Acknowledge and collect the rest from
Information messages (Keypad or Called party number IE) until it is complete or ends in `#`
(the engine's T302 ends a number that never completes, cause 28). Then an `H323Leg` is made,
Call Proceeding sent, and `CallDispatcher.serve` hands it to the short codes, the routed calls
or the direct calls, exactly as for SIP; a number that reaches nothing gets cause 1.
`ring` makes the leg that calls an H.323 agent's desk for a routed call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acdgate.gateway.calls.dispatcher import CallDispatcher, Destination
from acdgate.gateway.h323.call_signalling_actions import CallOffered, CallReleased, DigitsReceived
from acdgate.gateway.h323.cs_messages import Cause, ReleaseCompleteReason
from acdgate.gateway.h323.cs_protocol import (
    CallEvent,
    CallSignallingFactory,
    CallSignallingProtocol,
)
from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.ras_events import Registration
from acdgate.gateway.h323.ras_messages import AliasKind
from acdgate.gateway.legs.h323_leg import H323Leg
from acdgate.gateway.legs.h323_uac import OutgoingH323Leg
from acdgate.gateway.media.ports import RtpPortPool
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")

MAX_DIALLED = 32  # overlap digits beyond this end the call: no number of ours is that long


@dataclass(slots=True)
class _Overlap:
    """A call whose number is still being dialled (OVERLAP_RECEIVING)."""

    entry: H323Entry
    edge: CallSignallingProtocol
    offered: CallOffered
    station: str
    dialled: str
    done: bool = False

    def call_event(self, event: CallEvent) -> None:
        if self.done:
            return
        if isinstance(event, DigitsReceived):
            self.dialled += event.digits
            self.entry._more_digits(self)
        elif isinstance(event, CallReleased):
            self.done = True


class H323Entry:
    """The bridge of the call signalling edge: Setups become legs for the call layer."""

    def __init__(self, reactor: Any, registrations: Callable[[], list[Registration]],
                 dispatcher: CallDispatcher, ports: RtpPortPool, bind_ip: str) -> None:
        """`registrations`: the gatekeeper's live registrations (`Gatekeeper.registrations`)."""
        self.reactor = reactor
        self.registrations = registrations
        self.dispatcher = dispatcher
        self.ports = ports
        self.bind_ip = bind_ip
        self.codec = H245Codec()
        self.factory: CallSignallingFactory | None = None  # the edge, for calls we place

    def ring(self, station: str, caller_number: str, caller_name: str) -> OutgoingH323Leg | None:
        """A leg (not started) that will call `station` at its latest H.323 registration (its
        call signalling address from the RRQ); None when it has none."""
        now = self.reactor.seconds()
        found = [r for r in self.registrations() if r.extension == station and r.expires_at > now]
        if not found or self.factory is None:
            return None
        registration = max(found, key=lambda r: r.expires_at)
        alias = next((a for a in registration.aliases if a.kind is AliasKind.DIALLED_DIGITS),
                     registration.aliases[0] if registration.aliases else None)
        return OutgoingH323Leg(self.reactor, self.factory, registration.call_signal_address,
                               station=station, alias=alias, caller_number=caller_number,
                               caller_name=caller_name, ports=self.ports, bind_ip=self.bind_ip,
                               codec=self.codec)

    # -- CallSignallingBridge --------------------------------------------------------------

    def call_offered(self, edge: CallSignallingProtocol, offered: CallOffered) -> None:
        setup = offered.setup
        registration = self._caller(edge, offered)
        if registration is None:
            log.info("H.323 Setup from {peer} refused: the caller is not registered",
                     peer=f"{edge.peer[0]}:{edge.peer[1]}")
            edge.execute(edge.engine.release(offered.call, edge.now(), Cause.CALL_REJECTED,
                                             ReleaseCompleteReason.CALLER_NOT_REGISTERED))
            return
        dialled = next((a.value for a in setup.destination_aliases
                        if a.kind is AliasKind.DIALLED_DIGITS), None)
        if dialled is None:
            dialled = setup.called_number or ""
        if not self._complete(dialled) and setup.can_overlap_send:
            overlap = _Overlap(self, edge, offered, registration.extension, dialled)
            edge.attach(offered.call, overlap)
            edge.execute(edge.engine.acknowledge_setup(offered.call, edge.now()))
            return
        self._serve(edge, offered, registration.extension, dialled)

    # -- digits ----------------------------------------------------------------------------

    def _complete(self, dialled: str) -> bool:
        """Whether `dialled` needs no more overlap digits: it reaches something (a short code
        whose rest the feature collects counts), or the caller ended it with `#`."""
        return bool(dialled) and (dialled.endswith("#")
                                  or self.dispatcher.destination(dialled) is not None)

    def _more_digits(self, overlap: _Overlap) -> None:
        edge = overlap.edge
        if self._complete(overlap.dialled) or len(overlap.dialled) >= MAX_DIALLED:
            overlap.done = True
            self._serve(edge, overlap.offered, overlap.station, overlap.dialled)

    # -- the leg -----------------------------------------------------------------------------

    def _serve(self, edge: CallSignallingProtocol, offered: CallOffered, station: str,
               dialled: str) -> None:
        destination: Destination | None = self.dispatcher.destination(dialled)
        if destination is None:
            log.info("H.323 call from {station} to {dialled}: no short code or number",
                     station=station, dialled=dialled[:40])
            edge.execute(edge.engine.release(offered.call, edge.now(), Cause.UNALLOCATED_NUMBER,
                                             ReleaseCompleteReason.UNREACHABLE_DESTINATION))
            return
        leg = H323Leg(self.reactor, edge, offered, station=station, dialled=dialled,
                      ports=self.ports, bind_ip=self.bind_ip, codec=self.codec)
        edge.attach(offered.call, leg)
        leg.proceed()  # the number is complete (the caller's T303 stops)
        self.dispatcher.serve(leg, destination)

    def _caller(self, edge: CallSignallingProtocol, offered: CallOffered) -> Registration | None:
        """The caller's registration: from the peer's host, named by endpointIdentifier or a
        source alias, or the only registration from that host."""
        host = edge.peer[0]
        now = edge.now()
        here = [r for r in self.registrations()
                if r.expires_at > now and host in (r.call_signal_address.host, r.source[0],
                                                   r.ras_address.host)]
        setup = offered.setup
        if setup.endpoint_identifier is not None:
            named = [r for r in here if r.endpoint_identifier == setup.endpoint_identifier]
            if named:
                return named[0]
        aliases = set(setup.source_aliases)
        by_alias = [r for r in here if aliases & set(r.aliases)]
        if by_alias:
            return by_alias[0]
        if setup.calling_number:
            by_number = [r for r in here if r.extension == setup.calling_number]
            if by_number:
                return by_number[0]
        stations = {r.extension for r in here}
        return here[0] if len(stations) == 1 and setup.endpoint_identifier is None \
            and not setup.source_aliases else None


__all__ = ["H323Entry"]
