"""`--h323-trace FILE`: every H.323 message the gateway sends and receives, as a pcap that
Wireshark and tshark decode as H.225.0.

RAS datagrams are written as the UDP datagrams they were (`record_ras`). Call signalling, when
it is served, goes in as TCP segments (`record_tcp`, sequence numbers per connection and
direction), so the TPKT/Q.931/H.225.0 dissectors reassemble it. Wireshark finds RAS on UDP
1719 by itself (on another port: `-d udp.port==N,h225`, or Decode As in the GUI) and Q.931
over TPKT by a heuristic on any TCP port, as long as a message's first segment holds its
Q.931 header (tests/gateway/test_h323_trace.py).
"""

from __future__ import annotations

from pathlib import Path

from acdgate.gateway.pcap.writer import PcapWriter

Address = tuple[str, int]


class H323Trace:
    """The H.323 trace file: RAS datagrams now, call signalling segments when it is served."""

    def __init__(self, path: str | Path) -> None:
        self._pcap = PcapWriter(path)
        self.path = self._pcap.path

    def record_ras(self, data: bytes, src: Address, dst: Address, now: float) -> None:
        """One RAS datagram from `src` to `dst`."""
        self._pcap.record(data, src, dst, "UDP", now)

    def record_tcp(self, data: bytes, src: Address, dst: Address, now: float) -> None:
        """Bytes written to (or read from) one TCP connection, `src` to `dst`: the next
        segment of that direction (a TPKT may span segments; the dissector reassembles)."""
        self._pcap.record(data, src, dst, "TCP", now)

    def close(self) -> None:
        """Flush and close the file."""
        self._pcap.close()
