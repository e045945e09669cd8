"""The shared RTP reader: one reactor reader for every RTP socket, and its switch to polling
on a timer under load and back (real sockets on loopback, a fake reactor on a fake clock)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from acdgate.gateway.media.receiver import (
    BUSY_DATAGRAMS,
    IDLE_DATAGRAMS,
    POLL_S,
    RtpReceiver,
)
from twisted.internet import task


class FakeReactor(task.Clock):
    """A clock that also keeps the set of readers (what `RtpReceiver` asks of a reactor)."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: set[Any] = set()

    def addReader(self, reader: Any) -> None:
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:
        self.readers.discard(reader)


class Session:
    """Stands in for a MediaSession: keeps what it was handed."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, tuple[str, int], float]] = []

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        self.received.append((data, addr, now))


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    yield rx, tx
    rx.close()
    tx.close()


def send(tx: socket.socket, rx: socket.socket, count: int) -> None:
    for i in range(count):
        tx.sendto(b"\x80\x00" + i.to_bytes(2, "big") + bytes(168), rx.getsockname())


def test_one_reader_serves_each_ready_socket(sockets: tuple[socket.socket, socket.socket]) -> None:
    rx, tx = sockets
    reactor = FakeReactor()
    receiver = RtpReceiver(reactor)
    session = Session()
    receiver.add(rx, session)
    assert reactor.readers == {receiver}
    send(tx, rx, 1)
    reactor.advance(1.0)
    receiver.doRead()
    assert [(d[:4], a) for d, a, _ in session.received] == [(b"\x80\x00\x00\x00", tx.getsockname())]
    assert session.received[0][2] == 1.0, "arrival is the reactor's time"
    assert not receiver.polling
    receiver.remove(rx)
    assert reactor.readers == set()


def test_busy_traffic_switches_to_polling_and_quiet_switches_back(
        sockets: tuple[socket.socket, socket.socket]) -> None:
    rx, tx = sockets
    reactor = FakeReactor()
    receiver = RtpReceiver(reactor)
    session = Session()
    receiver.add(rx, session)
    # a burst in one window: each wakeup serves one datagram (one socket) until the window is busy
    send(tx, rx, BUSY_DATAGRAMS + 5)
    wakeups = 0
    while not receiver.polling:
        wakeups += 1
        assert wakeups <= BUSY_DATAGRAMS, "never switched to polling"
        receiver.doRead()
    assert wakeups == BUSY_DATAGRAMS
    assert reactor.readers == set(), "no wakeups while polling"
    assert [c.getTime() for c in reactor.getDelayedCalls()] == [POLL_S]
    # ticks drain one datagram a tick per socket; stay polling while a tick finds enough
    served = len(session.received)
    reactor.advance(POLL_S)
    assert len(session.received) == served + 1 and receiver.polling_ticks == 1
    assert IDLE_DATAGRAMS > 1, "one datagram a tick is a quiet tick"
    assert not receiver.polling and reactor.readers == {receiver}, "a quiet tick hands back to wakeups"
    assert reactor.getDelayedCalls() == []


def test_polling_stays_while_ticks_find_datagrams(sockets: tuple[socket.socket, socket.socket]) -> None:
    rx, tx = sockets
    extra = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(IDLE_DATAGRAMS)]
    try:
        reactor = FakeReactor()
        receiver = RtpReceiver(reactor)
        session = Session()
        for s in extra:
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
        for s in [rx, *extra]:
            receiver.add(s, session)
        send(tx, rx, BUSY_DATAGRAMS)
        while not receiver.polling:
            receiver.doRead()
        for s in extra:  # every socket has a datagram: a tick serves IDLE_DATAGRAMS or more
            send(tx, s, 1)
        send(tx, rx, 1)
        reactor.advance(POLL_S)
        assert receiver.polling, "a tick that served enough keeps polling"
        assert len(reactor.getDelayedCalls()) == 1
        for s in extra:
            receiver.remove(s)
        receiver.remove(rx)
        assert not receiver.polling and reactor.getDelayedCalls() == [] and reactor.readers == set()
    finally:
        for s in extra:
            s.close()
