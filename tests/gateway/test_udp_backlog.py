"""The SIP UDP reader under overload: a kernel receive queue found more than half full is read
into the stack's backlog and handled from there, in arrival order, a slice per reactor turn,
with a retransmission of a datagram still waiting dropped on arrival (stack._UdpProtocol)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, cast

import pytest
import pytest_twisted
from acdgate.gateway.sip.message import Request
from acdgate.gateway.sip.stack import Incoming, SipStack
from twisted.internet import defer
from twisted.logger import ILogObserver, globalLogPublisher

FIRST = 100  # ~130 KB of kernel memory at ~1.3 KB a datagram: over half of the 200 KB granted
SECOND = 90  # sent while the backlog is being worked through: over half again
COUNT = FIRST + SECOND


class _Answering:
    """Answers every request 200 and notes its Call-ID; on the 5th sends the second wave; fires
    `all_seen` at COUNT."""

    def __init__(self, client: socket.socket, port: int) -> None:
        self.client, self.port = client, port
        self.stack: SipStack | None = None
        self.seen: list[str] = []
        self.all_seen: defer.Deferred[None] = defer.Deferred()
        self.expected: dict[str, defer.Deferred[None]] = {}  # Call-ID -> fired when it comes

    def request_received(self, request: Request, incoming: Incoming) -> None:
        assert self.stack is not None
        self.stack.respond(request, 200)
        self.seen.append(str(request.call_id))
        if str(request.call_id) in self.expected:
            self.expected.pop(str(request.call_id)).callback(None)
        if len(self.seen) == 5:
            _send(self.client, self.port, range(FIRST, COUNT))
        if len(self.seen) == COUNT:
            self.all_seen.callback(None)


def _options(i: int, port: int) -> bytes:
    return (
        f"OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-b{i}\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=t{i}\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: backlog-{i}\r\n"
        f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: {'x' * 200}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _send(client: socket.socket, port: int, numbers: range) -> None:
    me = client.getsockname()[1]
    for i in numbers:
        client.sendto(_options(i, me), ("127.0.0.1", port))
        if i == 50:  # a retransmission, sent while the first copy still waits
            client.sendto(_options(i, me), ("127.0.0.1", port))


class _Log:
    """The log events while a test runs; `when(text)` fires at the first event whose format
    holds `text`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._waits: list[tuple[str, defer.Deferred[None]]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        text = str(event.get("log_format", ""))
        for wait in [w for w in self._waits if w[0] in text]:
            self._waits.remove(wait)
            wait[1].callback(None)

    def when(self, text: str) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        self._waits.append((text, d))
        return d

    def said(self, text: str) -> list[str]:
        return [str(e.get("log_format", "")) for e in self.events if text in str(e.get("log_format", ""))]

    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("log_failure") is not None or e.get("isError")]


@pytest.fixture
def log() -> Iterator[_Log]:
    recorder = _Log()
    observer = cast(ILogObserver, recorder)
    globalLogPublisher.addObserver(observer)
    yield recorder
    globalLogPublisher.removeObserver(observer)


@pytest.fixture
def client() -> Iterator[socket.socket]:
    """The phones' side: one UDP socket on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_a_full_kernel_queue_is_read_into_the_backlog_and_every_request_answered(
        client: socket.socket, log: _Log) -> None:
    from twisted.internet import reactor

    stack: SipStack | None = None
    try:
        handler = _Answering(client, 0)
        stack, udp = _listening(handler)
        # the reactor reads nothing until this coroutine waits: the first wave queues in the
        # kernel; the handler sends the second while the backlog is being worked through
        _send(client, handler.port, range(FIRST))
        handler.all_seen.addTimeout(10, reactor)
        await handler.all_seen
        assert handler.seen == [f"backlog-{i}" for i in range(COUNT)]  # arrival order, once each
        assert stack.stats["queued"] >= COUNT - 10  # all but the first one or few waited
        assert stack.stats["absorbed"] == 1  # the retransmission of a waiting datagram
        assert stack.stats["overflow"] == 0
        assert not udp.backlog
        assert not log.errors(), log.errors()
        client.settimeout(5)
        answers = [client.recv(4096) for _ in range(COUNT)]
        assert all(a.startswith(b"SIP/2.0 200 ") for a in answers)
    finally:
        if stack is not None:
            await stack.stop()


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_a_full_backlog_drops_what_arrives_says_so_and_recovers(
        client: socket.socket, log: _Log) -> None:
    from twisted.internet import reactor

    drained = log.when("backlog drained")
    stack: SipStack | None = None
    try:
        handler = _Answering(client, 0)
        stack, _ = _listening(handler, limit=20)
        _send(client, handler.port, range(FIRST))  # (the handler sends 90 more at the 5th)
        drained.addTimeout(10, reactor)
        await drained
        assert stack.stats["overflow"] > 0
        said = log.said("backlog")
        assert said[0].startswith("SIP UDP backlog full") and "drained" in said[-1], said
        kept = len(handler.seen)
        assert kept + stack.stats["overflow"] + stack.stats["absorbed"] == COUNT + 1, stack.stats
        # and it serves on: a new request is answered at once
        came = handler.expected["backlog-999"] = defer.Deferred()
        client.sendto(_options(999, client.getsockname()[1]), ("127.0.0.1", handler.port))
        came.addTimeout(5, reactor)
        await came
        client.settimeout(5)
        answers = [client.recv(4096) for _ in range(kept + 1)]
        assert b"Call-ID: backlog-999" in answers[-1] and answers[-1].startswith(b"SIP/2.0 200 ")
    finally:
        if stack is not None:
            await stack.stop()


class _Holding:
    """Takes OPTIONS statelessly and answers each at the end of the reactor turn, as the
    registrar holds answers for a group commit; when it takes #20 it sends a retransmission of
    #20 and 90 more requests, so the copy is read from the kernel while #20's answer is held."""

    stateless_methods = frozenset({"OPTIONS"})

    def __init__(self, client: socket.socket) -> None:
        self.client, self.port = client, 0
        self.stack: SipStack | None = None
        self.taken: list[str] = []
        self.held: list[tuple[Incoming, Any]] = []
        self.flushed = 0
        self.all_answered: defer.Deferred[None] = defer.Deferred()

    def request_received(self, request: Request, incoming: Incoming) -> None:
        raise AssertionError(f"not taken statelessly: {request.call_id}")

    def take_statelessly(self, request: Request, incoming: Incoming) -> bool:
        from acdgate.gateway.sip.message import make_response
        from twisted.internet import reactor

        assert self.stack is not None
        self.taken.append(str(request.call_id))
        if not self.held:
            reactor.callLater(0, self.flush)
        self.held.append((incoming, make_response(request, 200)))
        if request.call_id == "backlog-20":
            me = self.client.getsockname()[1]
            self.client.sendto(_options(20, me), ("127.0.0.1", self.port))
            _send(self.client, self.port, range(FIRST, COUNT))
        return True

    def flush(self) -> None:
        assert self.stack is not None
        held, self.held = self.held, []
        for incoming, response in held:
            self.stack.reply_statelessly(incoming, response)
        self.flushed += len(held)
        if self.flushed == COUNT and not self.all_answered.called:
            self.all_answered.callback(None)


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_a_retransmission_read_while_its_answer_was_held_is_absorbed_not_answered_again(
        client: socket.socket) -> None:
    from twisted.internet import reactor

    stack: SipStack | None = None
    try:
        handler = _Holding(client)
        stack, udp = _listening(handler)
        me = client.getsockname()[1]
        for i in range(FIRST):
            client.sendto(_options(i, me), ("127.0.0.1", handler.port))
        handler.all_answered.addTimeout(10, reactor)
        await handler.all_answered
        assert handler.taken == [f"backlog-{i}" for i in range(COUNT)]
        assert not udp.backlog and stack.stats["absorbed"] == 0  # the copy came after #20 left it
        # RFC 3261 17.2.2: the copy was received before #20's answer went out: discarded, so
        # the client has exactly one answer a request (a resend would already be here)
        client.setblocking(False)
        answers: list[bytes] = []
        while True:
            try:
                answers.append(client.recv(4096))
            except BlockingIOError:
                break
        call_ids = sorted(a.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0].decode() for a in answers)
        assert call_ids == sorted(f"backlog-{i}" for i in range(COUNT))
    finally:
        if stack is not None:
            await stack.stop()


def _listening(handler: _Answering | _Holding, limit: int | None = None) -> tuple[SipStack, Any]:
    """A stack for `handler` on a free loopback port with a small kernel buffer (~150 of these
    datagrams), looking at the kernel's queue after every datagram, 10 datagrams a turn."""
    from twisted.internet import reactor

    stack = SipStack(reactor, handler)
    handler.stack = stack
    handler.port = stack.listen("127.0.0.1", 0)
    udp = stack._udp
    assert udp is not None and udp.transport is not None
    udp.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 100_000)
    udp.probe_every, udp.slice = 1, 10
    if limit is not None:
        udp.limit = limit
    return stack, udp
