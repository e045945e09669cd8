"""The SIP UDP reader under overload: a kernel receive queue found more than half full is read
into the stack's backlog and handled from there, in arrival order, with a retransmission of a
datagram still waiting dropped on arrival (stack._UdpProtocol)."""

from __future__ import annotations

import socket

import pytest_twisted
from acdgate.gateway.sip.message import Request
from acdgate.gateway.sip.stack import Incoming, SipStack
from twisted.internet import defer

COUNT = 100  # ~130 KB of kernel memory at ~1.3 KB a datagram: over half of the 200 KB granted


class _Answering:
    """Answers every request 200 and notes its Call-ID; fires `all_seen` at COUNT."""

    def __init__(self) -> None:
        self.stack: SipStack | None = None
        self.seen: list[str] = []
        self.all_seen: defer.Deferred[None] = defer.Deferred()

    def request_received(self, request: Request, incoming: Incoming) -> None:
        assert self.stack is not None
        self.stack.respond(request, 200)
        self.seen.append(str(request.call_id))
        if len(self.seen) == COUNT:
            self.all_seen.callback(None)


def _options(i: int, port: int) -> bytes:
    return (
        f"OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-b{i}\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=t{i}\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: backlog-{i}\r\n"
        f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: {'x' * 200}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_a_full_kernel_queue_is_read_into_the_backlog_and_every_request_answered() -> None:
    from twisted.internet import reactor

    handler = _Answering()
    stack = SipStack(reactor, handler)
    handler.stack = stack
    port = stack.listen("127.0.0.1", 0)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp = stack._udp
        assert udp is not None and udp.transport is not None
        udp.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 100_000)
        udp.probe_every = 1
        client.bind(("127.0.0.1", 0))
        me = client.getsockname()[1]
        # the reactor reads nothing until this coroutine waits: all of it queues in the kernel,
        # the 50th twice (a retransmission, sent while the first copy still waits)
        for i in range(COUNT):
            client.sendto(_options(i, me), ("127.0.0.1", port))
            if i == 50:
                client.sendto(_options(i, me), ("127.0.0.1", port))
        await _within(handler.all_seen, 10)
        assert handler.seen == [f"backlog-{i}" for i in range(COUNT)]  # arrival order, once each
        assert stack.stats["queued"] >= COUNT - 2  # all but the first one or two waited
        assert stack.stats["shed"] == 1  # the retransmission of a waiting datagram
        assert not udp.backlog
        client.settimeout(5)
        answers = [client.recv(4096) for _ in range(COUNT)]
        assert all(a.startswith(b"SIP/2.0 200 ") for a in answers)
    finally:
        client.close()
        await stack.stop()


async def _within(d: defer.Deferred[None], seconds: float) -> None:
    from twisted.internet import reactor

    d.addTimeout(seconds, reactor)
    await d
