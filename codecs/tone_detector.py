"""Detects given tones (call-progress, prompts) in 8 kHz linear audio: Hann-windowed DFTs
of 20 ms windows every 10 ms at the expected frequencies. Answers "did this audio contain
the confirmation tone / error tone / this frequency pair" and gives on/off segments so a
cadence can be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from acdgate.codecs.g711 import DBM0_POWER
from acdgate.codecs.tones import Cadence

SAMPLE_RATE = 8000
WINDOW = 160
STEP = 80
_HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)
_HANN_SUM = float(_HANN.sum())


@dataclass(frozen=True, slots=True)
class ToneSegmentFound:
    """A stretch where the tone was present, in seconds from the buffer start."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def tone_present(samples: npt.ArrayLike, freqs: Sequence[float], min_level_dbm0: float = -40.0,
                 min_ratio: float = 0.7) -> npt.NDArray[np.bool_]:
    """Per window (20 ms, every 10 ms): are all `freqs` present above `min_level_dbm0` and
    together at least `min_ratio` of the window's energy?"""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < WINDOW or not freqs:
        return np.zeros(0, dtype=bool)
    n = 1 + (len(x) - WINDOW) // STEP
    raw = np.lib.stride_tricks.sliding_window_view(x, WINDOW)[::STEP][:n]
    frames = raw * _HANN
    i = np.arange(WINDOW)
    f = np.asarray(freqs, dtype=np.float64)
    basis = np.exp(-2j * np.pi * f[None, :] * i[:, None] / SAMPLE_RATE)
    spec = frames @ basis
    power = (spec.real**2 + spec.imag**2) * (2.0 / _HANN_SUM**2)
    energy = np.einsum("ij,ij->i", frames, raw) / _HANN_SUM  # Hann-weighted mean power
    floor = DBM0_POWER * 10.0 ** (min_level_dbm0 / 10.0)
    ok = (power >= floor).all(axis=1)
    ok &= power.sum(axis=1) >= min_ratio * np.maximum(energy, 1e-9)
    result: npt.NDArray[np.bool_] = ok
    return result


def tone_segments(samples: npt.ArrayLike, freqs: Sequence[float], min_level_dbm0: float = -40.0,
                  min_ratio: float = 0.7) -> list[ToneSegmentFound]:
    """Stretches where the tone is present (times to within 10 ms)."""
    ok = tone_present(samples, freqs, min_level_dbm0, min_ratio)
    out = []
    padded = np.concatenate([[False], ok, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        # Window k covers [k*STEP, k*STEP+WINDOW); a run of windows a..b-1 spans roughly
        # from the first window's centre minus half a step to the last one's centre plus.
        start = (a * STEP + WINDOW / 2 - STEP / 2) / SAMPLE_RATE
        end = ((b - 1) * STEP + WINDOW / 2 + STEP / 2) / SAMPLE_RATE
        out.append(ToneSegmentFound(max(float(start), 0.0), float(end)))
    return out


def detect_tone(samples: npt.ArrayLike, freqs: Sequence[float], min_duration_ms: float = 60.0,
                min_level_dbm0: float = -40.0) -> bool:
    """True if the tone (all of `freqs` together) is present for at least `min_duration_ms`."""
    return any(s.duration * 1000.0 >= min_duration_ms - 10.0
               for s in tone_segments(samples, freqs, min_level_dbm0))


def matches_cadence(samples: npt.ArrayLike, cadence: Cadence, tolerance_ms: float = 30.0,
                    min_level_dbm0: float = -40.0) -> bool:
    """True if the audio holds the cadence's first segment(s) with on-times within
    `tolerance_ms` (complete bursts only: the first and last may be cut by the buffer)."""
    seg = cadence.segments[0]
    found = tone_segments(samples, seg.freqs, min_level_dbm0)
    expected = [s.on_ms for s in cadence.segments if s.freqs == seg.freqs]
    x_len = len(np.asarray(samples)) / SAMPLE_RATE
    complete = [s for s in found if s.start > 0.02 and s.end < x_len - 0.02]
    if not complete:
        return False
    return all(min(abs(s.duration * 1000 - e) for e in expected) <= tolerance_ms
               for s in complete)
