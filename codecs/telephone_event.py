"""RFC 4733 telephone-event (DTMF over RTP): the 4-octet payload, a receiver that turns a
stream of event packets into each key press exactly once, and a sender that produces the
standard packet train for one key press.

Receiver rules (RFC 4733 2.5.2): packets of one event share the RTP timestamp, so a
timestamp not seen before (and later than the current one) is a new key press, even for
the same digit; repeated or reordered packets of an event already reported are absorbed;
a late packet of an older event is dropped; a new timestamp exactly 0xFFFF after an
unfinished event of the same code continues a long event (2.5.1.3), it is not a new press.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from acdgate.codecs.rtp import RtpPacket, seq_add, ts_add, ts_diff

_PAYLOAD = struct.Struct("!BBH")
MAX_DURATION = 0xFFFF
DEFAULT_PAYLOAD_TYPE = 101

# RFC 4733 3.2 Table 7: DTMF named events.
EVENT_DIGITS = "0123456789*#ABCD"
FLASH = 16


class TelephoneEventError(ValueError):
    """Malformed telephone-event payload (the peer's fault)."""


def digit_to_event(digit: str) -> int:
    """Event code of a DTMF key ("0"-"9", "*", "#", "A"-"D")."""
    code = EVENT_DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise ValueError(f"not a DTMF key: {digit!r}")
    return code


def event_to_digit(event: int) -> str | None:
    """The DTMF key of an event code, or None for non-DTMF events (flash, tones)."""
    return EVENT_DIGITS[event] if 0 <= event < 16 else None


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """RFC 4733 2.3 payload: event code, end bit, volume (0..63, -dBm0), duration (units)."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < 4:
            raise TelephoneEventError(f"telephone-event payload of {len(payload)} octets")
        event, flags, duration = _PAYLOAD.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def build(self, reserved: bool = False) -> bytes:
        flags = (0x80 if self.end else 0) | (0x40 if reserved else 0) | (self.volume & 0x3F)
        return _PAYLOAD.pack(self.event, flags, self.duration)


@dataclass(frozen=True, slots=True)
class KeyPress:
    """One key press seen by the receiver (reported once, at its first packet received)."""

    event: int
    digit: str | None
    timestamp: int
    sequence: int
    volume: int


@dataclass(slots=True)
class _CurrentEvent:
    event: int
    timestamp: int
    duration: int
    ended: bool


class TelephoneEventReceiver:
    """Turns telephone-event RTP packets of one stream into `KeyPress`es, each exactly once."""

    __slots__ = ("_current", "duplicates", "late")

    def __init__(self) -> None:
        self._current: _CurrentEvent | None = None
        self.duplicates = 0
        self.late = 0

    def feed(self, packet: RtpPacket) -> list[KeyPress]:
        """Account one packet; returns the key press it starts, if any."""
        ev = TelephoneEvent.parse(packet.payload)
        cur = self._current
        if cur is not None:
            d = ts_diff(packet.timestamp, cur.timestamp)
            if d == 0:
                # Another packet of the current event (update, retransmitted end, reordered).
                self.duplicates += 1
                cur.duration = max(cur.duration, ev.duration)
                cur.ended = cur.ended or ev.end
                return []
            if d < 0:
                self.late += 1  # a packet of an earlier event, arriving after a later one
                return []
            if ev.event == cur.event and not cur.ended and d == MAX_DURATION:
                # RFC 4733 2.5.1.3: next segment of a long event, not a new press.
                cur.timestamp = packet.timestamp
                cur.duration = ev.duration
                cur.ended = ev.end
                return []
        self._current = _CurrentEvent(ev.event, packet.timestamp, ev.duration, ev.end)
        return [KeyPress(ev.event, event_to_digit(ev.event), packet.timestamp, packet.sequence,
                         ev.volume)]


@dataclass(frozen=True, slots=True)
class ScheduledPacket:
    """A packet and the time (seconds, relative to the event start) to send it."""

    send_at: float
    packet: RtpPacket


class TelephoneEventSender:
    """Builds RFC 4733 packet trains; keeps the RTP sequence number across events."""

    __slots__ = ("clock_rate", "end_repeats", "payload_type", "ptime_ms", "sequence", "ssrc")

    def __init__(self, ssrc: int, sequence: int = 0, payload_type: int = DEFAULT_PAYLOAD_TYPE,
                 clock_rate: int = 8000, ptime_ms: int = 20, end_repeats: int = 3) -> None:
        self.ssrc = ssrc
        self.sequence = sequence & 0xFFFF
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.ptime_ms = ptime_ms
        self.end_repeats = end_repeats

    def key_press(self, digit: str | int, timestamp: int, duration_ms: float,
                  volume: int = 10) -> list[ScheduledPacket]:
        """Packets for one key press starting at RTP `timestamp` and lasting `duration_ms`.

        The first packet carries the marker; all packets of a segment share its timestamp
        and report the duration so far; the last state is sent `end_repeats` times with E set
        (RFC 4733 2.5.1.4). Events longer than 0xFFFF units are split into segments whose
        timestamps advance by 0xFFFF (2.5.1.3).
        """
        event = digit if isinstance(digit, int) else digit_to_event(digit)
        total = round(duration_ms * self.clock_rate / 1000.0)
        if total <= 0:
            raise ValueError("duration must be positive")
        frame = self.clock_rate * self.ptime_ms // 1000
        out: list[ScheduledPacket] = []
        first = True
        elapsed = 0  # units from the event start to the end of the current segment
        seg_start = 0
        while True:
            seg_ts = ts_add(timestamp, seg_start)
            remaining = total - seg_start
            seg_len = min(remaining, MAX_DURATION)
            final = remaining <= MAX_DURATION
            dur = frame
            while dur < seg_len:
                out.append(self._packet(seg_start + dur, seg_ts, event, False, volume, dur, first))
                first = False
                dur += frame
            elapsed = seg_start + seg_len
            if not final:
                # Close the segment at the maximum duration, E bit clear.
                out.append(self._packet(elapsed, seg_ts, event, False, volume, MAX_DURATION,
                                        first))
                first = False
                seg_start += MAX_DURATION
                continue
            for i in range(self.end_repeats):
                out.append(self._packet(elapsed + i * frame, seg_ts, event, True, volume,
                                        seg_len, first))
                first = False
            return out

    def _packet(self, at_units: int, ts: int, event: int, end: bool, volume: int,
                duration: int, marker: bool) -> ScheduledPacket:
        payload = TelephoneEvent(event, end, volume, duration).build()
        pkt = RtpPacket(self.payload_type, self.sequence, ts, self.ssrc, payload, marker)
        self.sequence = seq_add(self.sequence, 1)
        return ScheduledPacket(at_units / self.clock_rate, pkt)
