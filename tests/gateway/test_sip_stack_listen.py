"""`SipStack.listen` on port 0: UDP and TCP must share the number the kernel picked; when
that TCP port is taken, another UDP port is tried (a real clash seen on a busy lab host)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from acdgate.gateway.sip.stack import SipStack
from twisted.internet.error import CannotListenError


@dataclass
class _Address:
    port: int


@dataclass
class _Port:
    number: int
    stopped: bool = False

    def getHost(self) -> _Address:
        return _Address(self.number)

    def stopListening(self) -> None:
        self.stopped = True


@dataclass
class _Reactor:
    """Hands out UDP ports in order; TCP refuses the numbers in `busy_tcp`."""

    udp_numbers: list[int]
    busy_tcp: set[int]
    udp: list[_Port] = field(default_factory=list)
    tcp: list[int] = field(default_factory=list)

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> _Port:
        p = _Port(port or self.udp_numbers.pop(0))
        self.udp.append(p)
        return p

    def listenTCP(self, port: int, factory: Any, interface: str = "") -> _Port:
        if port in self.busy_tcp:
            raise CannotListenError(interface, port, OSError(98, "Address already in use"))
        self.tcp.append(port)
        return _Port(port)

    def seconds(self) -> float:
        return 0.0


def test_port_zero_retries_when_the_tcp_twin_is_taken() -> None:
    reactor = _Reactor(udp_numbers=[5000, 5002, 5004], busy_tcp={5000, 5002})
    stack = SipStack(reactor, handler=None)  # type: ignore[arg-type]
    assert stack.listen("127.0.0.1", 0) == 5004
    assert [p.stopped for p in reactor.udp] == [True, True, False]
    assert reactor.tcp == [5004]
    assert stack.local_address == ("127.0.0.1", 5004)


def test_a_fixed_port_whose_tcp_is_taken_fails_at_once() -> None:
    reactor = _Reactor(udp_numbers=[], busy_tcp={5060})
    stack = SipStack(reactor, handler=None)  # type: ignore[arg-type]
    with pytest.raises(CannotListenError):
        stack.listen("127.0.0.1", 5060)
    assert [p.stopped for p in reactor.udp] == [True]
