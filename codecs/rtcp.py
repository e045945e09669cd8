"""RTCP (RFC 3550 6.4-6.6): SR, RR, SDES and BYE packets, parsed from and built into
compound packets byte for byte. Other packet types (APP, XR, feedback) are kept opaque.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

_COMMON = struct.Struct("!BBH")
_REPORT_BLOCK = struct.Struct("!IIIIII")
_SR_INFO = struct.Struct("!IIIIII")  # sender SSRC, NTP msw, NTP lsw, RTP ts, packets, octets
_SSRC = struct.Struct("!I")


class RtcpError(ValueError):
    """The bytes are not valid RTCP (the peer's fault)."""


class RtcpType(IntEnum):
    """RTCP packet types (RFC 3550 12.1)."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204


class SdesType(IntEnum):
    """SDES item types (RFC 3550 6.5)."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """Reception report block (RFC 3550 6.4.1). `cumulative_lost` is signed 24-bit."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    last_sr: int = 0
    delay_since_last_sr: int = 0

    def pack(self) -> bytes:
        lost = self.cumulative_lost & 0xFFFFFF
        return _REPORT_BLOCK.pack(
            self.ssrc, (self.fraction_lost & 0xFF) << 24 | lost, self.highest_sequence,
            self.jitter, self.last_sr, self.delay_since_last_sr,
        )

    @classmethod
    def unpack_from(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, fl, hs, jit, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        lost = fl & 0xFFFFFF
        if lost & 0x800000:
            lost -= 1 << 24
        return cls(ssrc, fl >> 24, lost, hs, jit, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR: sender info plus reception reports. `ntp_timestamp` is the 64-bit NTP value."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""
    padding: bytes = b""


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR: reception reports from a participant that is not sending."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""
    padding: bytes = b""


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """One SDES chunk: a source and its (type, value) items."""

    ssrc: int
    items: tuple[tuple[SdesType, bytes], ...]


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES packet."""

    chunks: tuple[SdesChunk, ...]
    padding: bytes = b""


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE: the sources leaving, with an optional reason."""

    ssrcs: tuple[int, ...]
    reason: bytes | None = None
    padding: bytes = b""


@dataclass(frozen=True, slots=True)
class UnknownRtcp:
    """Any other RTCP packet, kept as its count field and body."""

    packet_type: int
    count: int
    body: bytes
    padding: bytes = b""


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | UnknownRtcp


def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


# --- parse --------------------------------------------------------------------------------


def _parse_reports(body: bytes, offset: int, count: int) -> tuple[tuple[ReportBlock, ...], int]:
    end = offset + 24 * count
    if end > len(body):
        raise RtcpError("report blocks run past the packet")
    blocks = tuple(ReportBlock.unpack_from(body, offset + 24 * i) for i in range(count))
    return blocks, end


def _parse_sdes(body: bytes, count: int) -> tuple[SdesChunk, ...]:
    chunks = []
    offset = 0
    for _ in range(count):
        if offset + 4 > len(body):
            raise RtcpError("SDES chunk truncated")
        (ssrc,) = _SSRC.unpack_from(body, offset)
        offset += 4
        items: list[tuple[SdesType, bytes]] = []
        while True:
            if offset >= len(body):
                raise RtcpError("SDES chunk without terminating null item")
            kind = body[offset]
            if kind == SdesType.END:
                # RFC 3550 6.5: the list ends with null octets up to the next 32-bit boundary.
                offset += 1
                end = offset + _pad4(offset)
                if any(body[offset:end]):
                    raise RtcpError("SDES chunk padding is not null octets")
                offset = end
                break
            if offset + 2 > len(body):
                raise RtcpError("SDES item truncated")
            length = body[offset + 1]
            value = body[offset + 2 : offset + 2 + length]
            if len(value) != length:
                raise RtcpError("SDES item runs past the packet")
            try:
                items.append((SdesType(kind), bytes(value)))
            except ValueError as exc:
                raise RtcpError(f"unknown SDES item type {kind}") from exc
            offset += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    if offset != len(body):
        raise RtcpError("SDES packet has trailing bytes")
    return tuple(chunks)


def _parse_bye(body: bytes, count: int) -> tuple[tuple[int, ...], bytes | None]:
    if 4 * count > len(body):
        raise RtcpError("BYE source list truncated")
    ssrcs = struct.unpack_from(f"!{count}I", body, 0)
    offset = 4 * count
    reason = None
    if offset < len(body):
        length = body[offset]
        reason = bytes(body[offset + 1 : offset + 1 + length])
        if len(reason) != length:
            raise RtcpError("BYE reason runs past the packet")
        # RFC 3550 6.6: null octets pad the reason to the next 32-bit boundary, nothing more
        if body[offset + 1 + length :] != bytes(_pad4(1 + length)):
            raise RtcpError("BYE reason is followed by more than its null padding")
    return tuple(ssrcs), reason


def parse_packet(data: bytes, offset: int = 0) -> tuple[RtcpPacket, int]:
    """Parse the RTCP packet at `offset`; returns it and the offset of the next one."""
    if len(data) - offset < 4:
        raise RtcpError("RTCP header truncated")
    b0, pt, length = _COMMON.unpack_from(data, offset)
    if b0 >> 6 != 2:
        raise RtcpError(f"RTCP version {b0 >> 6}, expected 2")
    end = offset + 4 * (length + 1)
    if end > len(data):
        raise RtcpError("RTCP packet runs past the datagram")
    count = b0 & 0x1F
    body_end = end
    padding = b""
    if b0 & 0x20:
        pad = data[end - 1]
        if pad == 0 or end - pad < offset + 4:
            raise RtcpError(f"bad RTCP padding length {pad}")
        body_end = end - pad
        padding = bytes(data[body_end:end])
    body = bytes(data[offset + 4 : body_end])
    packet: RtcpPacket
    if pt == RtcpType.SR:
        if len(body) < 24:
            raise RtcpError("SR truncated")
        ssrc, msw, lsw, rtp_ts, packets, octets = _SR_INFO.unpack_from(body)
        reports, rest = _parse_reports(body, 24, count)
        packet = SenderReport(ssrc, msw << 32 | lsw, rtp_ts, packets, octets, reports,
                              body[rest:], padding)
    elif pt == RtcpType.RR:
        if len(body) < 4:
            raise RtcpError("RR truncated")
        (ssrc,) = _SSRC.unpack_from(body)
        reports, rest = _parse_reports(body, 4, count)
        packet = ReceiverReport(ssrc, reports, body[rest:], padding)
    elif pt == RtcpType.SDES:
        packet = SourceDescription(_parse_sdes(body, count), padding)
    elif pt == RtcpType.BYE:
        ssrcs, reason = _parse_bye(body, count)
        packet = Bye(ssrcs, reason, padding)
    else:
        packet = UnknownRtcp(pt, count, body, padding)
    return packet, end


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP datagram (RFC 3550 6.1) into its packets."""
    packets = []
    offset = 0
    while offset < len(data):
        packet, offset = parse_packet(data, offset)
        packets.append(packet)
    if not packets:
        raise RtcpError("empty RTCP datagram")
    return packets


# --- build --------------------------------------------------------------------------------


def _frame(pt: int, count: int, body: bytes, padding: bytes) -> bytes:
    if count > 31:
        raise ValueError("RTCP count field is 5 bits")
    if padding and padding[-1] != len(padding):
        raise ValueError("padding must end with its own length")
    total = len(body) + len(padding)
    if total % 4:
        raise ValueError("RTCP packet must be whole 32-bit words")
    b0 = 0x80 | (0x20 if padding else 0) | count
    return _COMMON.pack(b0, pt, total // 4) + body + padding


def build_packet(packet: RtcpPacket) -> bytes:
    """Serialize one RTCP packet."""
    if isinstance(packet, SenderReport):
        body = _SR_INFO.pack(packet.ssrc, packet.ntp_timestamp >> 32,
                             packet.ntp_timestamp & 0xFFFFFFFF, packet.rtp_timestamp,
                             packet.packet_count, packet.octet_count)
        body += b"".join(r.pack() for r in packet.reports) + packet.extension
        return _frame(RtcpType.SR, len(packet.reports), body, packet.padding)
    if isinstance(packet, ReceiverReport):
        body = _SSRC.pack(packet.ssrc) + b"".join(r.pack() for r in packet.reports)
        return _frame(RtcpType.RR, len(packet.reports), body + packet.extension, packet.padding)
    if isinstance(packet, SourceDescription):
        parts = []
        for chunk in packet.chunks:
            raw = _SSRC.pack(chunk.ssrc) + b"".join(
                bytes([kind, len(value)]) + value for kind, value in chunk.items
            )
            raw += b"\x00"  # the terminating null item, then pad to 32 bits
            parts.append(raw + bytes(_pad4(len(raw))))
        return _frame(RtcpType.SDES, len(packet.chunks), b"".join(parts), packet.padding)
    if isinstance(packet, Bye):
        body = struct.pack(f"!{len(packet.ssrcs)}I", *packet.ssrcs)
        if packet.reason is not None:
            raw = bytes([len(packet.reason)]) + packet.reason
            body += raw + bytes(_pad4(len(raw)))
        return _frame(RtcpType.BYE, len(packet.ssrcs), body, packet.padding)
    return _frame(packet.packet_type, packet.count, packet.body, packet.padding)


def build_compound(packets: list[RtcpPacket] | tuple[RtcpPacket, ...]) -> bytes:
    """Serialize packets into one compound RTCP datagram."""
    return b"".join(build_packet(p) for p in packets)


def ntp_from_seconds(seconds: float) -> int:
    """64-bit NTP timestamp (RFC 3550 4) from seconds since the NTP epoch."""
    whole = int(seconds)
    return (whole & 0xFFFFFFFF) << 32 | int((seconds - whole) * (1 << 32)) & 0xFFFFFFFF


def ntp_middle(ntp_timestamp: int) -> int:
    """The middle 32 bits of an NTP timestamp: the LSR field of a report block."""
    return (ntp_timestamp >> 16) & 0xFFFFFFFF
