"""The RAS UDP edge: the engine fed with the reactor's time, one timer armed for expiry."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_events import RegistrationAdded, RegistrationRemoved, RemovalReason
from acdgate.gateway.h323.ras_messages import OtherRasMessage
from acdgate.gateway.h323.ras_protocol import RasProtocol, RegistrationEvent
from h323_ras_support import NOW, PHONE, digits, encode, make_gatekeeper, rrq
from twisted.internet import defer, reactor, task
from twisted.internet.protocol import DatagramProtocol


class MemoryTransport:
    """What a DatagramProtocol writes, kept in a list."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))


def test_register_then_expire_on_the_clock() -> None:
    clock = task.Clock()
    clock.advance(NOW)
    events: list[RegistrationEvent] = []
    protocol = RasProtocol(make_gatekeeper(), clock, events.append)
    transport = MemoryTransport()
    protocol.makeConnection(transport)  # type: ignore[arg-type]
    protocol.datagramReceived(encode(rrq(1, digits("2201"), "pw2201")), PHONE)
    ((data, addr),) = transport.sent
    assert addr == PHONE and RasCodec().decode(data) == OtherRasMessage(1, "registrationConfirm")
    assert [type(e) for e in events] == [RegistrationAdded]
    assert [c.getTime() for c in clock.getDelayedCalls()] == [NOW + 120]
    clock.advance(119)
    assert len(events) == 1
    clock.advance(1)
    assert isinstance(events[-1], RegistrationRemoved)
    assert events[-1].reason is RemovalReason.EXPIRED
    assert clock.getDelayedCalls() == []
    protocol.datagramReceived(b"\xff\x00", PHONE)  # dropped and logged, nothing sent
    assert len(transport.sent) == 1
    protocol.doStop()


class Phone(DatagramProtocol):
    """A loopback endpoint that waits for one answer."""

    def __init__(self) -> None:
        self.answer: defer.Deferred[bytes] = defer.Deferred()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.answer.callback(datagram)


@pytest_twisted.ensureDeferred
async def test_rrq_over_loopback() -> None:
    now = reactor.seconds()  # type: ignore[attr-defined]
    protocol = RasProtocol(make_gatekeeper(), reactor)  # type: ignore[arg-type]
    gk_port: Any = reactor.listenUDP(0, protocol, interface="127.0.0.1")  # type: ignore[attr-defined]
    phone = Phone()
    phone_port: Any = reactor.listenUDP(0, phone, interface="127.0.0.1")  # type: ignore[attr-defined]
    try:
        phone.transport.write(  # type: ignore[union-attr]
            encode(rrq(1, digits("2201"), "pw2201", now=now)), ("127.0.0.1", gk_port.getHost().port))
        # the gatekeeper's codec reads requests: an answer decodes as what it is, by name
        assert RasCodec().decode(await phone.answer) == OtherRasMessage(1, "registrationConfirm")
    finally:
        await phone_port.stopListening()
        await gk_port.stopListening()
