"""A pcap file of messages as they were sent and received: the writer of `--sip-trace` and
`--h323-trace`.

Each message becomes one synthetic Ethernet frame with IPv4 or IPv6 and a UDP or TCP header
(per the transport it really used) with correct checksums, so Wireshark, tshark and sngrep
decode it without any special link type. TCP segments carry sequence numbers per connection
and direction (each message follows the previous one of its direction), so a dissector
reassembles a message split over several writes (SIP over TCP, TPKT) or several messages in
one; TLS messages are written as TCP (the trace holds the decrypted text).
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path
from typing import BinaryIO

__all__ = ["PcapWriter", "internet_checksum", "transport_checksum"]

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET
_ETH_V4 = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
_ETH_V6 = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x86\xdd"
_MAX_PAYLOAD = 65535 - 60  # IPv4 total length limit less headers


def internet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): the trace's headers, and the lab hub's re-sent frames."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def transport_checksum(src: bytes, dst: bytes, proto: int, segment: bytes) -> int:
    """The UDP/TCP checksum of `segment` (its checksum field zero) between the packed IPv4 or
    IPv6 addresses `src` and `dst`, over the pseudo-header (RFC 768, RFC 793, RFC 8200 8.1).
    A UDP sender sends a result of 0 as 0xFFFF (RFC 768): that is the caller's part."""
    if len(src) == 4:
        pseudo = struct.pack("!4s4sBBH", src, dst, 0, proto, len(segment))
    else:
        pseudo = struct.pack("!16s16sI3xB", src, dst, len(segment), proto)
    return internet_checksum(pseudo + segment)


class PcapWriter:
    """Writes messages into a pcap file as they are sent and received (flushed at each)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "wb")
        self._file.write(_PCAP_HEADER)
        self._file.flush()
        self._tcp_seq: dict[tuple[str, int, str, int], int] = {}

    def close(self) -> None:
        """Flush and close the file."""
        if not self._file.closed:
            self._file.close()

    def record(
        self,
        data: bytes,
        src: tuple[str, int],
        dst: tuple[str, int],
        transport: str,
        now: float,
    ) -> None:
        """Append one message that went from `src` to `dst` over `transport` ("UDP", or "TCP"
        and "TLS": a TCP segment of that connection) at `now`."""
        if self._file.closed:
            return
        data = data[:_MAX_PAYLOAD]
        src_ip = ipaddress.ip_address(src[0].strip("[]"))
        dst_ip = ipaddress.ip_address(dst[0].strip("[]"))
        if src_ip.version != dst_ip.version:  # cannot happen on one socket; keep the trace valid
            return
        if transport.upper() == "UDP":
            proto = 17
            l4 = struct.pack("!HHHH", src[1], dst[1], 8 + len(data), 0) + data
            l4 = self._with_l4_checksum(l4, 6, src_ip.packed, dst_ip.packed, proto)
        else:
            proto = 6
            key = (src[0], src[1], dst[0], dst[1])
            seq = self._tcp_seq.get(key, 1)
            self._tcp_seq[key] = (seq + len(data)) & 0xFFFFFFFF
            ack = self._tcp_seq.get((dst[0], dst[1], src[0], src[1]), 1)
            # data offset 5 words, flags PSH|ACK, window 65535
            l4 = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, 0x18, 65535, 0, 0) + data
            l4 = self._with_l4_checksum(l4, 16, src_ip.packed, dst_ip.packed, proto)
        if src_ip.version == 4:
            ip = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
                src_ip.packed, dst_ip.packed,
            )
            ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
            frame = _ETH_V4 + ip + l4
        else:
            ip = struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, src_ip.packed, dst_ip.packed)
            frame = _ETH_V6 + ip + l4
        seconds = int(now)
        micros = int((now - seconds) * 1_000_000)
        self._file.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)
        self._file.flush()

    @staticmethod
    def _with_l4_checksum(l4: bytes, offset: int, src: bytes, dst: bytes, proto: int) -> bytes:
        """Fill in the UDP/TCP checksum (`transport_checksum`; 0 sent as 0xFFFF, RFC 768)."""
        value = transport_checksum(src, dst, proto, l4) or 0xFFFF
        return l4[:offset] + struct.pack("!H", value) + l4[offset + 2 :]
