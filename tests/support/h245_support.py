"""Shared pieces of the H.245 tests: two engines wired together, addresses, a TPKT pcap writer."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_events import H245Action, SendH245
from acdgate.gateway.h323.h245_session import H245Session, H245Settings
from acdgate.gateway.h323.ras_messages import TransportAddress

GW_RTP = TransportAddress("192.0.2.1", 40000)
GW_RTCP = TransportAddress("192.0.2.1", 40001)
PHONE_RTP = TransportAddress("192.0.2.10", 5004)
PHONE_RTCP = TransportAddress("192.0.2.10", 5005)
CODEC = H245Codec()


def numbers(*values: int) -> Iterator[int]:
    """A scripted random source: these statusDeterminationNumbers, then 1, 2, 3 ..."""
    yield from values
    n = 0
    while True:
        n += 1
        yield n


def session(rtp: TransportAddress = GW_RTP, rtcp: TransportAddress = GW_RTCP,
            randoms: Iterator[int] | None = None, **settings: object) -> H245Session:
    source = randoms if randoms is not None else numbers()
    return H245Session(H245Settings(rtp, rtcp, **settings),  # type: ignore[arg-type]
                       lambda: next(source))


class Pair:
    """Two engines talking through the codec (every PDU is encoded and decoded on the way)."""

    def __init__(self, a: H245Session, b: H245Session) -> None:
        self.a, self.b = a, b
        self.events: dict[str, list[H245Action]] = {"a": [], "b": []}
        self.wire: list[tuple[bytes, bool]] = []  # (PDU, True: a -> b)

    def run(self, actions: list[H245Action], sender: str, now: float = 0.0) -> None:
        """Deliver what `sender`'s actions send, and every answer, until both are quiet."""
        queue = [(sender, a) for a in actions]
        while queue:
            who, action = queue.pop(0)
            if not isinstance(action, SendH245):
                self.events[who].append(action)
                continue
            data = CODEC.encode(action.message)
            self.wire.append((data, who == "a"))
            peer, name = (self.b, "b") if who == "a" else (self.a, "a")
            queue += [(name, x) for x in peer.receive(CODEC.decode(data), now)]


def write_pcap(path: Path, pdus: Iterable[tuple[bytes, bool]], port: int = 1800) -> None:
    """A pcap (LINKTYPE_RAW, IPv4/TCP) of H.245 PDUs in TPKT (RFC 1006), True: phone -> us.

    H.245 on its own TCP connection is TPKT-framed (RFC 1006) like H.225.0 call signalling;
    tshark's h245 dissector expects the TPKT header and reads it with `-d tcp.port==N,h245`.
    """
    seq = {True: 1000, False: 5000}
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for n, (data, to_us) in enumerate(pdus):
            src, dst, sport, dport = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 1]), 40000, port
            if not to_us:
                src, dst, sport, dport = dst, src, dport, sport
            payload = struct.pack("!BBH", 3, 0, 4 + len(data)) + data
            tcp = struct.pack("!HHIIBBHHH", sport, dport, seq[to_us], seq[not to_us],
                              0x50, 0x18, 65535, 0, 0) + payload
            seq[to_us] += len(payload)
            header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), n, 0, 64, 6, 0, src, dst)
            total = sum(struct.unpack("!10H", header))
            while total > 0xFFFF:
                total = (total & 0xFFFF) + (total >> 16)
            header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
            packet = header + tcp
            f.write(struct.pack("<IIII", n, 0, len(packet), len(packet)) + packet)
