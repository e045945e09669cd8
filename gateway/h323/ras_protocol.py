"""The RAS UDP edge: feeds the gatekeeper engine datagrams and the reactor's time, arms its timer.

The only Twisted part of RAS: it owns the socket, one `callLater` (for the engine's
`next_timer()`) and the delayed answers the authentication throttle asks for; it sends what the
engine asks, logs drops and refusals, writes every datagram in and out to the `H323Trace` when
there is one, and hands registration events to a listener. With a
`RegistrationStore`, the registration changes a datagram caused are stored before any answer
to it is sent, so an acknowledged registration (RCF) or unregistration (UCF) survives a crash;
when the store fails, the acknowledgements are withheld and the endpoint retries. Like the SIP
service's group commit, a burst is stored in one transaction: while more datagrams wait on the
socket (the reader comes back at once), the answers that need the store are held, and the
burst's last datagram (or, when the reactor cut the burst short, a call on the next turn)
commits them all, then sends what was held, in arrival order.
"""

from __future__ import annotations

import fcntl
import termios
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
from acdgate.gateway.h323.ras_messages import RegistrationConfirm, UnregistrationConfirm
from acdgate.gateway.h323.registration_store import RegistrationStore, RegistrationStoreError
from acdgate.gateway.h323.trace import H323Trace
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.udp import Port
from twisted.logger import Logger

log = Logger(namespace="acdgate.h323")

# Drops and refusals are logged one line each, but a flood must not flood the log: at most
# _LOG_BURST lines at once, refilled at _LOG_PER_SECOND; what is held back is counted and said.
_LOG_PER_SECOND = 10.0
_LOG_BURST = 20.0

RegistrationEvent = RegistrationAdded | RegistrationRefreshed | RegistrationRemoved


def _peer(addr: Address) -> str:
    return f"{addr[0]}:{addr[1]}"


@dataclass(slots=True)
class LogBudget:
    """A token bucket for log lines: `allow(now)` says whether one more may be written, and
    `held_back` counts those that were not since the last one that was."""

    per_second: float = _LOG_PER_SECOND
    burst: float = _LOG_BURST
    _tokens: float = _LOG_BURST
    _at: float | None = None
    held_back: int = 0

    def allow(self, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens < 1.0:
            self.held_back += 1
            return False
        self._tokens -= 1.0
        return True


class RasProtocol(DatagramProtocol):
    """One RAS socket (UDP 1719) in front of one `Gatekeeper`."""

    def __init__(self, gatekeeper: Gatekeeper, reactor: IReactorTime,
                 listener: Callable[[RegistrationEvent], None] | None = None, *,
                 store: RegistrationStore | None = None, trace: H323Trace | None = None) -> None:
        self._gatekeeper = gatekeeper
        self._trace = trace
        self._reactor = reactor
        self._listener = listener
        self._store = store
        self._timer: IDelayedCall | None = None
        self._delayed: set[IDelayedCall] = set()
        self._log_budget = LogBudget()
        # group commit: the actions of each datagram whose answers wait for the store, in order
        self._held: list[tuple[list[RasAction], list[RegistrationEvent]]] = []
        self._commit_call: IDelayedCall | None = None

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        if self._trace is not None:
            self._trace.record_ras(datagram, (addr[0], addr[1]), self._local(),
                                   self._reactor.seconds())
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
        held, self._held = self._held, []
        self._store_changes([e for _, events in held for e in events])  # durable, unanswered
        for call in (self._timer, self._commit_call, *self._delayed):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._commit_call = None
        self._delayed.clear()

    def _expire(self) -> None:
        self._timer = None
        self._run(self._gatekeeper.handle_timer(self._reactor.seconds()))

    def _run(self, actions: list[RasAction]) -> None:
        events: list[RegistrationEvent] = [
            a for a in actions
            if isinstance(a, RegistrationAdded | RegistrationRefreshed | RegistrationRemoved)]
        if self._store is None or (not events and not self._held):
            self._deliver(actions, events, stored=True)  # nothing to store, nothing waits
            self.reschedule()
            return
        self._held.append((actions, events))  # after the answers held before it, in order
        if not self._input_pending():
            self.commit()
        elif self._commit_call is None:  # the burst's last datagram commits; this covers a
            self._commit_call = self._reactor.callLater(0, self.commit)  # burst cut short

    def commit(self) -> None:
        """Store the held registration changes in one transaction, then deliver the held
        answers (acknowledgements withheld when the store failed)."""
        call, self._commit_call = self._commit_call, None
        if call is not None and call.active():
            call.cancel()
        held, self._held = self._held, []
        if not held:
            return
        stored = self._store_changes([e for _, events in held for e in events])
        for actions, events in held:
            self._deliver(actions, events, stored)
        self.reschedule()

    def _input_pending(self) -> bool:
        """More datagrams wait on the socket (Linux FIONREAD: the size of the next one)."""
        if not isinstance(self.transport, Port):
            return False
        try:
            return fcntl.ioctl(self.transport.fileno(), termios.FIONREAD, b"\0\0\0\0") != bytes(4)
        except OSError:  # closed meanwhile
            return False

    def _deliver(self, actions: list[RasAction], events: list[RegistrationEvent],
                 stored: bool) -> None:
        for action in actions:
            match action:
                case SendDatagram():
                    if not stored and isinstance(action.message,
                                                 RegistrationConfirm | UnregistrationConfirm):
                        log.warn("RAS answer to {addr} withheld: its registration change is not "
                                 "stored (the endpoint retries)", addr=_peer(action.addr))
                    elif action.delay > 0:
                        self._delayed.add(self._reactor.callLater(action.delay, self._send_later,
                                                                  action))
                    else:
                        self._send(action)
                case Dropped():
                    if self._may_log():
                        log.info("RAS datagram from {addr} dropped: {defect}",
                                 addr=_peer(action.addr), defect=action.defect)
                case Refused():
                    if self._may_log():
                        log.info("RAS {request} from {addr} refused: {reason}",
                                 request=action.request, addr=_peer(action.addr),
                                 reason=action.reason)
        if self._listener is not None:
            for event in events:
                self._listener(event)

    def _may_log(self) -> bool:
        """Whether the next drop or refusal may be logged (`LogBudget`); says first how many
        were not."""
        held_back = self._log_budget.held_back
        if not self._log_budget.allow(self._reactor.seconds()):
            return False
        if held_back:
            self._log_budget.held_back = 0
            log.warn("{n} RAS drop/refusal log lines held back (a flood?)", n=held_back)
        return True

    def _store_changes(self, events: list[RegistrationEvent]) -> bool:
        """Store what `events` changed, all or none; False when the store refused."""
        if self._store is None or not events:
            return True
        changed: dict[str, RegistrationEvent] = {}
        for event in events:  # the last event of an endpointIdentifier is its final state
            changed[event.registration.endpoint_identifier] = event
        try:
            self._store.save_h323_registrations(
                [e.registration.to_row() for e in changed.values()
                 if not isinstance(e, RegistrationRemoved)],
                [key for key, e in changed.items() if isinstance(e, RegistrationRemoved)])
        except RegistrationStoreError as exc:
            log.failure("cannot store {n} H.323 registration change(s): {error}",
                        n=len(changed), error=exc)
            return False
        return True

    def _send_later(self, action: SendDatagram) -> None:
        self._delayed = {c for c in self._delayed if c.active()}
        self._send(action)

    def _send(self, action: SendDatagram) -> None:
        if self.transport is not None:
            self.transport.write(action.data, action.addr)
            if self._trace is not None:
                self._trace.record_ras(action.data, self._local(), action.addr,
                                       self._reactor.seconds())

    def _local(self) -> Address:
        """Our end of the socket as the trace shows it: a wildcard bind as 127.0.0.1, as the
        SIP trace does."""
        host: Any = self.transport.getHost() if self.transport is not None else None
        if host is None:
            return ("127.0.0.1", 0)
        return ("127.0.0.1" if host.host in ("0.0.0.0", "") else str(host.host), int(host.port))
