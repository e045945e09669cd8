"""A fake reactor for media tests: twisted's Clock plus `listenUDP` on in-memory ports.

What an `RtpSocket` asks of a reactor (listenUDP, callLater, seconds) and no more: the
session's datagrams are recorded with the clock's time instead of sent, and a test delivers
datagrams to the port's protocol as the network would. Used by test_media and test_conference.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from acdgate.codecs.rtp import RtpPacket
from twisted.internet import task
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol

Address = tuple[str, int]


@dataclass
class MemoryUdpPort:
    """The transport the fake listenUDP returns: records what is written, and when."""

    clock: task.Clock
    port: int
    protocol: DatagramProtocol
    sent: list[tuple[float, bytes, Address]] = field(default_factory=list)
    open: bool = True

    def write(self, data: bytes, addr: Address) -> None:
        self.sent.append((self.clock.seconds(), data, addr))

    def stopListening(self) -> None:
        self.open = False

    def deliver(self, data: bytes, addr: Address) -> None:
        """A datagram from `addr` arrives on this port (now, on the clock)."""
        self.protocol.datagramReceived(data, addr)

    def packets(self) -> list[RtpPacket]:
        """Everything written so far, parsed as RTP."""
        return [RtpPacket.parse(d) for _, d, _ in self.sent]


class FakeUdpReactor(task.Clock):
    """twisted's Clock plus listenUDP on in-memory ports; `busy` ports refuse to bind."""

    def __init__(self, busy: set[int] | None = None) -> None:
        super().__init__()
        self.busy = busy or set()
        self.ports: dict[int, MemoryUdpPort] = {}

    def listenUDP(self, port: int, protocol: DatagramProtocol,
                  interface: str = "", maxPacketSize: int = 8192) -> MemoryUdpPort:
        if port in self.busy:
            raise CannotListenError(  # type: ignore[no-untyped-call]
                interface, port, OSError(errno.EADDRINUSE, "in use"))
        transport = MemoryUdpPort(self, port, protocol)
        protocol.makeConnection(transport)  # type: ignore[arg-type]
        self.ports[port] = transport
        return transport
