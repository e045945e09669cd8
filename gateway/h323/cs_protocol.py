"""The H.225.0 call signalling TCP edge (port 1720) and the separate H.245 connections.

The only Twisted part of call signalling: `CallSignallingFactory` listens, each accepted
connection gets a `CallSignallingProtocol` holding one sans-IO `CallSignallingConnection`.
Bytes go through `tpkt.TpktReader` and `CallSignalCodec.decode` into the engine; what the engine
returns is carried out here (messages encoded, TPKT-framed and written, the connection closed,
defects logged under a budget) or handed to the layer above through `CallSignallingBridge`, a
protocol that layer implements, so this package knows nothing of legs or calls. One reactor
timer follows the engine's `next_timer()`. A TPKT stream that breaks cannot be resynchronised
(RFC 1006 6): every call on it gets Release Complete with cause 95 and the connection closes.

H.245 travels tunnelled inside call signalling (H.323 8.2.1) when the call says so; otherwise,
when the peer offers an h245Address, we connect to it and carry TPKT-framed H.245 there
(`H245Connection`). Either way the call's handler sees `H245Received` and sends with
`CallSignallingProtocol.send_h245`. With an `H323Trace`, every segment either way is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from acdgate.gateway.h323.call_signalling import CallSignallingConnection, CallSignallingSettings
from acdgate.gateway.h323.call_signalling_actions import (
    Call,
    CallAnswered,
    CallOffered,
    CallProgressed,
    CallReleased,
    CallSignallingAction,
    CloseConnection,
    DigitsReceived,
    H245AddressOffered,
    H245Received,
    LogDefect,
    SendSignal,
)
from acdgate.gateway.h323.cs_codec import CallSignalCodec
from acdgate.gateway.h323.cs_messages import Cause, ReleaseCompleteReason
from acdgate.gateway.h323.ras_messages import TransportAddress
from acdgate.gateway.h323.ras_protocol import LogBudget
from acdgate.gateway.h323.tpkt import TpktError, TpktReader, frame
from acdgate.gateway.h323.trace import H323Trace
from twisted.internet import protocol
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger(namespace="acdgate.h323")

Address = tuple[str, int]
CallEvent = (DigitsReceived | CallProgressed | CallAnswered | H245Received | CallReleased)

# a flood of connections must not take every file descriptor: beyond this, new ones are closed
MAX_CONNECTIONS = 1000
H245_CONNECT_TIMEOUT = 5.0  # seconds to reach a peer's h245Address or call signalling address


class CallHandler(Protocol):
    """What the layer above attaches to a call (`CallSignallingProtocol.attach`)."""

    def call_event(self, event: CallEvent) -> None:
        """An event of the call: digits, progress, tunnelled or separate H.245, the end."""
        ...


class CallSignallingBridge(Protocol):
    """The layer above call signalling (implemented by the call layer, not here)."""

    def call_offered(self, edge: CallSignallingProtocol, offered: CallOffered) -> None:
        """A peer's Setup made a new call: attach a handler and answer it (or release it)."""
        ...


class CallSignallingProtocol(protocol.Protocol):
    """One accepted call signalling connection: the engine's adapter (module docstring)."""

    def __init__(self, factory: CallSignallingFactory) -> None:
        self.factory = factory
        self.reactor = factory.reactor
        self.engine = CallSignallingConnection(factory.settings)
        self._reader = TpktReader()
        self._handlers: dict[Call, CallHandler] = {}
        self._h245: dict[Call, H245Connection] = {}
        self._h245_pending: dict[Call, list[bytes]] = {}  # PDUs waiting for the connection
        self._h245_addresses: dict[Call, TransportAddress] = {}  # the peer's h245Address
        self._timer: IDelayedCall | None = None
        self.peer: Address = ("0.0.0.0", 0)
        self.local: Address = ("0.0.0.0", 0)
        self.lost = False
        self.on_connected: Callable[[CallSignallingProtocol], None] | None = None  # ours

    # -- Twisted ---------------------------------------------------------------------------

    def connectionMade(self) -> None:
        peer: Any = self.transport.getPeer() if self.transport is not None else None
        host: Any = self.transport.getHost() if self.transport is not None else None
        if peer is not None:
            self.peer = (str(peer.host), int(peer.port))
        if host is not None:
            self.local = (str(host.host), int(host.port))
        self.factory.connections.add(self)
        if self.on_connected is not None:
            self.on_connected(self)

    def dataReceived(self, data: bytes) -> None:
        if self.lost:
            return
        now = self.now()
        trace = self.factory.trace
        if trace is not None:
            trace.record_tcp(data, self.peer, self._trace_local(), now)
        for item in self._reader.feed(data):
            if isinstance(item, TpktError):
                self._stream_broken(item)
                return
            self.execute(self.engine.receive(self.factory.codec.decode(item), self.now()))
            if self.lost or self.engine.closed:
                return

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost = True
        self.factory.connections.discard(self)
        broken = self._reader.eof()
        if broken is not None:
            self._log(f"{broken.defect.value}: {broken.detail}")
        self.execute(self.engine.connection_lost(self.now()))
        for connection in list(self._h245.values()):
            connection.close()
        self._h245.clear()
        self._disarm()

    # -- for the bridge and the legs ---------------------------------------------------------

    def now(self) -> float:
        return float(self.reactor.seconds())

    def attach(self, call: Call, handler: CallHandler) -> None:
        """Send `call`'s events to `handler` from now on."""
        self._handlers[call] = handler

    def execute(self, actions: list[CallSignallingAction]) -> None:
        """Carry out what the engine returned (a bridge command's result too)."""
        for action in actions:
            match action:
                case SendSignal():
                    self._write(frame(self.factory.codec.encode(action.message)))
                case CloseConnection():
                    if self.transport is not None and not self.lost:
                        self.transport.loseConnection()
                case LogDefect():
                    self._log(action.defect)
                case CallOffered():
                    if action.setup.h245_address is not None:  # known before the bridge acts
                        self._h245_addresses[action.call] = action.setup.h245_address
                    self.factory.bridge.call_offered(self, action)
                case H245AddressOffered():
                    self._h245_addresses[action.call] = action.address
                case CallReleased():
                    handler = self._handlers.pop(action.call, None)
                    h245 = self._h245.pop(action.call, None)
                    self._h245_pending.pop(action.call, None)
                    self._h245_addresses.pop(action.call, None)
                    if h245 is not None:
                        h245.close()
                    if handler is not None:
                        handler.call_event(action)
                case _:
                    handler = self._handlers.get(action.call)
                    if handler is not None:
                        handler.call_event(action)
        self._arm()

    def send_h245(self, call: Call, pdus: tuple[bytes, ...]) -> None:
        """Send encoded H.245 PDUs of `call`: tunnelled, or on its H.245 connection (opened now
        when the peer offered an address, the PDUs held until it is up); dropped when the call
        has neither (no H.245 for it)."""
        if not pdus or call not in self.engine.calls():
            return
        if self.engine.tunnelling(call):
            self.execute(self.engine.send_h245(call, pdus, self.now()))
            return
        self.open_h245(call)
        connection = self._h245.get(call)
        if connection is not None and connection.connected:
            connection.send(pdus)
        elif call in self._h245_pending:
            self._h245_pending[call].extend(pdus)
        else:
            self._log(f"H.245 for call {call.reference} with no H.245 channel: dropped")

    def open_h245(self, call: Call) -> None:
        """Connect to the h245Address the peer offered for `call` (H.323 8.2: the side that
        receives the address opens the connection), unless it tunnels or is connected. Only
        calls the layer above took get a connection: an address in a refused Setup is never
        connected to."""
        address = self._h245_addresses.get(call)
        if address is not None and not self.engine.tunnelling(call):
            self._connect_h245(call, address)

    def has_h245(self, call: Call) -> bool:
        """Whether `call` can carry H.245: tunnelled, or the peer gave an h245Address."""
        return self.engine.tunnelling(call) or call in self._h245_addresses

    # -- plumbing ------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.transport is None or self.lost:
            return
        self.transport.write(data)
        trace = self.factory.trace
        if trace is not None:
            trace.record_tcp(data, self._trace_local(), self.peer, self.now())

    def _trace_local(self) -> Address:
        host, port = self.local
        return ("127.0.0.1" if host in ("0.0.0.0", "") else host, port)

    def _stream_broken(self, error: TpktError) -> None:
        """RFC 1006 6: no resynchronising a broken TPKT stream: the calls end, cause 95."""
        self._log(f"{error.defect.value}: {error.detail}; the connection is closed")
        now = self.now()
        for call in self.engine.calls():
            self.execute(self.engine.release(call, now, Cause.INVALID_MESSAGE,
                                             ReleaseCompleteReason.UNDEFINED_REASON))
        if self.transport is not None and not self.lost:
            self.transport.loseConnection()

    def _connect_h245(self, call: Call, address: TransportAddress) -> None:
        """Open the separate H.245 connection the peer offered (H.323 8.2)."""
        if call in self._h245 or call in self._h245_pending:
            return
        self._h245_pending[call] = []
        factory = _H245ClientFactory(self, call)
        self.reactor.connectTCP(address.host, address.port, factory, timeout=H245_CONNECT_TIMEOUT)

    def _h245_connected(self, call: Call, connection: H245Connection) -> None:
        if call not in self.engine.calls():
            connection.close()
            return
        self._h245[call] = connection
        pending = self._h245_pending.pop(call, [])
        if pending:
            connection.send(tuple(pending))

    def _h245_failed(self, call: Call, why: str) -> None:
        self._h245_pending.pop(call, None)
        self._h245.pop(call, None)
        self._log(f"H.245 connection of call {call.reference}: {why}")

    def _h245_received(self, call: Call, pdu: bytes) -> None:
        handler = self._handlers.get(call)
        if handler is not None:
            handler.call_event(H245Received(call, (pdu,)))

    def _log(self, defect: str) -> None:
        budget = self.factory.log_budget
        held_back = budget.held_back
        if not budget.allow(self.now()):
            return
        if held_back:
            budget.held_back = 0
            log.warn("{n} H.323 call signalling log lines held back (a flood?)", n=held_back)
        log.info("H.323 call signalling from {peer}: {defect}",
                 peer=f"{self.peer[0]}:{self.peer[1]}", defect=defect)

    def _arm(self) -> None:
        when = None if self.lost else self.engine.next_timer()
        if self._timer is not None and self._timer.active():
            if when is not None and self._timer.getTime() == when:
                return
            self._timer.cancel()
        self._timer = None
        if when is not None:
            self._timer = self.reactor.callLater(max(0.0, when - self.now()), self._expire)

    def _disarm(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _expire(self) -> None:
        self._timer = None
        self.execute(self.engine.handle_timer(self.now()))


class H245Connection(protocol.Protocol):
    """A separate H.245 connection of one call (TPKT-framed MultimediaSystemControlMessages)."""

    def __init__(self, edge: CallSignallingProtocol, call: Call) -> None:
        self.edge = edge
        self.call = call
        self._reader = TpktReader()
        self.connected = False
        self._peer: Address = ("0.0.0.0", 0)
        self._local: Address = ("0.0.0.0", 0)

    def connectionMade(self) -> None:
        self.connected = True
        peer: Any = self.transport.getPeer() if self.transport is not None else None
        host: Any = self.transport.getHost() if self.transport is not None else None
        if peer is not None and host is not None:
            self._peer = (str(peer.host), int(peer.port))
            self._local = (str(host.host), int(host.port))
        self.edge._h245_connected(self.call, self)

    def dataReceived(self, data: bytes) -> None:
        trace = self.edge.factory.trace
        if trace is not None:
            trace.record_tcp(data, self._peer, self._local, self.edge.now())
        for item in self._reader.feed(data):
            if isinstance(item, TpktError):
                self.edge._h245_failed(self.call, f"{item.defect.value}: {item.detail}")
                self.close()
                return
            self.edge._h245_received(self.call, item)

    def send(self, pdus: tuple[bytes, ...]) -> None:
        if self.transport is None:
            return
        for pdu in pdus:
            data = frame(pdu)
            self.transport.write(data)
            trace = self.edge.factory.trace
            if trace is not None:
                trace.record_tcp(data, self._local, self._peer, self.edge.now())

    def close(self) -> None:
        if self.transport is not None and self.connected:
            self.connected = False
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.connected = False
        self.edge.factory.h245_connections.discard(self)


class _H245ClientFactory(protocol.ClientFactory):
    def __init__(self, edge: CallSignallingProtocol, call: Call) -> None:
        self.edge = edge
        self.call = call

    def buildProtocol(self, addr: Any) -> H245Connection:
        connection = H245Connection(self.edge, self.call)
        self.edge.factory.h245_connections.add(connection)
        return connection

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.edge._h245_failed(self.call, f"cannot connect: {reason.getErrorMessage()}")


class _CallSignallingClientFactory(protocol.ClientFactory):
    def __init__(self, factory: CallSignallingFactory,
                 connected: Callable[[CallSignallingProtocol], None],
                 failed: Callable[[str], None]) -> None:
        self.factory = factory
        self.connected = connected
        self.failed = failed

    def buildProtocol(self, addr: Any) -> CallSignallingProtocol:
        edge = CallSignallingProtocol(self.factory)
        edge.on_connected = self.connected
        return edge

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.failed(f"cannot connect: {reason.getErrorMessage()}")


class CallSignallingFactory(protocol.ServerFactory):
    """The listening side of call signalling: one `CallSignallingProtocol` a connection."""

    def __init__(self, reactor: Any, bridge: CallSignallingBridge, *,
                 settings: CallSignallingSettings | None = None, trace: H323Trace | None = None,
                 max_connections: int = MAX_CONNECTIONS,
                 codec: Callable[[], CallSignalCodec] = CallSignalCodec) -> None:
        self.reactor = reactor
        self.bridge = bridge
        self.settings = settings if settings is not None else CallSignallingSettings()
        self.trace = trace
        self.codec = codec()
        self.max_connections = max_connections
        self.connections: set[CallSignallingProtocol] = set()
        self.h245_connections: set[H245Connection] = set()
        self.log_budget = LogBudget()

    def buildProtocol(self, addr: Any) -> CallSignallingProtocol | None:
        if len(self.connections) >= self.max_connections:
            if self.log_budget.allow(float(self.reactor.seconds())):
                log.warn("H.323 call signalling from {peer} refused: {n} connections open",
                         peer=f"{addr.host}:{addr.port}", n=len(self.connections))
            return None
        return CallSignallingProtocol(self)

    def connect(self, address: TransportAddress, connected: Callable[[CallSignallingProtocol], None],
                failed: Callable[[str], None]) -> None:
        """Open a call signalling connection to `address` (a call we place): `connected` gets
        its edge, or `failed` says why not."""
        self.reactor.connectTCP(address.host, address.port,
                                _CallSignallingClientFactory(self, connected, failed),
                                timeout=H245_CONNECT_TIMEOUT)

    def close_all(self) -> None:
        """Drop every connection (shutdown, after the legs were released)."""
        for connection in list(self.h245_connections):
            connection.close()
        for edge in list(self.connections):
            if edge.transport is not None:
                edge.transport.loseConnection()


__all__ = ["CallEvent", "CallHandler", "CallSignallingBridge", "CallSignallingFactory",
           "CallSignallingProtocol", "H245Connection"]
