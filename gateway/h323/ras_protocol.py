"""The RAS UDP edge: feeds the gatekeeper engine datagrams and the reactor's time, arms its timer.

The only Twisted part of RAS: it owns the socket and one `callLater` (for the engine's
`next_timer()`), sends what the engine asks, logs drops and refusals, and hands registration
events to a listener (a store, the HTTP API, later). Not wired into `gateway.app` yet.
"""

from __future__ import annotations

from collections.abc import Callable

from acdgate.gateway.h323.gatekeeper import Gatekeeper
from acdgate.gateway.h323.ras_events import (
    Address,
    Dropped,
    RasAction,
    Refused,
    RegistrationAdded,
    RegistrationRefreshed,
    RegistrationRemoved,
    SendDatagram,
)
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

log = Logger(namespace="acdgate.h323")

RegistrationEvent = RegistrationAdded | RegistrationRefreshed | RegistrationRemoved


class RasProtocol(DatagramProtocol):
    """One RAS socket (UDP 1719) in front of one `Gatekeeper`."""

    def __init__(self, gatekeeper: Gatekeeper, reactor: IReactorTime,
                 listener: Callable[[RegistrationEvent], None] | None = None) -> None:
        self._gatekeeper = gatekeeper
        self._reactor = reactor
        self._listener = listener
        self._timer: IDelayedCall | None = None

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        self._run(self._gatekeeper.receive(datagram, (addr[0], addr[1]), self._reactor.seconds()))

    def reschedule(self) -> None:
        """Arm the timer for the engine's next expiry (after `Gatekeeper.restore`, say)."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        when = self._gatekeeper.next_timer()
        if when is not None:
            self._timer = self._reactor.callLater(max(0.0, when - self._reactor.seconds()),
                                                  self._expire)

    def stopProtocol(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _expire(self) -> None:
        self._timer = None
        self._run(self._gatekeeper.handle_timer(self._reactor.seconds()))

    def _run(self, actions: list[RasAction]) -> None:
        for action in actions:
            match action:
                case SendDatagram():
                    if self.transport is not None:
                        self.transport.write(action.data, action.addr)
                case Dropped():
                    log.info("RAS datagram from {addr} dropped: {defect}", addr=action.addr,
                             defect=action.defect)
                case Refused():
                    log.info("RAS {request} from {addr} refused: {reason}",
                             request=action.request, addr=action.addr, reason=action.reason)
                case _:
                    if self._listener is not None:
                        self._listener(action)
        self.reschedule()
