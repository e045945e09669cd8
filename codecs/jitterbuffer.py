"""A small jitter buffer for the mixer and recorder: packets in, 20 ms frames out in
sequence order. Missing frames are waited for at most `max_wait` later packets, then filled
with silence (or a repeat of the last frame); packets for frames already played out are
dropped and counted; the delay is bounded by `capacity` frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from acdgate.codecs.g711 import Law, silence
from acdgate.codecs.rtp import RtpPacket, SequenceExtender, ts_add

FRAME_SAMPLES = 160


class Fill(Enum):
    """What stands in for a lost frame."""

    SILENCE = "silence"
    REPEAT = "repeat"


@dataclass(frozen=True, slots=True)
class JitterFrame:
    """One frame out: payload, extended sequence number, RTP timestamp, whether filled in."""

    payload: bytes
    sequence: int
    timestamp: int
    filled: bool


class JitterBuffer:
    """Reorders one RTP stream by sequence number into a gapless run of frames."""

    __slots__ = ("_buf", "_ext", "_filled_run", "_highest", "_last_payload", "_last_ts", "_next",
                 "_silence", "capacity", "duplicates", "fill", "late", "lost", "max_repeats",
                 "max_wait", "overflow")

    def __init__(self, law: Law = Law.ULAW, max_wait: int = 3, capacity: int = 50,
                 fill: Fill = Fill.SILENCE, max_repeats: int = 2) -> None:
        self.max_wait = max_wait
        # Fill.REPEAT conceals at most this many lost frames in a row by repeating the last
        # one (a lost packet inside a DTMF tone must not split the digit); longer gaps are
        # silence, so a loss burst never stretches a tone into a key press.
        self.max_repeats = max_repeats
        self._filled_run = 0
        self.capacity = capacity
        self.fill = fill
        self._silence = silence(law, FRAME_SAMPLES)
        self._ext = SequenceExtender()
        self._buf: dict[int, RtpPacket] = {}
        self._next: int | None = None
        self._highest = -1
        self._last_payload = self._silence
        self._last_ts = 0
        self.late = 0
        self.duplicates = 0
        self.lost = 0
        self.overflow = 0

    def __len__(self) -> int:
        return len(self._buf)

    def push(self, packet: RtpPacket) -> bool:
        """Store a packet; False if it was dropped (late, duplicate)."""
        ext = self._ext.extend(packet.sequence)
        if self._next is None:
            self._next = ext
        if ext < self._next:
            self.late += 1
            return False
        if ext in self._buf:
            self.duplicates += 1
            return False
        if ext - self._next >= self.capacity:
            # Too far ahead to wait for the gap: give up the oldest frames (bounded delay).
            new_next = ext - self.capacity + 1
            for seq in [s for s in self._buf if s < new_next]:
                del self._buf[seq]
            self.overflow += new_next - self._next
            self._next = new_next
        self._buf[ext] = packet
        self._highest = max(self._highest, ext)
        return True

    def pop(self) -> JitterFrame | None:
        """The next frame, a fill-in if it is given up as lost, or None to keep waiting."""
        nxt = self._next
        if nxt is None:
            return None
        packet = self._buf.pop(nxt, None)
        if packet is not None:
            self._next = nxt + 1
            self._filled_run = 0
            self._last_payload, self._last_ts = packet.payload, packet.timestamp
            return JitterFrame(packet.payload, nxt, packet.timestamp, False)
        if self._highest - nxt >= self.max_wait:
            return self._fill(nxt)
        return None

    def drain(self) -> list[JitterFrame]:
        """Everything up to the highest packet received, gaps filled (end of stream)."""
        out = []
        while self._next is not None and self._next <= self._highest:
            frame = self.pop()
            out.append(frame if frame is not None else self._fill(self._next))
        return out

    def _fill(self, seq: int) -> JitterFrame:
        self._next = seq + 1
        self.lost += 1
        if self._buf:  # place the gap from the next packet we hold, in case timestamps jumped
            later = min(self._buf)
            self._last_ts = ts_add(self._buf[later].timestamp, -(later - seq) * FRAME_SAMPLES)
        else:
            self._last_ts = ts_add(self._last_ts, FRAME_SAMPLES)
        self._filled_run += 1
        repeat = self.fill is Fill.REPEAT and self._filled_run <= self.max_repeats
        payload = self._last_payload if repeat else self._silence
        return JitterFrame(payload, seq, self._last_ts, True)
