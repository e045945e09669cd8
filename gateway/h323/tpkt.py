"""TPKT framing (RFC 1006 section 6) of H.225.0 call signalling and H.245 on TCP, sans-IO.

H.225.0 7.1 (and H.245 over TCP) put every PDU in a TPKT: version 3, a reserved octet, a 16-bit
length that counts the 4-octet header too. TCP delivers a byte stream, so `TpktReader` is fed
segments as they arrive (split anywhere, several PDUs in one) and hands back whole payloads.
A stream whose header is wrong cannot be resynchronised (there is no marker to find the next
PDU), so the first defect is final: `TpktError` says the connection is to be closed, and the
reader reads nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from construct import Const, Int8ub, Int16ub, Struct

# RFC 1006 6: vrsn 3, reserved 0, packet length (header included)
TPKT_VERSION = 3
HEADER_SIZE = 4
_HEADER = Struct("version" / Int8ub, "reserved" / Int8ub, "length" / Int16ub)
_HEADER_OUT = Struct("version" / Const(TPKT_VERSION, Int8ub), "reserved" / Const(0, Int8ub),
                     "length" / Int16ub)

# The largest TPKT the reader accepts, header included. H.225.0 messages are small: a Setup with
# a dozen fastStart proposals and a tunnelled capability set is about 1 KiB (Ekiga's is 1041
# octets); H.235 certificates or a long H.245 capability set can reach a few KiB. 16 KiB leaves
# room for those and bounds what one connection can make us buffer (a flood of half-sent PDUs
# costs at most 16 KiB a connection, not the 64 KiB the length field allows).
DEFAULT_MAX_LENGTH = 16 * 1024
# RFC 1006 6: the length field is 16 bits, so 65535 octets is a TPKT's limit, header included
MAX_PAYLOAD = 0xFFFF - HEADER_SIZE


class TpktDefect(StrEnum):
    """What made a TPKT stream unreadable."""

    BAD_VERSION = "bad version"  # RFC 1006 6: vrsn is 3
    TOO_SHORT = "length below 5"  # a header and at least one payload octet
    TOO_LONG = "length above the maximum"
    TRUNCATED = "stream ended inside a TPKT"


@dataclass(frozen=True, slots=True)
class TpktError:
    """A TPKT stream defect; the stream cannot be resynchronised, so the connection is closed.

    `close_connection` is always True: it is in the type so that no caller can read it as a
    skipped PDU and keep reading.
    """

    defect: TpktDefect
    detail: str
    close_connection: Literal[True] = True


def frame(payload: bytes) -> bytes:
    """One TPKT around `payload`; a payload the 16-bit length cannot count is our bug."""
    if not 0 < len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"TPKT payload of {len(payload)} octets (1..{MAX_PAYLOAD})")
    header: bytes = _HEADER_OUT.build({"length": HEADER_SIZE + len(payload)})
    return header + payload


class TpktReader:
    """Sans-IO de-framer of one TCP connection's byte stream (not thread-safe: one a connection)."""

    __slots__ = ("_buffer", "_failed", "_max_length")

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if not HEADER_SIZE < max_length <= 0xFFFF:
            raise ValueError(f"max_length {max_length} outside 5..65535")
        self._max_length = max_length
        self._buffer = bytearray()
        self._failed = False

    @property
    def failed(self) -> bool:
        """True once a defect was returned: the connection is to be closed, nothing more is read."""
        return self._failed

    @property
    def buffered(self) -> int:
        """Octets received that do not make a whole TPKT yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | TpktError]:
        """The payloads completed by `data`, in order, then at most one error (the last item)."""
        if self._failed:
            return []
        self._buffer += data
        out: list[bytes | TpktError] = []
        while len(self._buffer) >= HEADER_SIZE:
            header = _HEADER.parse(bytes(self._buffer[:HEADER_SIZE]))  # 4 octets always parse
            length: int = header.length
            if header.version != TPKT_VERSION:
                out.append(self._fail(TpktDefect.BAD_VERSION,
                                      f"version {header.version}, not {TPKT_VERSION}"))
                return out
            if length <= HEADER_SIZE:
                out.append(self._fail(TpktDefect.TOO_SHORT, f"length {length}"))
                return out
            if length > self._max_length:
                out.append(self._fail(TpktDefect.TOO_LONG,
                                      f"length {length} > {self._max_length}"))
                return out
            if len(self._buffer) < length:
                break
            out.append(bytes(self._buffer[HEADER_SIZE:length]))
            del self._buffer[:length]
        return out

    def eof(self) -> TpktError | None:
        """The peer closed the stream: a TPKT left half-received is a defect, else None."""
        if self._failed or not self._buffer:
            return None
        return self._fail(TpktDefect.TRUNCATED, f"{len(self._buffer)} octets of an unfinished TPKT")

    def _fail(self, defect: TpktDefect, detail: str) -> TpktError:
        self._failed = True
        self._buffer.clear()
        return TpktError(defect, detail)
