"""`GET /api/events`: the live wallboard's Server-Sent Events stream (WHATWG HTML 9.2).

`LiveFeed` listens to the ACD service (every committed batch of events), lets the pure
`acd.live_board.LiveBoard` turn it into deltas, and writes them to every connected client.
A client gets a snapshot first, or, reconnecting with `Last-Event-ID` (header, or the
`lastEventId` query parameter) that the board's ring still covers, only what it missed.

Nothing here waits: each client is a push producer of its connection (IPushProducer).
While its transport says the peer is not reading (`pauseProducing`), messages queue on the
client, up to `client_buffer_bytes`; past that the client is dropped (its connection
aborted), so a stalled screen costs a bounded amount of memory and never the reactor. A
comment line every `keepalive_seconds` keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from typing import Any

from acdgate.acd.events import Event
from acdgate.acd.live_board import BoardEvent, LiveBoard
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web import resource, server
from zope.interface import implementer

log = Logger(namespace="acdgate.http")

KEEPALIVE_SECONDS = 15.0
CLIENT_BUFFER_BYTES = 256 * 1024
RETRY_MS = 2000  # the reconnection time the stream asks browsers for (the `retry:` field)


def encode(event: BoardEvent) -> bytes:
    """One SSE message: `id:`, `event:` and one `data:` line of compact JSON."""
    data = json.dumps(event.data, separators=(",", ":"), sort_keys=True)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()


@implementer(IPushProducer)
class _Client:
    """One connected stream: writes through while the peer reads, queues (bounded) while not."""

    def __init__(self, feed: LiveFeed, request: server.Request, limit: int) -> None:
        self.feed = feed
        self.request = request
        self.limit = limit
        self.paused = False
        self.queued: deque[bytes] = deque()
        self.queued_bytes = 0
        self.gone = False

    def send(self, data: bytes) -> None:
        if self.gone:
            return
        if not self.paused:
            self.request.write(data)
            return
        self.queued.append(data)
        self.queued_bytes += len(data)
        if self.queued_bytes > self.limit:
            self.drop()

    def drop(self) -> None:
        """A client too slow to keep up: forget it and cut its connection."""
        peer: Any = self.request.getClientAddress()
        log.warn("event stream: dropped {peer}: {size} bytes unread", peer=getattr(peer, "host", peer),
                 size=self.queued_bytes)
        self.stopProducing()
        transport: Any = self.request.channel.transport if self.request.channel is not None else None
        if transport is not None:
            transport.abortConnection()

    # IPushProducer: the connection's flow control
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        while self.queued and not self.paused and not self.gone:
            data = self.queued.popleft()
            self.queued_bytes -= len(data)
            self.request.write(data)

    def stopProducing(self) -> None:
        self.gone = True
        self.queued.clear()
        self.queued_bytes = 0
        self.feed.detach(self)


class LiveFeed:
    """The board fed by the ACD service, and the clients its deltas go to."""

    def __init__(self, reactor: Any, board: LiveBoard, *, keepalive_seconds: float = KEEPALIVE_SECONDS,
                 client_buffer_bytes: int = CLIENT_BUFFER_BYTES) -> None:
        self.reactor = reactor
        self.board = board
        self.clients: list[_Client] = []
        self._limit = client_buffer_bytes
        self._keepalive_seconds = keepalive_seconds
        self._keepalive: LoopingCall | None = None

    def publish(self, events: list[Event]) -> None:
        """The ACD service's listener: one committed batch of events."""
        deltas = self.board.apply(events, self.reactor.seconds())
        if not deltas or not self.clients:
            return
        data = b"".join(encode(d) for d in deltas)
        for client in list(self.clients):
            client.send(data)

    def attach(self, request: server.Request, last_id: int | None) -> _Client:
        """Start streaming to `request`: what it missed since `last_id`, else a snapshot."""
        client = _Client(self, request, self._limit)
        request.registerProducer(client, True)
        request.notifyFinish().addBoth(lambda _: client.stopProducing())
        missed = self.board.since(last_id) if last_id is not None else None
        now = self.reactor.seconds()
        first: Sequence[BoardEvent] = missed if missed is not None else [self.board.snapshot(now)]
        client.send(f"retry: {RETRY_MS}\n\n".encode() + b"".join(encode(e) for e in first))
        self.clients.append(client)
        if self._keepalive is None:
            self._keepalive = LoopingCall(self._ping)
            self._keepalive.clock = self.reactor
            self._keepalive.start(self._keepalive_seconds, now=False)
        return client

    def detach(self, client: _Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
        if not self.clients:
            self.stop()

    def close(self) -> None:
        """The gateway stops: end every stream (browsers reconnect to whoever serves next)."""
        for client in list(self.clients):
            client.stopProducing()
            client.request.unregisterProducer()
            client.request.finish()
        self.stop()

    def stop(self) -> None:
        """Stop the keep-alive timer (nobody listens any more)."""
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None

    def _ping(self) -> None:
        for client in list(self.clients):
            client.send(b": keep-alive\n\n")


def _last_event_id(request: server.Request) -> int | None:
    """`Last-Event-ID` (the header browsers send on reconnecting, or `?lastEventId=`)."""
    raw = request.getHeader(b"last-event-id")
    if raw is None:
        values = (request.args or {}).get(b"lastEventId")
        raw = values[-1].decode(errors="replace") if values else None
    try:
        return int(raw) if raw else None
    except ValueError:
        return None  # not one of ours: a fresh snapshot


class EventStream(resource.Resource):
    """The `/api/events` resource (the token, when the site sets one, is checked by `Root`)."""

    isLeaf = True

    def __init__(self, feed: LiveFeed) -> None:
        super().__init__()
        self.feed = feed

    def render_GET(self, request: server.Request) -> int:
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-accel-buffering", b"no")  # nginx: pass each message on at once
        self.feed.attach(request, _last_event_id(request))
        return server.NOT_DONE_YET

    def render_HEAD(self, request: server.Request) -> bytes:
        """The headers a GET would have; no stream (twisted.web would otherwise run GET)."""
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return b""
