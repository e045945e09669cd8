"""The event stream's flow control and keep-alive (gateway.web.event_stream), in this process:
the real twisted.web site on a loopback TCP port and a real engine, the board's and the
keep-alive's time on a fake clock. A client that stops reading is dropped once its queue passes
the bound (the feed keeps no more than that for it), and the others go on."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from acdgate.acd import commands as cmd
from acdgate.acd.engine import Acd
from acdgate.acd.live_board import LiveBoard
from acdgate.acd.states import AgentState
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.web.event_stream import EventStream, LiveFeed
from twisted.internet import defer, protocol, reactor, task
from twisted.web import server

START = 1_800_000_000.0


class Reader(protocol.Protocol):
    """A client of the stream: sends the GET; `data` gathers what arrives; `reading=False`
    makes it stop reading its socket (the peer's buffers fill up)."""

    def __init__(self, reading: bool = True) -> None:
        self.data = b""
        self.reading = reading
        self.waiting: list[tuple[bytes, defer.Deferred[None]]] = []
        self.closed: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"GET /api/events HTTP/1.1\r\nHost: test\r\n\r\n")
        if not self.reading:
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        for wanted, d in list(self.waiting):
            if wanted in self.data:
                self.waiting.remove((wanted, d))
                d.callback(None)

    def seen(self, wanted: bytes) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        if wanted in self.data:
            d.callback(None)
        else:
            self.waiting.append((wanted, d))
        return d.addTimeout(10, reactor)  # type: ignore[arg-type]

    def connectionLost(self, reason: Any = None) -> None:
        self.closed.callback(None)


async def connect(port: Any, reader: Reader) -> Reader:
    await protocol.ClientCreator(reactor, lambda: reader).connectTCP("127.0.0.1", port.getHost().port)
    return reader


def feed_and_engine(clock: task.Clock, limit: int) -> tuple[LiveFeed, Acd]:
    site = load_site(None)
    acd = Acd(site)
    return LiveFeed(clock, LiveBoard(site, acd, clock.seconds()), client_buffer_bytes=limit), acd


@pytest_twisted.ensureDeferred
async def test_keepalive_every_15_seconds() -> None:
    clock = task.Clock()
    clock.advance(START)
    feed, _ = feed_and_engine(clock, 64 * 1024)
    port = reactor.listenTCP(0, server.Site(EventStream(feed)), interface="127.0.0.1")  # type: ignore[attr-defined]
    try:
        reader = await connect(port, Reader())
        await reader.seen(b"event: snapshot")
        clock.advance(14.9)
        assert len(feed.clients) == 1
        clock.advance(0.1)
        await reader.seen(b": keep-alive\n\n")
        feed.close()  # the gateway stops: the response ends (the last chunk of a chunked body)
        await reader.seen(b"\r\n0\r\n\r\n")
        reader.transport.loseConnection()  # type: ignore[union-attr]
        await reader.closed
        await task.deferLater(reactor, 0, lambda: None)  # the server side sees it go
    finally:
        await port.stopListening()
    assert feed.clients == []  # and the keep-alive timer stopped with the last client
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_a_client_that_stops_reading_is_dropped_and_the_others_go_on() -> None:
    clock = task.Clock()
    clock.advance(START)
    limit = 32 * 1024
    feed, acd = feed_and_engine(clock, limit)
    port = reactor.listenTCP(0, server.Site(EventStream(feed)), interface="127.0.0.1")  # type: ignore[attr-defined]
    try:
        stalled = await connect(port, Reader(reading=False))
        live = await connect(port, Reader())
        await live.seen(b"event: snapshot")
        while len(feed.clients) < 2:  # the stalled one's request is parsed on a later turn
            await task.deferLater(reactor, 0, lambda: None)
        acd.handle(cmd.Login("3000", "1234", "2101"), clock.seconds())
        slow = next(c for c in feed.clients if c.request.transport is not live.transport)
        # agent 3000 goes Ready and Not Ready until the stalled client's connection is full and
        # its queue passes the bound; each round lets the reactor write
        rounds = 0
        while slow in feed.clients:
            rounds += 1
            assert rounds < 20_000, "the stalled client was never dropped"
            state = AgentState.READY if rounds % 2 else AgentState.NOT_READY
            clock.advance(1)
            feed.publish(acd.handle(cmd.SetState("3000", state), clock.seconds()))
            assert slow.queued_bytes <= limit + 4096  # bounded: one batch over at most
            await task.deferLater(reactor, 0, lambda: None)
        stalled.transport.resumeProducing()  # type: ignore[union-attr]  # reads again: sees the end
        await stalled.closed  # aborted by the server
        assert slow.gone and slow.queued_bytes == 0
        # the reading client got every delta, the last one included
        last = f"id: {feed.board.last_id}\n".encode()
        await live.seen(last)
        assert feed.clients != [] and all(c is not slow for c in feed.clients)
        live.transport.loseConnection()  # type: ignore[union-attr]
        await live.closed
        await task.deferLater(reactor, 0, lambda: None)
    finally:
        await port.stopListening()
    assert feed.clients == []
