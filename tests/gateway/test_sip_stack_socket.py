"""The SIP stack's UDP socket: a receive buffer large enough for registration bursts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest_twisted
from acdgate.gateway.sip.message import Request
from acdgate.gateway.sip.stack import UDP_RECEIVE_BUFFER, Incoming, SipStack


class _Silent:
    def request_received(self, request: Request, incoming: Incoming) -> None:
        raise AssertionError("no request expected")


def _rmem_max() -> int:
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_udp_receive_buffer_is_enlarged_as_far_as_the_kernel_allows() -> None:
    from twisted.internet import reactor

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
        default = plain.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    stack = SipStack(reactor, _Silent())
    stack.listen("127.0.0.1", 0)
    try:
        assert stack._udp is not None and stack._udp.transport is not None
        sock = stack._udp.transport.socket
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        # Linux grants twice the request (bookkeeping), capped at twice net.core.rmem_max
        assert granted >= min(UDP_RECEIVE_BUFFER, _rmem_max())
        assert granted > default or _rmem_max() * 2 <= default
    finally:
        await stack.stop()
