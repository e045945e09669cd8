"""RTP data packets (RFC 3550 5.1): parse and build with CSRCs, header extension and padding,
plus the modular arithmetic of 16-bit sequence numbers and 32-bit timestamps.

Parsing and building use `struct` and slicing only (this is the media hot path); a packet
parsed from bytes builds back to the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


class RtpError(ValueError):
    """The bytes are not a valid RTP packet (the peer's fault)."""


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """RFC 3550 5.3.1 header extension: 16-bit profile-defined value and 32-bit-word data."""

    profile: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet. `padding` holds the raw trailing padding (its last byte is its length)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: bytes = field(default=b"")

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet; raises `RtpError` on anything malformed."""
        n = len(data)
        if n < 12:
            raise RtpError(f"RTP packet too short ({n} bytes)")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {b0 >> 6}, expected 2")
        cc = b0 & 0x0F
        offset = 12 + 4 * cc
        if n < offset:
            raise RtpError("RTP packet truncated in the CSRC list")
        csrcs = struct.unpack_from(f"!{cc}I", data, 12) if cc else ()
        extension = None
        if b0 & 0x10:
            if n < offset + 4:
                raise RtpError("RTP packet truncated in the extension header")
            profile, words = _EXT_HEADER.unpack_from(data, offset)
            end = offset + 4 + 4 * words
            if n < end:
                raise RtpError("RTP header extension runs past the packet")
            extension = RtpExtension(profile, bytes(data[offset + 4 : end]))
            offset = end
        end = n
        padding = b""
        if b0 & 0x20:
            pad = data[-1]
            # RFC 3550 5.1: the last octet counts the padding, itself included.
            if pad == 0 or n - pad < offset:
                raise RtpError(f"bad RTP padding length {pad}")
            end = n - pad
            padding = bytes(data[end:])
        return cls(
            payload_type=b1 & 0x7F,
            sequence=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(b1 & 0x80),
            csrcs=tuple(csrcs),
            extension=extension,
            padding=padding,
        )

    def build(self) -> bytes:
        """Serialize to wire bytes."""
        cc = len(self.csrcs)
        if cc > 15:
            raise ValueError("at most 15 CSRCs")
        b0 = (RTP_VERSION << 6) | cc
        if self.padding:
            if self.padding[-1] != len(self.padding):
                raise ValueError("padding must end with its own length")
            b0 |= 0x20
        if self.extension is not None:
            b0 |= 0x10
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        head = _HEADER.pack(b0, b1, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                            self.ssrc & 0xFFFFFFFF)
        if not cc and self.extension is None and not self.padding:
            return head + self.payload
        parts = [head]
        if cc:
            parts.append(struct.pack(f"!{cc}I", *self.csrcs))
        if self.extension is not None:
            data = self.extension.data
            if len(data) % 4:
                raise ValueError("extension data must be whole 32-bit words")
            parts.append(_EXT_HEADER.pack(self.extension.profile, len(data) // 4))
            parts.append(data)
        parts.append(self.payload)
        parts.append(self.padding)
        return b"".join(parts)


def padding_of(length: int) -> bytes:
    """Padding bytes of `length` octets (zeros, then the count), for `RtpPacket.padding`."""
    if not 1 <= length <= 255:
        raise ValueError("padding length must be 1..255")
    return bytes(length - 1) + bytes([length])


# --- sequence number and timestamp arithmetic (serial-number style, RFC 1982) -----------


def seq_add(seq: int, n: int) -> int:
    """`seq + n` modulo 2^16."""
    return (seq + n) & 0xFFFF


def seq_diff(a: int, b: int) -> int:
    """Signed distance `a - b` between sequence numbers, in [-32768, 32767]."""
    d = (a - b) & 0xFFFF
    return d - SEQ_MOD if d >= 0x8000 else d


def seq_lt(a: int, b: int) -> bool:
    """True if sequence number `a` comes before `b` (with wrap-around)."""
    return seq_diff(a, b) < 0


def ts_add(ts: int, n: int) -> int:
    """`ts + n` modulo 2^32."""
    return (ts + n) & 0xFFFFFFFF


def ts_diff(a: int, b: int) -> int:
    """Signed distance `a - b` between timestamps, in [-2^31, 2^31)."""
    d = (a - b) & 0xFFFFFFFF
    return d - TS_MOD if d >= 0x80000000 else d


def ts_lt(a: int, b: int) -> bool:
    """True if timestamp `a` comes before `b` (with wrap-around)."""
    return ts_diff(a, b) < 0


class SequenceExtender:
    """Extends 16-bit sequence numbers to a monotonic count (cycles << 16 | seq), so
    reordered packets near a wrap still sort correctly."""

    __slots__ = ("_highest",)

    def __init__(self) -> None:
        self._highest: int | None = None

    def extend(self, seq: int) -> int:
        """Extended value of `seq`, relative to the highest seen so far."""
        if self._highest is None:
            self._highest = seq
            return seq
        ext = self._highest + seq_diff(seq, self._highest & 0xFFFF)
        if ext > self._highest:
            self._highest = ext
        return ext


class TimestampExtender:
    """Extends 32-bit RTP timestamps to a monotonic integer timeline (see `SequenceExtender`)."""

    __slots__ = ("_highest",)

    def __init__(self) -> None:
        self._highest: int | None = None

    def extend(self, ts: int) -> int:
        """Extended value of `ts`, relative to the highest seen so far."""
        if self._highest is None:
            self._highest = ts
            return ts
        ext = self._highest + ts_diff(ts, self._highest & 0xFFFFFFFF)
        if ext > self._highest:
            self._highest = ext
        return ext
