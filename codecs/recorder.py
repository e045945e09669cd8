"""Call recorder: writes a call as a stereo 16-bit 8 kHz WAV through the stdlib `wave`
module, caller on the left, agent on the right. Each side's frames are placed by their RTP
timestamps (after a jitter buffer), the two sides aligned by the arrival time of their first
packet; gaps are silence. Audio is written once it is `slack_ms` behind the newest data, so
memory stays bounded on long calls.
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


class Side(Enum):
    CALLER = 0  # left channel
    AGENT = 1  # right channel


@dataclass(slots=True)
class _Track:
    jitter: JitterBuffer
    ts: TimestampExtender = field(default_factory=TimestampExtender)
    anchor_ts: int | None = None
    anchor_pos: int = 0
    chunks: dict[int, npt.NDArray[np.int16]] = field(default_factory=dict)
    end: int = 0


class CallRecorder:
    """Records two RTP streams of one call into a stereo WAV."""

    def __init__(self, sink: str | os.PathLike[str] | BinaryIO, law: Law = Law.ULAW,
                 slack_ms: int = 500, max_wait: int = 3) -> None:
        target: str | BinaryIO = os.fspath(sink) if isinstance(sink, (str, os.PathLike)) else sink
        self._wav = wave.open(target, "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self.law = law
        self._slack = slack_ms * SAMPLE_RATE // 1000
        self._tracks = {side: _Track(JitterBuffer(law, max_wait=max_wait)) for side in Side}
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

    def _place(self, track: _Track, frame: JitterFrame, now: float | None) -> None:
        ts = track.ts.extend(frame.timestamp)
        if track.anchor_ts is None:
            t0 = self._t0 if self._t0 is not None else 0.0
            track.anchor_ts = ts
            track.anchor_pos = max(self._written, round(((now or t0) - t0) * SAMPLE_RATE))
        pos = track.anchor_pos + ts - track.anchor_ts
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
        out = np.zeros((n, 2), dtype=np.int16)
        for side, track in self._tracks.items():
            for pos in sorted(track.chunks):
                if pos >= upto:
                    break
                chunk = track.chunks.pop(pos)
                a = pos - self._written
                take = min(len(chunk), upto - pos)
                out[a : a + take, side.value] = chunk[:take]
                if take < len(chunk):  # keep the part beyond this flush
                    track.chunks[upto] = chunk[take:]
        self._wav.writeframes(out.astype("<i2").tobytes())
        self._written = upto
