"""DTMF tone generator (ITU-T Q.23 frequencies) for 8 kHz linear audio: a digit of a given
duration, composite level in dBm0, twist and frequency offset; and digit strings with pauses.
Used to send in-band DTMF and to build the detector's test corpus.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from acdgate.codecs.g711 import dbm0_to_amplitude

LOW_GROUP = (697.0, 770.0, 852.0, 941.0)
HIGH_GROUP = (1209.0, 1336.0, 1477.0, 1633.0)
# Q.23 keypad: row = low-group frequency, column = high-group frequency.
KEYPAD = ("123A", "456B", "789C", "*0#D")
DIGITS = "0123456789*#ABCD"


def dtmf_frequencies(digit: str) -> tuple[float, float]:
    """(low, high) frequencies in Hz of a DTMF key."""
    key = digit.upper()
    for row, keys in enumerate(KEYPAD):
        col = keys.find(key) if len(key) == 1 else -1
        if col >= 0:
            return LOW_GROUP[row], HIGH_GROUP[col]
    raise ValueError(f"not a DTMF key: {digit!r}")


def tone_levels(level_dbm0: float, twist_db: float) -> tuple[float, float]:
    """Per-frequency levels (low, high) in dBm0 of a pair whose composite is `level_dbm0`.

    `twist_db` is low minus high: positive is "normal" twist (high group weaker),
    negative is reverse twist (high group stronger).
    """
    # P_low + P_high = P_total with P_low / P_high = 10^(twist/10).
    ratio = 10.0 ** (twist_db / 10.0)
    low = level_dbm0 + 10.0 * math.log10(ratio / (1.0 + ratio))
    return low, low - twist_db


def generate_dtmf(
    digit: str,
    duration_ms: float,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
    freq_offset: float = 0.0,
    high_freq_offset: float | None = None,
    sample_rate: int = 8000,
    start_phase: float = 0.0,
) -> npt.NDArray[np.int16]:
    """Samples of one DTMF key.

    `level_dbm0` is the composite level of the pair, `twist_db` as in `tone_levels`,
    `freq_offset` the relative deviation of both tones (0.015 = +1.5 %), or of the low tone
    only when `high_freq_offset` is given.
    """
    low_f, high_f = dtmf_frequencies(digit)
    low_f *= 1.0 + freq_offset
    high_f *= 1.0 + (freq_offset if high_freq_offset is None else high_freq_offset)
    low_db, high_db = tone_levels(level_dbm0, twist_db)
    n = round(duration_ms * sample_rate / 1000.0)
    t = np.arange(n, dtype=np.float64) / sample_rate
    x = dbm0_to_amplitude(low_db) * np.sin(2 * np.pi * low_f * t + start_phase)
    x += dbm0_to_amplitude(high_db) * np.sin(2 * np.pi * high_f * t + 1.7 * start_phase)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def generate_digits(
    digits: str,
    tone_ms: float = 100.0,
    pause_ms: float = 100.0,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
    sample_rate: int = 8000,
) -> npt.NDArray[np.int16]:
    """A digit string: each key for `tone_ms`, followed by `pause_ms` of silence."""
    gap = np.zeros(round(pause_ms * sample_rate / 1000.0), dtype=np.int16)
    parts: list[npt.NDArray[np.int16]] = []
    for d in digits:
        parts.append(generate_dtmf(d, tone_ms, level_dbm0, twist_db, sample_rate=sample_rate))
        parts.append(gap)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
