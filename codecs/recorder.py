"""Call recorder: writes a call as a stereo 16-bit 8 kHz WAV through the stdlib `wave`
module, caller on the left, agent on the right. Each side's frames are placed by their RTP
timestamps (after a jitter buffer), the sides aligned by the arrival time of their first
packet; gaps are silence. A new SSRC on a side (a phone's hold/resume, another phone taking
the call over) starts that side afresh at its arrival time: RFC 3550 8 gives a new source
its own random sequence and timestamp base, which must not be read as a jump in the old
one. A third track, `Side.SUPERVISOR`, is mixed into the right channel: a barging supervisor
is heard by the caller, so the recording keeps them with the agent. Audio is written once it
is `slack_ms` behind the newest data, so memory stays bounded on long calls.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass, field
from enum import Enum
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from acdgate.codecs.g711 import Law, decode
from acdgate.codecs.jitterbuffer import JitterBuffer, JitterFrame
from acdgate.codecs.rtp import RtpPacket, TimestampExtender

SAMPLE_RATE = 8000
# How far a frame's timestamp may place it from its arrival time before the track is anchored
# again: far more than any jitter buffer, less than a leap that would fill memory with silence.
MAX_DRIFT = 10 * SAMPLE_RATE


class Side(Enum):
    CALLER = 0  # left channel
    AGENT = 1  # right channel
    SUPERVISOR = 2  # mixed into the right channel


_CHANNEL = {Side.CALLER: 0, Side.AGENT: 1, Side.SUPERVISOR: 1}


@dataclass(slots=True)
class _Track:
    jitter: JitterBuffer
    ts: TimestampExtender = field(default_factory=TimestampExtender)
    ssrc: int | None = None
    anchor_ts: int | None = None
    anchor_pos: int = 0
    chunks: dict[int, npt.NDArray[np.int16]] = field(default_factory=dict)
    end: int = 0


class CallRecorder:
    """Records the RTP streams of one call (caller, agent, maybe a supervisor) into a stereo WAV."""

    def __init__(self, sink: str | os.PathLike[str] | BinaryIO, law: Law = Law.ULAW,
                 slack_ms: int = 500, max_wait: int = 3) -> None:
        target: str | BinaryIO = os.fspath(sink) if isinstance(sink, (str, os.PathLike)) else sink
        self._wav = wave.open(target, "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self.law = law
        self._max_wait = max_wait
        self._slack = slack_ms * SAMPLE_RATE // 1000
        self._tracks = {side: _Track(JitterBuffer(law, max_wait=max_wait)) for side in Side}
        self.sources = 0  # streams started: one per side, plus one per SSRC change
        self._t0: float | None = None
        self._written = 0
        self.late_samples = 0
        self.closed = False

    @property
    def frames_written(self) -> int:
        return self._written

    def add(self, side: Side, packet: RtpPacket, now: float) -> None:
        """Account one received packet of `side`, arriving at `now` (seconds)."""
        if self.closed:
            raise ValueError("recorder is closed")
        if self._t0 is None:
            self._t0 = now
        track = self._tracks[side]
        if packet.ssrc != track.ssrc:
            track = self._new_source(side, packet.ssrc)
        track.jitter.push(packet)
        while (frame := track.jitter.pop()) is not None:
            self._place(track, frame, now)
        self._flush(max(t.end for t in self._tracks.values()) - self._slack)

    def close(self) -> None:
        """Write everything still buffered and finish the WAV file."""
        if self.closed:
            return
        for track in self._tracks.values():
            for frame in track.jitter.drain():
                self._place(track, frame, None)
        self._flush(max(t.end for t in self._tracks.values()))
        self._wav.close()
        self.closed = True

    def _new_source(self, side: Side, ssrc: int) -> _Track:
        """`side`'s stream from here on comes from `ssrc`: what the old one left in its jitter
        buffer is placed, and the new one is anchored at its own first arrival, after it."""
        old = self._tracks[side]
        for frame in old.jitter.drain():
            self._place(old, frame, None)
        fresh = _Track(JitterBuffer(self.law, max_wait=self._max_wait), ssrc=ssrc,
                       chunks=old.chunks, end=old.end, anchor_pos=old.end)
        self._tracks[side] = fresh
        self.sources += 1
        return fresh

    def _place(self, track: _Track, frame: JitterFrame, now: float | None) -> None:
        ts = track.ts.extend(frame.timestamp)
        if track.anchor_ts is None:
            t0 = self._t0 if self._t0 is not None else 0.0
            track.anchor_ts = ts
            arrival = round(((now or t0) - t0) * SAMPLE_RATE) if now is not None else track.anchor_pos
            track.anchor_pos = max(self._written, track.anchor_pos, arrival)
        pos = track.anchor_pos + ts - track.anchor_ts
        if now is not None and self._t0 is not None:
            arrival = round((now - self._t0) * SAMPLE_RATE)
            if abs(pos - arrival) > MAX_DRIFT:
                # a timestamp leap the clock does not bear out (a broken or restarted sender
                # keeping its SSRC): anchor again at the arrival time, so a bogus leap cannot
                # ask for hours of silence
                track.anchor_ts, track.anchor_pos = ts, max(self._written, track.end, arrival)
                pos = track.anchor_pos
        samples = decode(self.law, frame.payload)
        if pos < self._written:  # older than what is already on disk
            cut = min(self._written - pos, len(samples))
            self.late_samples += cut
            samples, pos = samples[cut:], pos + cut
            if not len(samples):
                return
        track.chunks[pos] = samples
        track.end = max(track.end, pos + len(samples))

    def _flush(self, upto: int) -> None:
        if upto <= self._written:
            return
        n = upto - self._written
        out = np.zeros((n, 2), dtype=np.int32)  # int32: the supervisor adds to the agent
        for side, track in self._tracks.items():
            channel = _CHANNEL[side]
            for pos in sorted(track.chunks):
                if pos >= upto:
                    break
                chunk = track.chunks.pop(pos)
                a = pos - self._written
                take = min(len(chunk), upto - pos)
                out[a : a + take, channel] += chunk[:take]
                if take < len(chunk):  # keep the part beyond this flush
                    track.chunks[upto] = chunk[take:]
        np.clip(out, -32768, 32767, out=out)
        self._wav.writeframes(out.astype("<i2").tobytes())
        self._written = upto
