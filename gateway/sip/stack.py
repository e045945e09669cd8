"""The SIP stack's I/O edge: sockets, timers and the trace, around the sans-IO engines.

`SipStack` owns the UDP, TCP and TLS listeners, feeds every datagram or framed stream
message to the parser and the transaction layer, carries out the actions they return
(send these bytes, start this timer, deliver this request), and hands requests to a
`SipHandler` (the transaction user). It is the only SIP code that touches the reactor.
"""

from __future__ import annotations

import fcntl
import heapq
import ipaddress
import itertools
import re
import socket
import struct
import termios
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Protocol

from acdgate.gateway.sip.message import Request, Response, make_response, parse_via
from acdgate.gateway.sip.message_counts import MessageCounts
from acdgate.gateway.sip.parser import MAX_MESSAGE_BYTES, ParseError, StreamFramer, parse_message
from acdgate.gateway.sip.register_scan import RegisterScan, scan_register
from acdgate.gateway.sip.stateless import RecentAnswers, request_identity, transaction_identity
from acdgate.gateway.sip.trace import SipTrace
from acdgate.gateway.sip.transaction_actions import (
    Action,
    Address,
    CancelTimer,
    DeliverRequest,
    DeliverResponse,
    Dropped,
    SendMessage,
    StartTimer,
    TimerName,
    TransactionTerminated,
    TransactionTimeout,
    TransportFailed,
)
from acdgate.gateway.sip.transaction_layer import TransactionLayer
from acdgate.gateway.sip.via import response_address, with_received
from twisted.internet import defer, protocol
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IReactorTime
from twisted.logger import Logger

log = Logger(namespace="acdgate.sip")


# A plain class, not a dataclass: compiled by mypyc (setup.py) its __init__ is native, where a
# dataclass keeps the generated, interpreted one (~15x the cost; one of these per REGISTER).
class Incoming:
    """Where a request came from: the peer's address and the transport it used (read-only)."""

    __slots__ = ("source", "stateless_identity", "transaction_key", "transport")

    def __init__(self, source: Address, transport: str, transaction_key: str | None,
                 stateless_identity: str | None = None) -> None:
        self.source: Final = source
        self.transport: Final = transport  # "UDP" | "TCP" | "TLS"
        self.transaction_key: Final = transaction_key
        # taken statelessly (no server transaction): the request's identity, which
        # `SipStack.reply_statelessly` keeps the answer under for retransmissions
        self.stateless_identity: Final = stateless_identity

    def __repr__(self) -> str:
        return (f"Incoming({self.source!r}, {self.transport!r}, {self.transaction_key!r}, "
                f"{self.stateless_identity!r})")


class SipHandler(Protocol):
    """The transaction user: gets each new request and answers it through `SipStack.respond`.

    A plain REGISTER over UDP may first be offered, unparsed, to its
    `take_scanned_register(scan, incoming) -> bool` (`register_scan.scan_register` read it), which
    answers with `SipStack.reply_scanned` or declines (False: it is parsed and goes on below).

    It may also have `take_statelessly(request, incoming) -> bool` and the set
    `stateless_methods` it applies to: a request of those methods is offered there first, and
    when the TU takes it (True) no server transaction is made; the TU answers it, now or later,
    with `SipStack.reply_statelessly` (RFC 3261 8.2.7, stateless UAS behaviour, as registrars
    such as Kamailio's answer REGISTER). The stack absorbs retransmissions while the answer is
    pending and resends the answer's bytes to later ones (`sip.stateless.RecentAnswers`), so a
    retransmission is never processed twice. Requests of other methods skip that step entirely.
    """

    def request_received(self, request: Request, incoming: Incoming) -> None: ...


class TransactionFailed(Exception):
    """A client transaction got no final response (Timer B/F) or could not be sent."""


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Bounds on SIP over TCP and TLS (the site's `[sip]` keys of the same names).

    A connection with no traffic for `idle_seconds` is closed unless a registration flows over
    it (a 2xx to a REGISTER went out on it and the binding has not expired); RFC 5626 CRLF
    keep-alives are traffic. Connections beyond `max_connections` in all, or beyond
    `max_per_source` from one host, are refused as they are accepted.
    """

    idle_seconds: float = 120.0  # 0: never closed for idleness
    max_connections: int = 4096
    max_per_source: int = 64


class OncePerInterval:
    """Counts an event and says when to log it: the first at once, then at most one line per
    `seconds` with how many happened meanwhile (one warning for a flood, not a line each)."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds
        self.total = 0
        self._unlogged = 0
        self._logged_at = float("-inf")

    def note(self, now: float) -> int:
        """Count one; the number to log now (this one and those not logged yet), 0 for none."""
        self.total += 1
        self._unlogged += 1
        if now - self._logged_at < self.seconds:
            return 0
        count, self._unlogged, self._logged_at = self._unlogged, 0, now
        return count


# the expires parameter of a Contact in a 2xx to a REGISTER (RFC 3261 10.3 step 8)
_CONTACT_EXPIRES = re.compile(r";\s*expires\s*=\s*(\d{1,10})", re.IGNORECASE)


def _registered_for(response: Response) -> float:
    """How long a 2xx to a REGISTER keeps a binding (the longest Contact expires), else 0."""
    if not 200 <= response.status < 300:
        return 0.0
    try:
        cseq = response.cseq
    except ValueError:
        return 0.0
    if cseq is None or cseq[1] != "REGISTER":
        return 0.0
    found = [int(m[1]) for v in response.headers.get_all("Contact") for m in _CONTACT_EXPIRES.finditer(v)]
    return float(max(found, default=0))


class SipStack:
    """Listeners, parser, transaction layer and timers, wired to a reactor."""

    def __init__(
        self,
        reactor: Any,
        handler: SipHandler,
        *,
        trace: SipTrace | None = None,
        layer: TransactionLayer | None = None,
        limits: StreamLimits | None = None,
    ) -> None:
        self.reactor = reactor
        self.limits = limits if limits is not None else StreamLimits()
        self.handler = handler
        self.trace = trace
        self.layer = layer if layer is not None else TransactionLayer()
        # Transaction timers: the due time of each running timer, per transaction, and one heap
        # of (due, seq, key, name) behind a single reactor call for the earliest. A DelayedCall
        # per timer cost a tenth of a registration (two transactions, each with Timer J).
        # Cancelled or restarted timers stay in the heap and are skipped when they surface.
        self._timers: dict[str, dict[TimerName, float]] = {}
        self._due: list[tuple[float, int, str, TimerName]] = []
        self._due_seq = itertools.count()
        self._wake: IDelayedCall | None = None
        self._wake_at = 0.0
        self._pending: dict[str, defer.Deferred[Response]] = {}
        self._listeners: dict[str, Callable[[Response], None]] = {}
        self._streams: dict[Address, _StreamProtocol] = {}
        self._open_by_host: dict[str, int] = {}  # accepted TCP/TLS connections per peer host
        self.open_streams = 0  # accepted TCP/TLS connections now, for /metrics
        self.refused_streams = OncePerInterval()  # refused at accept (caps), for the log and /metrics
        self.idle_closed = 0  # closed for idleness, since start
        self.dropped_messages = OncePerInterval()  # unanswerable messages dropped, for the log
        self._udp: _UdpProtocol | None = None
        self._udp_fd = -1  # the UDP socket's descriptor, for `input_pending`
        self._ports: list[IListeningPort] = []
        self.local_address: Address = ("127.0.0.1", 5060)
        self.stats: dict[str, int] = {
            "received": 0, "sent": 0, "parse_errors": 0, "dropped": 0,
            "scanned": 0,  # plain REGISTERs answered unparsed
            "queued": 0,  # UDP datagrams that waited in the backlog (overload; _UdpProtocol)
            "absorbed": 0,  # ... dropped on arrival: a copy was already waiting there
            "overflow": 0,  # ... dropped on arrival: the backlog was full
        }  # fmt: skip
        self.counts = MessageCounts()  # requests and responses in and out, for /metrics
        self._take_statelessly: Callable[[Request, Incoming], bool] | None = getattr(
            handler, "take_statelessly", None
        )
        self._take_scanned: Callable[[RegisterScan, Incoming], bool] | None = getattr(
            handler, "take_scanned_register", None
        )
        self._stateless_methods: frozenset[str] = frozenset(getattr(handler, "stateless_methods", ()))
        # the TU's authentication throttle: requests from a blocked host get nothing at all
        self._source_blocked: Callable[[str], bool] | None = getattr(handler, "source_blocked", None)
        self._stateless_sent = RecentAnswers()

    # -- listening ---------------------------------------------------------------------

    def listen(self, bind: str, port: int, *, tls_port: int | None = None, tls_context: object = None) -> int:
        """Listen for SIP on UDP and TCP at `bind:port` (and TLS); returns the port (for port 0)."""
        # Port 0 (tests, tools): the kernel picks the UDP port, and TCP must get the same
        # number; when that TCP port is taken, start again with another UDP port.
        for attempt in range(20 if port == 0 else 1):
            self._udp = _UdpProtocol(self)
            # read one byte beyond the limit: a datagram is never cut short unnoticed
            udp_port = self.reactor.listenUDP(port, self._udp, interface=bind,
                                              maxPacketSize=MAX_MESSAGE_BYTES + 1)
            actual = int(udp_port.getHost().port)
            try:
                tcp_port = self.reactor.listenTCP(actual, _StreamFactory(self, "TCP"), interface=bind)
            except CannotListenError:
                udp_port.stopListening()
                if port != 0 or attempt == 19:
                    raise
                continue
            break
        self._ports += [udp_port, tcp_port]
        _enlarge_receive_buffer(udp_port)
        sock = getattr(udp_port, "socket", None)
        self._udp_fd = sock.fileno() if sock is not None else -1
        if tls_port is not None and tls_context is not None:
            self._ports.append(
                self.reactor.listenSSL(tls_port, _StreamFactory(self, "TLS"), tls_context, interface=bind)
            )
        self.local_address = (bind if bind not in ("0.0.0.0", "::") else "127.0.0.1", actual)
        return actual

    def stop(self) -> defer.Deferred[None]:
        """Stop listening, drop connections, cancel timers and pending requests."""
        if self._wake is not None and self._wake.active():
            self._wake.cancel()
        self._wake = None
        self._timers.clear()
        self._due.clear()
        for d in list(self._pending.values()):
            d.errback(TransactionFailed("stack stopped"))
        self._pending.clear()
        self._listeners.clear()
        for stream in list(self._streams.values()):
            stream.cancel_idle_timer()
            if stream.transport is not None:
                stream.transport.loseConnection()
        self._udp_fd = -1  # closing: the number may name another socket soon
        if self._udp is not None:
            self._udp.discard_backlog()
        stops = [defer.maybeDeferred(p.stopListening) for p in self._ports]
        self._ports.clear()
        done: defer.Deferred[Any] = defer.gatherResults(stops, consumeErrors=True)
        return done.addCallback(lambda _: None)

    # -- the TU's calls ----------------------------------------------------------------

    def respond(self, request: Request, status: int, reason: str | None = None, *,
                headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                to_tag: str | None = None) -> Response:
        """Answer `request` through its server transaction; returns the response sent."""
        response = make_response(request, status, reason, to_tag=to_tag)
        for name, value in headers or ():
            response.headers.add(name, value)
        if body:
            response.body = body
        self.send_response(response)
        return response

    def send_response(self, response: Response, transaction_key: str | None = None) -> None:
        """Send a response built by the TU through the transaction layer (its server
        transaction found by `transaction_key`, from `Incoming`, else by Via and CSeq)."""
        self._run(self.layer.send_response(response, self.reactor.seconds(), transaction_key))

    def send_request(self, request: Request, destination: Address, transport: str = "UDP", *,
                     on_response: Callable[[Response], None] | None = None) -> defer.Deferred[Response]:
        """Send a request in a client transaction; fires with the final response.

        `on_response` also sees the provisional responses and, for an INVITE, the 2xx
        retransmissions and forked 2xx that RFC 6026 passes up (the TU re-ACKs those).
        Fails with TransactionFailed on Timer B/F or a transport error.
        """
        reliable = transport != "UDP"
        key, actions = self.layer.send_request(request, destination, reliable, self.reactor.seconds())
        d: defer.Deferred[Response] = defer.Deferred()
        self._pending[key] = d
        if on_response is not None:
            self._listeners[key] = on_response
        self._run(actions, transport_hint=transport)
        return d

    def send_stateless(self, request: Request, destination: Address, transport: str = "UDP") -> bool:
        """Send a request outside any transaction: the ACK for a 2xx (RFC 3261 13.2.2.4)."""
        return self._send(request, destination, transport)

    def via_for(self, transport: str = "UDP") -> str:
        """A Via value naming this stack (sent-by) for requests we originate."""
        host, port = self.local_address
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"SIP/2.0/{transport} {host}:{port};rport"

    def input_pending(self) -> bool:
        """More UDP datagrams wait (in the backlog or the SIP socket): the reader is coming
        back at once."""
        if self._udp_fd < 0:
            return False
        if self._udp is not None and self._udp.backlog:
            return True
        try:
            # Linux FIONREAD on a datagram socket: the size of the next datagram, 0 for none
            return fcntl.ioctl(self._udp_fd, termios.FIONREAD, _NO_BYTES) != _NO_BYTES
        except OSError:  # closed meanwhile (stop)
            return False

    # -- input -------------------------------------------------------------------------

    def datagram_received(self, data: bytes, source: Address, transport: str,
                          stream: _StreamProtocol | None = None, received_at: float | None = None) -> None:
        """One UDP datagram (or one framed stream message's bytes): parse and dispatch.
        `received_at`: when a datagram handled later than it was read (the backlog) was read."""
        self._trace(data, source, self._local_for(stream), transport)
        if transport == "UDP" and self._take_scanned is not None and data.startswith(b"REGISTER "):
            scan = scan_register(data, source)
            if scan is not None and self._answered_scanned(scan, source, received_at):
                return
        self.message_received(parse_message(data), source, transport, received_at)

    def _answered_scanned(self, scan: RegisterScan, source: Address, received_at: float | None) -> bool:
        """Offer a plain REGISTER read by `scan_register` to the TU, statelessly as
        `_answered_statelessly` does for a parsed one (and keyed the same way, so either path
        absorbs the other's retransmissions); False: parse it and go the general way."""
        assert self._take_scanned is not None
        identity = scan.identity
        if self._answered_before(identity, received_at):
            self.stats["received"] += 1
            self.counts.request_received("REGISTER")
            return True
        try:
            taken = self._take_scanned(scan, Incoming(source, "UDP", None, identity))
        except Exception:  # the TU's bug must not take the stack down: the general way answers
            log.failure("handler failed on a scanned REGISTER from {peer}", peer=_fmt(source))
            taken = False
        if taken:
            self.stats["received"] += 1
            self.stats["scanned"] += 1
            self.counts.request_received("REGISTER")
        else:
            self._stateless_sent.forget(identity)
        return taken

    def _answered_before(self, identity: str, received_at: float | None = None) -> bool:
        """A retransmission of a request answered statelessly: send its answer's bytes again.
        Absorbed instead (RFC 3261 17.2.2: a retransmission received in the Trying state is
        discarded) while the answer is pending, or when the retransmission was read before the
        answer was sent (`received_at`: it waited in the backlog; the client will get that
        answer). Otherwise mark `identity` as being answered and return False."""
        now = self.reactor.seconds()
        sent = self._stateless_sent.answer_to(identity, now)
        if sent is None:
            self._stateless_sent.expect(identity, now)
            return False
        data, destination, transport, sent_at = sent
        if data and (received_at is None or received_at >= sent_at):
            self._send_data(data, destination, transport, "a stateless answer again")
        return True

    def reply_scanned(self, incoming: Incoming, data: bytes, destination: Address) -> None:
        """Send the answer to a request taken by `take_scanned_register`; its bytes are kept
        for the request's retransmissions."""
        identity = incoming.stateless_identity
        if self._send_data(data, destination, "UDP", "an answer to a REGISTER") and identity:
            self._stateless_sent.remember(identity, data, destination, "UDP", self.reactor.seconds())

    def message_received(self, message: Request | Response | ParseError, source: Address, transport: str,
                         received_at: float | None = None) -> None:
        """A parsed message (or a parse error) from `source`."""
        self.stats["received"] += 1
        if isinstance(message, ParseError):
            self.stats["parse_errors"] += 1
            if message.answerable and message.request is not None:
                # 513 Message Too Large (RFC 3261 21.5.14); any other defect as before, 400
                status = 513 if message.status == 513 else 400
                log.warn("{status} to {peer}: {reason} (Call-ID {call_id})", status=status, peer=_fmt(source),
                         reason=message.reason, call_id=message.request.call_id)
                request = _with_received(message.request, source)
                if request.method != "ACK":
                    response = make_response(request, status, _phrase(message.reason))
                    self._send(response, self._response_destination(response, source) or source, transport)
            else:
                count = self.dropped_messages.note(self.reactor.seconds())
                if count:
                    log.warn("dropped {count} unanswerable message(s), the last from {peer}: {reason} "
                             "(at most one such line a minute)", count=count, peer=_fmt(source),
                             reason=message.reason)
            return
        if isinstance(message, Response):
            self.counts.response_received(message.status)
        else:
            self.counts.request_received(message.method)
            if self._source_blocked is not None and self._source_blocked(source[0]):
                # no transaction, no 100 Trying, no answer: nothing to amplify, no confirmation
                self.stats["dropped"] += 1
                return
            message = _with_received(message, source)
            if self._take_statelessly is not None and message.method in self._stateless_methods:
                if self._answered_statelessly(message, source, transport, received_at):
                    return
            elif message.method == "ACK" and self._acks_stateless_answer(message):
                return
        self._run(self.layer.receive(message, source, transport != "UDP", self.reactor.seconds()),
                  transport_hint=transport, source=source)

    def _answered_statelessly(self, request: Request, source: Address, transport: str,
                              received_at: float | None = None) -> bool:
        """RFC 3261 8.2.7: offer the request to the TU to answer without a server transaction.

        A retransmission of a request taken so is absorbed while its answer is pending (as a
        non-INVITE server transaction in Trying would, 17.2.2) and gets the answer's bytes again
        afterwards, so the TU never processes one request twice (an authenticated REGISTER
        replayed would fail its nonce-count check)."""
        assert self._take_statelessly is not None
        identity = request_identity(request)
        if identity is None:
            return False
        if self._answered_before(identity, received_at):
            return True
        incoming = Incoming(source, transport, None, identity)
        try:
            taken = self._take_statelessly(request, incoming)
        except Exception:  # the TU's bug must not take the stack down
            log.failure("handler failed on {what} from {peer}", what=_describe(request), peer=_fmt(source))
            self.reply_statelessly(incoming, make_response(request, 500, "Server Internal Error"))
            return True
        if not taken:
            self._stateless_sent.forget(identity)
        return taken

    def _acks_stateless_answer(self, ack: Request) -> bool:
        """An ACK for a non-2xx answer we sent statelessly to an INVITE (same branch and CSeq
        number, RFC 3261 17.1.1.3): absorbed, as the INVITE server transaction would (17.2.1)."""
        try:
            via = ack.top_via
            cseq = ack.cseq
        except ValueError:
            return False
        if via is None or cseq is None or not self._stateless_sent:
            return False
        identity = transaction_identity(via.branch, via.host, via.port, cseq[0], "INVITE", ack.call_id, False)
        return self._stateless_sent.answer_to(identity, self.reactor.seconds()) is not None

    def reply_statelessly(self, incoming: Incoming, response: Response) -> None:
        """Send the answer to a request the TU took statelessly (RFC 3261 18.2.2 routing: Via
        received/rport); over UDP its bytes are kept for the request's retransmissions."""
        destination = self._response_destination(response, incoming.source)
        if destination is None:
            log.warn("no destination for {what}", what=_describe(response))
            return
        data = response.to_bytes()
        identity = incoming.stateless_identity
        transport = incoming.transport
        if transport != "UDP":
            destination = incoming.source  # RFC 3261 18.2.2: the connection the request came on
        if not self._send_data(data, destination, transport, response) or identity is None:
            return
        if transport == "UDP":
            self._stateless_sent.remember(identity, data, destination, transport, self.reactor.seconds())
        else:
            self._stateless_sent.forget(identity)  # a reliable transport does not retransmit

    # -- actions -----------------------------------------------------------------------

    def _run(self, actions: list[Action], *, transport_hint: str = "UDP", source: Address | None = None) -> None:
        for action in actions:
            if isinstance(action, SendMessage):
                msg = action.message
                if isinstance(msg, Response):
                    via = msg.top_via
                    transport = via.transport if via is not None else transport_hint
                    dest = self._response_destination(msg, source)
                else:
                    transport = transport_hint
                    dest = action.destination
                if dest is None:
                    log.warn("no destination for {what}", what=_describe(msg))
                    continue
                if not self._send(msg, dest, transport) and action.transaction_key is not None:
                    self._run(self.layer.transport_error(action.transaction_key, self.reactor.seconds()))
            elif isinstance(action, StartTimer):
                self._start_timer(action)
            elif isinstance(action, CancelTimer):
                running = self._timers.get(action.transaction_key)
                if running is not None:
                    running.pop(action.name, None)
            elif isinstance(action, DeliverRequest):
                incoming = Incoming(action.source, transport_hint, action.transaction_key)
                if action.request.method == "CANCEL" and action.transaction_key is not None:
                    self._handle_cancel(action)
                    continue
                try:
                    self.handler.request_received(action.request, incoming)
                except Exception:  # the TU's bug must not take the stack down
                    log.failure("handler failed on {what} from {peer}", what=_describe(action.request),
                                peer=_fmt(action.source))
                    if action.transaction_key is not None and action.request.method != "ACK":
                        self.respond(action.request, 500, "Server Internal Error")
            elif isinstance(action, DeliverResponse):
                listener = self._listeners.get(action.transaction_key)
                if listener is not None:
                    try:
                        listener(action.response)
                    except Exception:  # the TU's bug must not take the stack down
                        log.failure("response listener failed on {what}", what=_describe(action.response))
                if action.response.status >= 200:
                    d = self._pending.pop(action.transaction_key, None)
                    if d is not None:
                        d.callback(action.response)
            elif isinstance(action, TransactionTimeout | TransportFailed):
                d = self._pending.pop(action.transaction_key, None)
                if d is not None:
                    d.errback(TransactionFailed(type(action).__name__))
            elif isinstance(action, TransactionTerminated):
                self._listeners.pop(action.transaction_key, None)
                self._timers.pop(action.transaction_key, None)
            elif isinstance(action, Dropped):
                self.stats["dropped"] += 1
                log.debug("dropped: {reason}", reason=action.reason)

    def _handle_cancel(self, action: DeliverRequest) -> None:
        """RFC 3261 9.2: 200 to the CANCEL; the INVITE's 487 is the TU's (no calls yet: 481)."""
        request = action.request
        if action.cancels is None:
            self.respond(request, 481, "Call/Transaction Does Not Exist")
            return
        self.respond(request, 200)
        cancel_handler: Callable[[str], None] | None = getattr(self.handler, "invite_cancelled", None)
        if cancel_handler is not None:
            cancel_handler(action.cancels)

    def _start_timer(self, action: StartTimer) -> None:
        key, at = action.transaction_key, action.at
        running = self._timers.get(key)
        if running is None:
            self._timers[key] = running = {}
        running[action.name] = at  # a restart replaces the due time: the old entry is skipped
        heapq.heappush(self._due, (at, next(self._due_seq), key, action.name))
        if self._wake is None or at < self._wake_at:
            self._arm(at)

    def _arm(self, at: float) -> None:
        """One reactor call, at the earliest due time."""
        if self._wake is not None and self._wake.active():
            self._wake.cancel()
        self._wake_at = at
        self._wake = self.reactor.callLater(max(0.0, at - self.reactor.seconds()), self._fire_due)

    def _fire_due(self) -> None:
        self._wake = None
        due = self._due
        while due:
            now = self.reactor.seconds()
            at, _, key, name = due[0]
            if at > now:
                self._arm(at)
                return
            heapq.heappop(due)
            running = self._timers.get(key)
            if running is None or running.get(name) != at:
                continue  # cancelled, restarted, or its transaction ended
            del running[name]
            if not running:
                del self._timers[key]
            self._run(self.layer.timer_fired(key, name, now))

    # -- output ------------------------------------------------------------------------

    def _response_destination(self, response: Response, source: Address | None) -> Address | None:
        """RFC 3261 18.2.2 with RFC 3581: reply to received/rport, else sent-by."""
        via = response.top_via
        if via is None:
            return source
        return response_address(via)

    def _send(self, message: Request | Response, dest: Address, transport: str) -> bool:
        return self._send_data(message.to_bytes(), dest, transport, message)

    def _send_data(self, data: bytes, dest: Address, transport: str, what: Request | Response | str) -> bool:
        """Send serialised bytes; `what` names them in a log line if they cannot go."""
        if transport == "UDP":
            if self._udp is None or self._udp.transport is None:
                return False
            port: Any = self._udp.transport
            try:
                sock = getattr(port, "socket", None)
                if sock is not None and _is_ip_literal(dest[0]):
                    # the socket's own sendto: Twisted's Port.write checks the address again
                    # on every datagram (a tenth of a registration's CPU went to writing)
                    sock.sendto(data, dest)
                else:
                    port.write(data, dest)
            except OSError as exc:
                log.warn("send to {peer} failed: {error}", peer=_fmt(dest), error=exc)
                return False
            self._trace(data, self._local_for(None), dest, "UDP")
        else:
            stream = self._streams.get(dest)
            if stream is None or stream.transport is None:
                log.warn("no {transport} connection to {peer} for {what}", transport=transport,
                         peer=_fmt(dest), what=what if isinstance(what, str) else _describe(what))
                return False
            stream.transport.write(data)
            if isinstance(what, Response):
                kept = _registered_for(what)
                if kept:  # a registration flows over it: not closed for idleness meanwhile
                    stream.registered_until = self.reactor.seconds() + kept
            self._trace(data, self._local_for(stream), dest, stream.kind)
        self.stats["sent"] += 1
        self.counts.sent(data)
        return True

    def _local_for(self, stream: _StreamProtocol | None) -> Address:
        if stream is not None and stream.transport is not None:
            host: Any = stream.transport.getHost()
            return (str(host.host), int(host.port))
        return self.local_address

    def _trace(self, data: bytes, src: Address, dst: Address, transport: str) -> None:
        if self.trace is not None:
            self.trace.record(data, src, dst, transport, self.reactor.seconds())

    # -- stream bookkeeping ------------------------------------------------------------

    def stream_accepted(self, host: str, kind: str) -> bool:
        """A TCP/TLS connection from `host` is being accepted: whether it may stay (the caps)."""
        limits = self.limits
        if self.open_streams >= limits.max_connections or self._open_by_host.get(host, 0) >= limits.max_per_source:
            count = self.refused_streams.note(self.reactor.seconds())
            if count:
                log.warn("refused {count} {transport} connection(s), the last from {host}: {open} open "
                         "(at most {most} in all, {per} per source); at most one such line a minute",
                         count=count, transport=kind, host=host, open=self.open_streams,
                         most=limits.max_connections, per=limits.max_per_source)
            return False
        return True

    def stream_opened(self, stream: _StreamProtocol, peer: Address) -> None:
        self._streams[peer] = stream
        self.open_streams += 1
        self._open_by_host[peer[0]] = self._open_by_host.get(peer[0], 0) + 1

    def stream_closed(self, peer: Address, stream: _StreamProtocol) -> None:
        if self._streams.get(peer) is stream:
            del self._streams[peer]
        self.open_streams -= 1
        left = self._open_by_host.get(peer[0], 0) - 1
        if left > 0:
            self._open_by_host[peer[0]] = left
        else:
            self._open_by_host.pop(peer[0], None)


# Bursts of REGISTERs (a site's phones after a power cut) overflow the default ~208 KB buffer,
# the kernel drops datagrams and the phones retransmit only after T1; ask for 4 MB.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


_NO_BYTES = b"\0\0\0\0"  # FIONREAD's int, zero


def _enlarge_receive_buffer(port: Any) -> None:
    """Best effort: a larger SO_RCVBUF on the SIP UDP socket; logs what the kernel granted."""
    sock = getattr(port, "socket", None)
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        granted = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    except OSError as exc:
        log.warn("cannot enlarge the SIP UDP receive buffer: {error}", error=exc)
        return
    # Linux reports twice the size asked for (bookkeeping overhead), capped by net.core.rmem_max
    if granted < UDP_RECEIVE_BUFFER:
        log.warn("SIP UDP receive buffer is {granted} bytes (asked {wanted}; raise net.core.rmem_max)",
                 granted=granted, wanted=UDP_RECEIVE_BUFFER)
    else:
        log.info("SIP UDP receive buffer is {granted} bytes", granted=granted)


@lru_cache(maxsize=1024)
def _is_ip_literal(host: str) -> bool:
    """An IPv4 or IPv6 address, not a name (sendto would resolve a name, blocking)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _with_received(request: Request, source: Address) -> Request:
    """RFC 3261 18.2.1 and RFC 3581 4: record where the request really came from in the top Via
    (`via.with_received`); the request itself when nothing changes."""
    try:
        via = request.headers.parsed("Via", parse_via)  # cached: the parser checked it already
    except ValueError:
        return request
    if via is None:
        return request
    changed = with_received(via, source)
    if changed is not None:
        request.headers.replace_first("Via", changed[1], parse_via, changed[0])
    return request


def _phrase(reason: str) -> str:
    """A reason phrase: printable ASCII on one line."""
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in reason)
    return text[:120] or "Bad Request"


def _fmt(addr: Address | None) -> str:
    if addr is None:
        return "?"
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(message: Request | Response) -> str:
    if isinstance(message, Request):
        return f"{message.method} (Call-ID {message.call_id})"
    return f"{message.status} response (Call-ID {message.call_id})"


# Linux getsockopt(SOL_SOCKET, SO_MEMINFO) (not in Python's socket module): the socket's memory
# counters, of which the first two are the receive queue's bytes and its limit (SO_RCVBUF).
_SO_MEMINFO = 55
BACKLOG_LIMIT = 32768  # datagrams (~25 MB of REGISTERs); beyond it they are dropped, as the kernel does
_SLICE = 256  # backlog datagrams handled per reactor turn, so timers and commits keep running
_PROBE_EVERY = 32  # datagrams handled between looks at the kernel's queue


class _UdpProtocol(protocol.DatagramProtocol):
    """The SIP UDP socket's reader: each datagram is handled as it is read, except in overload.

    When the kernel's receive queue is found more than half full, everything waiting in it is
    read into `backlog` and handled from there, `_SLICE` a reactor turn, in arrival order (new
    datagrams queue behind). Reading a datagram costs a few microseconds and handling one tens,
    so a burst the kernel's few thousand datagrams of buffer would overflow (drops, then the
    clients' retransmissions on top: RFC 3261 17.1.2.2) is answered late instead; and a
    retransmission of a datagram still waiting is dropped on arrival rather than queued.
    """

    noisy = False

    def __init__(self, stack: SipStack) -> None:
        self.stack = stack
        self.backlog: deque[tuple[bytes, Address, float]] = deque()  # (datagram, source, read at)
        self._waiting: set[bytes] = set()  # the backlog's datagrams, to know a retransmission
        self._turn: IDelayedCall | None = None
        self._handled = 0
        self._probe = True  # SO_MEMINFO works here
        self.probe_every = _PROBE_EVERY  # (tests look at every datagram, in small slices)
        self.slice = _SLICE
        self.limit = BACKLOG_LIMIT
        self._overflowed = 0  # datagrams dropped since the backlog was last full

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if datagram.strip(b"\r\n") == b"":  # RFC 5626 4.4.1 keep-alive
            return
        if self.backlog:  # behind: in arrival order
            self._enqueue(datagram, (addr[0], addr[1]), self.stack.reactor.seconds())
            return
        self.stack.datagram_received(datagram, (addr[0], addr[1]), "UDP")
        self._handled += 1
        if self._handled % self.probe_every == 0 and self._kernel_queue_high():
            self._drain()

    def _kernel_queue_high(self) -> bool:
        """The socket's receive queue is more than half its limit."""
        sock = getattr(self.transport, "socket", None)
        if not self._probe or sock is None:
            return False
        try:
            queued, limit = struct.unpack_from("=II", sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 36))
        except (OSError, struct.error):  # not Linux: the kernel's buffer alone, as before
            self._probe = False
            return False
        return bool(queued * 2 > limit)

    def _drain(self) -> None:
        """Read everything the kernel holds into the backlog."""
        sock = getattr(self.transport, "socket", None)
        if sock is None:
            return
        size = int(getattr(self.transport, "maxPacketSize", 65535))
        read: list[tuple[bytes, Any]] = []
        room = self.limit - len(self.backlog)
        while len(read) < room:
            try:
                read.append(sock.recvfrom(size))
            except OSError:  # EAGAIN: empty (or an ICMP error reported on the socket)
                break
        now = self.stack.reactor.seconds()  # after the reads: no earlier than any of them arrived
        for datagram, addr in read:
            if datagram.strip(b"\r\n"):
                self._enqueue(datagram, (addr[0], addr[1]), now)

    def _enqueue(self, datagram: bytes, source: Address, read_at: float) -> None:
        stats = self.stack.stats
        if datagram in self._waiting:
            stats["absorbed"] += 1
            return
        if len(self.backlog) >= self.limit:
            if not self._overflowed:
                log.warn("SIP UDP backlog full ({limit} datagrams): dropping what arrives until it drains",
                         limit=self.limit)
            self._overflowed += 1
            stats["overflow"] += 1
            return
        self.backlog.append((datagram, source, read_at))
        self._waiting.add(datagram)
        stats["queued"] += 1
        self._come_back()

    def _come_back(self) -> None:
        """A turn of `_work` soon, if the backlog holds anything and none is due."""
        # (its own method: mypyc would narrow `self._turn` to None after `_work` sets it, and
        # check that at run time, though `_enqueue` may have set it since)
        if self.backlog and self._turn is None:
            self._turn = self.stack.reactor.callLater(0, self._work)

    def _work(self) -> None:
        """Handle a slice of the backlog; come back next turn for the rest."""
        self._turn = None
        backlog, waiting, stack = self.backlog, self._waiting, self.stack
        handled = 0
        while backlog and handled < self.slice:
            datagram, source, read_at = backlog.popleft()
            waiting.discard(datagram)
            stack.datagram_received(datagram, source, "UDP", None, read_at)
            handled += 1
            if handled % self.probe_every == 0 and self._kernel_queue_high():
                self._drain()
        if not backlog and self._overflowed:
            log.warn("SIP UDP backlog drained; {count} datagrams were dropped while it was full",
                     count=self._overflowed)
            self._overflowed = 0
        self._come_back()

    def discard_backlog(self) -> None:
        """Stopping: forget what waits."""
        if self._turn is not None and self._turn.active():
            self._turn.cancel()
        self._turn = None
        self.backlog.clear()
        self._waiting.clear()


class _StreamProtocol(protocol.Protocol):
    """One TCP or TLS connection: Content-Length framing, then the same path as UDP; closed
    after `StreamLimits.idle_seconds` without traffic unless a registration flows over it."""

    def __init__(self, stack: SipStack, kind: str, peer: Address = ("", 0)) -> None:
        self.stack = stack
        self.kind = kind
        self.framer = StreamFramer()
        self.peer: Address = peer
        self.last_traffic = 0.0
        self.registered_until = 0.0  # a binding registered over this connection lasts till then
        self._idle: IDelayedCall | None = None

    def connectionMade(self) -> None:
        assert self.transport is not None
        peer: Any = self.transport.getPeer()
        self.peer = (str(peer.host), int(peer.port))
        self.stack.stream_opened(self, self.peer)
        self.last_traffic = self.stack.reactor.seconds()
        if self.stack.limits.idle_seconds > 0:
            self._idle = self.stack.reactor.callLater(self.stack.limits.idle_seconds, self._idle_check)

    def _idle_check(self) -> None:
        """Close the connection if it carried nothing for the idle time and no registration."""
        self._idle = None
        now = self.stack.reactor.seconds()
        due = max(self.last_traffic + self.stack.limits.idle_seconds, self.registered_until)
        if now < due:
            self._idle = self.stack.reactor.callLater(due - now, self._idle_check)
            return
        self.stack.idle_closed += 1
        log.debug("closing idle {transport} connection from {peer}", transport=self.kind, peer=_fmt(self.peer))
        if self.transport is not None:
            self.transport.loseConnection()

    def cancel_idle_timer(self) -> None:
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None

    def dataReceived(self, data: bytes) -> None:
        self.last_traffic = self.stack.reactor.seconds()  # keep-alives included (RFC 5626 4.4.1)
        if data.strip(b"\r\n") == b"" and not self.framer_has_partial():
            # RFC 5626 4.4.1: CRLFCRLF ping gets a CRLF pong
            if data == b"\r\n\r\n" and self.transport is not None:
                self.transport.write(b"\r\n")
            return
        for message in self.framer.feed(data):
            if isinstance(message, ParseError):
                self.stack.message_received(message, self.peer, self.kind)
            else:
                self.stack._trace(message.to_bytes(), self.peer, self.stack._local_for(self), self.kind)
                self.stack.message_received(message, self.peer, self.kind)
        if self.framer.broken and self.transport is not None:
            log.warn("closing {transport} connection from {peer}: framing lost", transport=self.kind,
                     peer=_fmt(self.peer))
            self.transport.loseConnection()

    def framer_has_partial(self) -> bool:
        return bool(getattr(self.framer, "buffered", 0))

    def connectionLost(self, reason: Any = None) -> None:
        self.cancel_idle_timer()
        self.stack.stream_closed(self.peer, self)


class _RefusedStream(protocol.Protocol):
    """A connection over the caps: dropped as soon as it is made, before any TLS handshake."""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]


class _StreamFactory(protocol.ServerFactory):
    noisy = False

    def __init__(self, stack: SipStack, kind: str) -> None:
        self.stack = stack
        self.kind = kind

    def buildProtocol(self, addr: Any) -> protocol.Protocol:
        host = str(getattr(addr, "host", ""))
        if not self.stack.stream_accepted(host, self.kind):
            return _RefusedStream()
        return _StreamProtocol(self.stack, self.kind, (host, int(getattr(addr, "port", 0))))


__all__ = ["IReactorTime", "Incoming", "OncePerInterval", "SipHandler", "SipStack", "StreamLimits", "TransactionFailed"]
