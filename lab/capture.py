"""Captures: the SIP messages of a pcap, read offline with `struct` (no scapy, no pyVoIP).

Sources: the gateway's own `--sip-trace` pcap (every message it sent and received, on any
transport), or a `dumpcap` capture on the lab interfaces. Each test takes the slice of the
run's capture between its start and end time.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from pathlib import Path

_LINKTYPE_ETHERNET = 1
_LINKTYPE_LINUX_SLL = 113
_LINKTYPE_RAW = 101


@dataclass(frozen=True, slots=True)
class SipPacket:
    """One SIP message seen on the wire: when, from where to where, and its first line."""

    time: float
    src: str
    dst: str
    transport: str
    first_line: str
    call_id: str
    cseq: str
    payload: bytes

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def label(self) -> str:
        """`INVITE sip:*37@...` as `INVITE *37`; `SIP/2.0 200 OK` as `200 OK`."""
        if self.is_request:
            method, _, rest = self.first_line.partition(" ")
            uri = rest.split(" ", 1)[0]
            user = uri.split(":", 1)[-1].split("@", 1)[0] if "@" in uri else ""
            return f"{method} {user}".strip()
        return self.first_line.split(" ", 1)[1] if " " in self.first_line else self.first_line


def _header(payload: bytes, *names: str) -> str:
    head = payload.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() in names:
            return value.strip()
    return ""


def read_sip(path: Path, start: float = 0.0, end: float = float("inf")) -> list[SipPacket]:
    """SIP messages in a pcap (Ethernet, Linux cooked or raw IP), between `start` and `end`."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, scale = "<", 1e-6
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, scale = ">", 1e-6
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, scale = "<", 1e-9
    else:
        raise ValueError(f"{path}: not a pcap file (pcapng is not read here)")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    out: list[SipPacket] = []
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        when = sec + frac * scale
        if not start <= when <= end:
            continue
        if linktype == _LINKTYPE_ETHERNET:
            ethertype, ip = frame[12:14], frame[14:]
        elif linktype == _LINKTYPE_LINUX_SLL:
            ethertype, ip = frame[14:16], frame[16:]
        elif linktype == _LINKTYPE_RAW:
            ethertype, ip = (b"\x08\x00" if frame[:1] and frame[0] >> 4 == 4 else b"\x86\xdd"), frame
        else:
            continue
        packet = _sip_in_ip(ethertype, ip, when)
        if packet is not None:
            out.append(packet)
    return out


def _sip_in_ip(ethertype: bytes, ip: bytes, when: float) -> SipPacket | None:
    if ethertype == b"\x08\x00" and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        proto, src, dst, l4 = ip[9], ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20]), ip[ihl:]
    elif ethertype == b"\x86\xdd" and len(ip) >= 40:
        proto, src, dst, l4 = ip[6], ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40]), ip[40:]
    else:
        return None
    if proto == 17 and len(l4) >= 8:
        sport, dport = struct.unpack("!HH", l4[:4])
        payload, transport = l4[8:], "UDP"
    elif proto == 6 and len(l4) >= 20:
        sport, dport = struct.unpack("!HH", l4[:4])
        payload, transport = l4[(l4[12] >> 4) * 4:], "TCP"
    else:
        return None
    first = payload.split(b"\r\n", 1)[0]
    if not (first.startswith(b"SIP/2.0 ") or first.endswith(b" SIP/2.0")):
        return None
    return SipPacket(when, f"{src}:{sport}", f"{dst}:{dport}", transport, first.decode("utf-8", "replace"),
                     _header(payload, "call-id", "i"), _header(payload, "cseq"), payload)
