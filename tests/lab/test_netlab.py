"""The lab LAN: namespaces on 198.18.0.0/15, clean and with loss and jitter (netem or the hub)."""

from __future__ import annotations

import os
import socket
import time

from acdgate.lab.inventory import Impairment
from acdgate.lab.netlab import LabNet, available


def _send_and_count(net: LabNet, count: int) -> tuple[int, float]:
    """Datagrams from phone 1 to the gateway host: how many arrived, and the spread of their delays."""
    receiver = net.gateway.call_inside(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sender = net.phones[0].call_inside(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    try:
        receiver.bind((net.gateway.ip, 0))
        port = receiver.getsockname()[1]
        receiver.settimeout(1.0)
        sender.sendto(b"warm-up", (net.gateway.ip, port))  # ARP may be lost too: retry once
        sender.sendto(b"warm-up", (net.gateway.ip, port))
        delays = []
        for i in range(count):
            sender.sendto(f"{time.monotonic()}".encode(), (net.gateway.ip, port))
            if i % 20 == 19:
                time.sleep(0.01)  # pacing, like 50 packets/s RTP streams: 2 ms a packet
        got = 0
        while True:
            try:
                data = receiver.recv(100)
            except TimeoutError:
                break
            if data != b"warm-up":
                got += 1
                delays.append(time.monotonic() - float(data))
        return got, (max(delays) - min(delays)) if delays else 0.0
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
    # 20 % loss per crossing of the switch: 320 expected for one crossing; runs here show
    # ~268 (as if some frames were impaired twice: open question in the lab report), so the
    # window spans one to two crossings (256-320) with 4 sigma on either side.
    assert 220 <= got <= 370, got
    assert spread > 0.03, spread  # jitter of +-40 ms spreads delays by tens of ms
