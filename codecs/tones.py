"""Call-progress and prompt tones: cadences as data (segments of frequencies, on and off
times) and a generator of 8 kHz samples or G.711 frames that keeps phase across reads.

Frequencies and cadences follow the North American precise tone plan (ANSI T1.401 /
Telcordia GR-506); a recording-notification beep of 1400 Hz every 15 s follows ITU-T
recommendation practice. Sites can define their own `Cadence`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from acdgate.codecs.g711 import Law, dbm0_to_amplitude, encode

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms


@dataclass(frozen=True, slots=True)
class ToneSegment:
    """Frequencies played together for `on_ms`, then `off_ms` of silence."""

    freqs: tuple[float, ...]
    on_ms: int
    off_ms: int = 0


@dataclass(frozen=True, slots=True)
class Cadence:
    """A tone: its segments in order, the level of each frequency, and whether it repeats."""

    segments: tuple[ToneSegment, ...]
    level_dbm0: float = -13.0
    repeat: bool = True

    @property
    def cycle_ms(self) -> int:
        return sum(s.on_ms + s.off_ms for s in self.segments)


DIAL_TONE = Cadence((ToneSegment((350.0, 440.0), 1000, 0),))
RINGBACK = Cadence((ToneSegment((440.0, 480.0), 2000, 4000),), level_dbm0=-19.0)
BUSY = Cadence((ToneSegment((480.0, 620.0), 500, 500),), level_dbm0=-24.0)
REORDER = Cadence((ToneSegment((480.0, 620.0), 250, 250),), level_dbm0=-24.0)
ERROR_TONE = REORDER
CONFIRMATION_TONE = Cadence((ToneSegment((350.0, 440.0), 100, 100),) * 3, repeat=False)
RECORDING_BEEP = Cadence((ToneSegment((1400.0,), 500, 15000),), level_dbm0=-15.0)
# Prompts for a code the agent still has to key (then `#`): two short 660 Hz beeps every
# 1.5 s for a reason code (Not Ready, logout), one longer 990 Hz beep for a wrap-up code.
# Neither frequency is in any call-progress tone above, so a phone (or a test) tells them apart.
REASON_PROMPT = Cadence((ToneSegment((660.0,), 150, 100), ToneSegment((660.0,), 150, 1100)))
WRAPUP_PROMPT = Cadence((ToneSegment((990.0,), 400, 1100),))


class ToneGenerator:
    """Streams a cadence as int16 samples; `read` continues where the last call ended."""

    __slots__ = ("_bounds", "_cadence", "_cycle", "_pos")

    def __init__(self, cadence: Cadence) -> None:
        if cadence.cycle_ms <= 0:
            raise ValueError("cadence has no duration")
        self._cadence = cadence
        self._cycle = cadence.cycle_ms * SAMPLE_RATE // 1000
        bounds = []
        start = 0
        for seg in cadence.segments:
            on = seg.on_ms * SAMPLE_RATE // 1000
            bounds.append((start, start + on, seg.freqs))
            start += on + seg.off_ms * SAMPLE_RATE // 1000
        self._bounds = tuple(bounds)
        self._pos = 0

    @property
    def finished(self) -> bool:
        """True once a non-repeating cadence has played out."""
        return not self._cadence.repeat and self._pos >= self._cycle

    @property
    def position(self) -> int:
        """Samples produced so far."""
        return self._pos

    def read(self, n: int) -> npt.NDArray[np.int16]:
        """The next `n` samples (silence after a non-repeating cadence ends)."""
        idx = np.arange(self._pos, self._pos + n, dtype=np.int64)
        self._pos += n
        within = idx % self._cycle if self._cadence.repeat else idx
        t = idx / SAMPLE_RATE  # absolute time keeps phase continuous across reads
        amp = dbm0_to_amplitude(self._cadence.level_dbm0)
        out = np.zeros(n, dtype=np.float64)
        for start, end, freqs in self._bounds:
            on = (within >= start) & (within < end)
            if not on.any():
                continue
            tt = t[on]
            for f in freqs:
                out[on] += amp * np.sin(2 * np.pi * f * tt)
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)

    def frame(self, law: Law) -> bytes:
        """The next 20 ms as a G.711 payload."""
        return encode(law, self.read(FRAME_SAMPLES))


@functools.lru_cache(maxsize=64)
def render(cadence: Cadence, duration_ms: int) -> npt.NDArray[np.int16]:
    """`duration_ms` of a cadence from its start (read-only: the same few tones are played on
    every call, so each is rendered once; a 30 s prompt takes ~20 ms to synthesise)."""
    samples = ToneGenerator(cadence).read(duration_ms * SAMPLE_RATE // 1000)
    samples.flags.writeable = False
    return samples
