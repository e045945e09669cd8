"""Plays an 8 kHz mono 16-bit WAV as a paced RTP stream: `read_wav` loads it (stdlib
`wave`, the only file I/O of this layer) and `WavPacketizer` cuts 20 ms G.711 payloads with
their RTP sequence numbers and timestamps, and says which are due at a given `now`
(pacing from a start time, never by sleeping).
"""

from __future__ import annotations

import os
import wave
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from acdgate.codecs.g711 import Law, encode
from acdgate.codecs.rtp import RtpPacket, seq_add, ts_add

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE


class WavFormatError(ValueError):
    """The WAV file is not 8 kHz mono 16-bit PCM."""


def read_wav(source: str | os.PathLike[str] | BinaryIO) -> npt.NDArray[np.int16]:
    """Samples of an 8 kHz mono 16-bit PCM WAV file (path or binary file object)."""
    src: str | BinaryIO = os.fspath(source) if isinstance(source, (str, os.PathLike)) else source
    with wave.open(src, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise WavFormatError(
                f"need 8000 Hz mono 16-bit, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


class WavPacketizer:
    """RTP packets of a sample buffer, 20 ms each, paced from `start_time`."""

    __slots__ = ("_next", "_samples", "law", "payload_type", "sequence", "ssrc", "start_time",
                 "timestamp")

    def __init__(self, samples: npt.ArrayLike, law: Law, ssrc: int, sequence: int,
                 timestamp: int, start_time: float) -> None:
        x = np.asarray(samples, dtype=np.int16)
        pad = (-len(x)) % FRAME_SAMPLES  # the last frame is completed with silence
        self._samples = np.concatenate([x, np.zeros(pad, np.int16)]) if pad else x
        self.law = law
        self.payload_type = law.value
        self.ssrc = ssrc
        self.sequence = sequence & 0xFFFF
        self.timestamp = timestamp & 0xFFFFFFFF
        self.start_time = start_time
        self._next = 0

    @property
    def frame_count(self) -> int:
        return len(self._samples) // FRAME_SAMPLES

    @property
    def finished(self) -> bool:
        return self._next >= self.frame_count

    def send_time(self, index: int) -> float:
        """When frame `index` is due."""
        return self.start_time + index * FRAME_SECONDS

    def next_send_time(self) -> float | None:
        """When the next unsent frame is due, or None when all are sent."""
        return None if self.finished else self.send_time(self._next)

    def packet(self, index: int) -> RtpPacket:
        """Frame `index` as an RTP packet (marker on the first, RFC 3551 4.1)."""
        chunk = self._samples[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES]
        return RtpPacket(self.payload_type, seq_add(self.sequence, index),
                         ts_add(self.timestamp, index * FRAME_SAMPLES), self.ssrc,
                         encode(self.law, chunk), marker=index == 0)

    def due(self, now: float) -> list[RtpPacket]:
        """Packets due at `now` not handed out yet (several if the caller fell behind)."""
        out = []
        # A small epsilon so a timer firing exactly on the frame boundary sends the frame.
        while not self.finished and self.send_time(self._next) <= now + 1e-9:
            out.append(self.packet(self._next))
            self._next += 1
        return out
