"""A userspace Ethernet hub with netem-like conditions, for kernels without `sch_netem`.

Run inside the lab switch namespace: `python -m acdgate.lab.hub --loss-percent 5
--jitter-ms 50 PORT...`. Every frame that enters a port is dropped with the loss
probability, or delayed by `delay ± jitter` (uniform, so frames may reorder, as netem's
jitter does) and then sent out of every other port. Only the veth ports of the lab LAN
are touched (AF_PACKET sockets bound to them); nothing leaves the namespaces.

Semantics: the loss rate is the end-to-end rate of each direction between two hosts. A
frame is decided once, as it enters the hub (never again on its way out), which is what
netem on each host's egress does too; a request and its answer thus both get through with
probability (1 - loss)². The delay applies once per frame as well. (A unit test that read
a 400-datagram burst only afterwards once saw ~268 of an expected 320 and suspected double
dropping: its receive buffer overflowed, RcvbufErrors, and the hub was right.)
"""

from __future__ import annotations

import argparse
import heapq
import random
import selectors
import socket
import struct
import sys
import time
from collections.abc import Sequence

from acdgate.gateway.pcap.writer import transport_checksum

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def with_checksums(frame: bytes) -> bytes:
    """The frame with its IPv4 UDP/TCP checksum computed.

    A veth hands AF_PACKET its frames with the checksum left to offload (CHECKSUM_PARTIAL);
    re-sent as they are, the receiver would drop them as corrupt.
    """
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    total = struct.unpack("!H", frame[16:18])[0]
    l4_start = 14 + ihl
    l4 = bytearray(frame[l4_start:14 + total])
    if struct.unpack("!H", frame[20:22])[0] & 0x1FFF:  # a later fragment: no L4 header
        return frame
    if proto == 17 and len(l4) >= 8:
        offset = 6
    elif proto == 6 and len(l4) >= 20:
        offset = 16
    else:
        return frame
    l4[offset:offset + 2] = b"\x00\x00"
    value = transport_checksum(frame[26:30], frame[30:34], proto, bytes(l4))
    if proto == 17 and value == 0:
        value = 0xFFFF  # RFC 768: zero means "no checksum"
    l4[offset:offset + 2] = struct.pack("!H", value)
    return frame[:l4_start] + bytes(l4) + frame[14 + total:]


def serve(ports: Sequence[str], delay_ms: float, jitter_ms: float, loss_percent: float, seed: int) -> None:
    """Forward frames between `ports` forever, applying the conditions on ingress."""
    rng = random.Random(seed)
    socks: dict[str, socket.socket] = {}
    sel = selectors.DefaultSelector()
    for name in ports:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        # a burst must not overflow the default ~200 kB receive buffer while we forward
        s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", socket.SO_RCVBUF), 8 << 20)
        s.setblocking(False)
        socks[name] = s
        sel.register(s, selectors.EVENT_READ, name)
    pending: list[tuple[float, int, str, bytes]] = []  # (due, seq, ingress, frame)
    seq = 0
    print("hub ready", flush=True)
    while True:
        timeout = max(pending[0][0] - time.monotonic(), 0.0) if pending else None
        for key, _ in sel.select(timeout):
            sock = socks[key.data]
            while True:
                try:
                    frame, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:  # our own transmission, seen on its way out
                    continue
                if loss_percent and rng.random() * 100.0 < loss_percent:
                    continue
                delay = delay_ms + (rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0)
                seq += 1
                heapq.heappush(pending, (time.monotonic() + max(delay, 0.0) / 1000.0, seq, key.data,
                                         with_checksums(frame)))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, ingress, frame = heapq.heappop(pending)
            for name, out in socks.items():
                if name != ingress:
                    try:
                        out.send(frame)
                    except OSError:
                        pass  # a port whose host went away: the frame is lost, as on a wire


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acdgate.lab.hub")
    parser.add_argument("ports", nargs="+")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--loss-percent", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=4733)
    args = parser.parse_args(argv)
    try:
        serve(args.ports, args.delay_ms, args.jitter_ms, args.loss_percent, args.seed)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
