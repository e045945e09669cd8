"""The lab LAN: namespaces on 198.18.0.0/15, clean and with loss and jitter (netem or the hub)."""

from __future__ import annotations

import os
import socket
import time

from acdgate.lab.inventory import Impairment
from acdgate.lab.netlab import LabNet, available

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; as root, past rmem_max


def _send_and_count(net: LabNet, count: int, *, reverse: bool = False) -> tuple[int, float]:
    """Datagrams from phone 1 to the gateway host (`reverse`: the other way): how many arrived,
    and the spread of their delays."""
    to, source = (net.phones[0], net.gateway) if reverse else (net.gateway, net.phones[0])
    receiver = to.call_inside(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sender = source.call_inside(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    try:
        # 4 MB: the kernel must not drop anything itself (RcvbufErrors once looked like the
        # hub dropping frames twice)
        receiver.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        receiver.bind((to.ip, 0))
        port = receiver.getsockname()[1]
        receiver.settimeout(0.2)
        for _ in range(50):  # until one warm-up arrives: ARP (lossy too) is resolved by then
            sender.sendto(b"warm-up", (to.ip, port))
            try:
                if receiver.recv(100) == b"warm-up":
                    break
            except TimeoutError:
                continue
        delays: list[float] = []

        def receive(timeout: float) -> bool:
            """One datagram in, its delay noted; False when none came within `timeout`."""
            receiver.settimeout(timeout)
            try:
                data = receiver.recv(100)
            except TimeoutError:
                return False
            if data != b"warm-up":
                delays.append(time.monotonic() - float(data))
            return True

        for i in range(count):
            sender.sendto(f"{time.monotonic()}".encode(), (to.ip, port))
            if i % 20 == 19:
                # flow control, not a pause: after each 20 sent, wait for one to arrive, so the
                # impaired path never holds much more than a burst (as 50 packets/s RTP would not)
                receive(1.0)
        while receive(1.0):  # the rest, until a second passes with nothing
            pass
        return len(delays), (max(delays) - min(delays)) if delays else 0.0
    finally:
        receiver.close()
        sender.close()


def test_namespaces_are_available_here() -> None:
    ok, why = available()
    assert ok, why  # CI runs as root in a container that allows namespaces


def test_clean_lan_delivers_everything() -> None:
    with LabNet(f"t{os.getpid() % 10000}", phones=1) as net:
        assert net.conditions == "clean"
        got, _ = _send_and_count(net, 200)
    assert got == 200


def test_lossy_lan_drops_and_delays() -> None:
    with LabNet(f"t{os.getpid() % 10000}", phones=1, impairment=Impairment("lossy", 0, 40, 20)) as net:
        got, spread = _send_and_count(net, 400)
        back, _ = _send_and_count(net, 400, reverse=True)
    # The loss rate is the end-to-end rate of each direction: each frame is dropped at most
    # once (as it enters the hub, or on the sender's netem). 400 x 0.8 = 320, sd 8: 4 sigma
    # either side; dropping twice (256 expected) falls outside.
    assert 288 <= got <= 352, got
    assert 288 <= back <= 352, back
    assert spread > 0.03, spread  # jitter of +-40 ms spreads delays by tens of ms
