"""In-band DTMF detector for 8 kHz linear audio, with the ITU-T Q.24 acceptance rules.

Theory of operation. The signal is cut into 5 ms hops (40 samples); one matrix product
gives each hop's DFT at the 8 DTMF frequencies, their 8 second harmonics, and each of those
+-50 Hz, all phase-referenced to the absolute sample index. Summing 4 hops gives the 20 ms
(160-sample) rectangular DFT for every 5 ms step, and the +-50 Hz neighbours turn it into
the Hann-windowed DFT (0.5 X(f) - 0.25 X(f-50) - 0.25 X(f+50), phase-aligned), whose low
sidelobes keep the strong tone of one group from leaking into the other. For each window:

- strongest row and column tone; the phase advance of each between consecutive windows
  measures its true frequency (unambiguous to +-100 Hz), and the magnitude is corrected for
  the window's roll-off at that offset;
- accept when: both tones within `max_freq_deviation` (Q.24: 1.5 % accepted, 3.5 % rejected),
  composite level above the floor, twist within normal (high weaker) 8 dB / reverse 4 dB,
  the two tones carry at least `min_tone_ratio` of the window's (Hann-weighted) energy
  (noise, speech and other frequencies fail this), the other tones of each group well below
  the strongest, and second harmonics weak (speech is harmonic-rich; DTMF is not).

A digit is reported when `confirm_windows` consecutive windows agree (about 30 ms of tone:
tones of 40 ms always pass, 23 ms never do), and ends after `end_windows` windows without
it, so a 40 ms pause separates two presses of the same key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from acdgate.codecs.dtmf_generator import HIGH_GROUP, KEYPAD, LOW_GROUP
from acdgate.codecs.g711 import DBM0_POWER

SAMPLE_RATE = 8000
HOP = 40
HOPS_PER_WINDOW = 4
WINDOW = HOP * HOPS_PER_WINDOW
_FREQS = np.array(LOW_GROUP + HIGH_GROUP + tuple(2 * f for f in LOW_GROUP + HIGH_GROUP))
_NF = len(_FREQS)
_BIN = SAMPLE_RATE / WINDOW  # 50 Hz: the Hann window's cosine term
# Analysis frequencies: each f, then each f - 50 Hz, then each f + 50 Hz.
_ALL_FREQS = np.concatenate([_FREQS, _FREQS - _BIN, _FREQS + _BIN])
_NA = len(_ALL_FREQS)
_HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)
_HANN_SUM = float(_HANN.sum())
_DIGIT_OF_CODE = tuple(KEYPAD[r][c] for r in range(4) for c in range(4))


@dataclass(frozen=True, slots=True)
class DtmfDetectorConfig:
    """Acceptance thresholds (defaults follow ITU-T Q.24 and common practice)."""

    min_level_dbm0: float = -33.0  # composite level floor
    max_freq_deviation: float = 0.025  # between Q.24's 1.5 % (accept) and 3.5 % (reject)
    max_normal_twist_db: float = 9.0  # high group weaker; Q.24 accepts 8 dB
    max_reverse_twist_db: float = 5.0  # high group stronger; Q.24 accepts 4 dB
    min_tone_ratio: float = 0.8  # share of the window's energy in the two tones
    min_group_margin_db: float = 6.0  # strongest tone over the others of its group
    max_harmonic_db: float = -12.0  # second harmonic relative to its fundamental
    confirm_windows: int = 5
    end_windows: int = 5


@dataclass(frozen=True, slots=True)
class DetectedDigit:
    """A key press: the digit and the sample index (from the stream start) where it began
    (estimated to within a hop, 5 ms)."""

    digit: str
    sample: int


def _hop_matrix() -> npt.NDArray[np.float64]:
    i = np.arange(HOP)[:, None]
    ang = 2 * np.pi * _ALL_FREQS[None, :] * i / SAMPLE_RATE
    return np.concatenate([np.cos(ang), -np.sin(ang)], axis=1)


def _hop_phasors() -> npt.NDArray[np.complex128]:
    # All analysis frequencies are whole Hz, so e^{-j w n} repeats every 8000 samples = 200 hops.
    starts = np.arange(SAMPLE_RATE // HOP)[:, None] * HOP
    return np.exp(-2j * np.pi * _ALL_FREQS[None, :] * starts / SAMPLE_RATE)


def _energy_weights() -> npt.NDArray[np.float64]:
    # Column q weights a hop's squared samples as if it were the q-th hop of a window.
    return _HANN.reshape(HOPS_PER_WINDOW, HOP).T.copy()


class DtmfDetector:
    """Streaming DTMF detector: `feed(samples)` returns the digits that started, in order."""

    def __init__(self, config: DtmfDetectorConfig | None = None) -> None:
        self.config = config or DtmfDetectorConfig()
        cfg = self.config
        self._matrix = _hop_matrix()
        self._phasors = _hop_phasors()
        self._eweights = _energy_weights()
        self._leftover = np.zeros(0, dtype=np.float64)
        self._hop_index = 0  # absolute index of the next hop to compute
        self._tail_a = np.zeros((0, _NA), dtype=np.complex128)
        self._tail_e = np.zeros((0, HOPS_PER_WINDOW), dtype=np.float64)
        self._tail_first = 0  # absolute hop index of _tail_a[0]
        self._run_code = -1
        self._run_len = 0
        self._run_start = 0
        self._active = -1
        self._miss = 0
        self._floor = DBM0_POWER * 10.0 ** (cfg.min_level_dbm0 / 10.0)
        self._group_margin = 10.0 ** (-cfg.min_group_margin_db / 10.0)
        self._harmonic = 10.0 ** (cfg.max_harmonic_db / 10.0)
        self._twist_hi = 10.0 ** (cfg.max_normal_twist_db / 10.0)
        self._twist_lo = 10.0 ** (-cfg.max_reverse_twist_db / 10.0)
        low = np.array(LOW_GROUP)
        high = np.array(HIGH_GROUP)
        # Skip the low tone's harmonic test where 2*f_low lies near the high tone (leakage).
        self._check_low_harmonic = np.abs(2 * low[:, None] - high[None, :]) > 150.0

    @property
    def samples_consumed(self) -> int:
        """Samples fed so far."""
        return self._hop_index * HOP + len(self._leftover)

    def feed(self, samples: npt.ArrayLike) -> list[DetectedDigit]:
        """Process more samples (int16 8 kHz); returns digits whose detection completed."""
        x = np.asarray(samples, dtype=np.float64)
        if self._leftover.size:
            x = np.concatenate([self._leftover, x])
        nh = len(x) // HOP
        self._leftover = x[nh * HOP :].copy()
        if nh == 0:
            return []
        hops = x[: nh * HOP].reshape(nh, HOP)
        s = hops @ self._matrix
        idx = (self._hop_index + np.arange(nh)) % (SAMPLE_RATE // HOP)
        a = (s[:, :_NA] + 1j * s[:, _NA:]) * self._phasors[idx]
        e = (hops * hops) @ self._eweights
        self._hop_index += nh
        a = np.concatenate([self._tail_a, a]) if self._tail_a.size else a
        e = np.concatenate([self._tail_e, e]) if self._tail_e.size else e
        first = self._tail_first
        keep = min(len(a), HOPS_PER_WINDOW)
        self._tail_a, self._tail_e = a[-keep:], e[-keep:]
        self._tail_first = first + len(a) - keep
        if len(a) < HOPS_PER_WINDOW + 1:
            return []
        rect = a[:-3] + a[1:-2] + a[2:-1] + a[3:]
        we = e[:-3, 0] + e[1:-2, 1] + e[2:-1, 2] + e[3:, 3]
        # Hann window from the rectangular sums: the cosine term's phase at the window start
        # n0 = 40 m is e^{-j 2 pi n0 / 160} = (-j)^m.
        rot = ((-1j) ** ((first + np.arange(len(rect))) % 4))[:, None]
        w = (0.5 * rect[:, :_NF] - 0.25 * rot * rect[:, _NF : 2 * _NF]
             - 0.25 * np.conj(rot) * rect[:, 2 * _NF :])
        codes = self._classify(w, we)
        return self._track(codes, first)

    def _classify(self, w: npt.NDArray[np.complex128],
                  we: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Digit code (row*4+col) of each window that passes every check, else -1."""
        cur, nxt = w[:-1], w[1:]
        energy = we[:-1] / _HANN_SUM  # Hann-weighted mean power of the window
        m = len(cur)
        # Sine power estimate: 2 |X|^2 / (sum of window)^2 for a tone at the analysis frequency.
        p = (cur.real**2 + cur.imag**2) * (2.0 / _HANN_SUM**2)
        li = np.argmax(p[:, 0:4], axis=1)
        hi = np.argmax(p[:, 4:8], axis=1) + 4
        rows = np.arange(m)
        pl, ph = p[rows, li], p[rows, hi]
        # Frequency offset from the phase advance over one hop.
        zl = nxt[rows, li] * np.conj(cur[rows, li])
        zh = nxt[rows, hi] * np.conj(cur[rows, hi])
        dfl = np.angle(zl) * (SAMPLE_RATE / (2 * np.pi * HOP))
        dfh = np.angle(zh) * (SAMPLE_RATE / (2 * np.pi * HOP))
        fl, fh = _FREQS[li], _FREQS[hi]
        dev = self.config.max_freq_deviation
        ok = (np.abs(dfl) <= dev * fl) & (np.abs(dfh) <= dev * fh)
        # Correct the powers for the rectangular window's response at the measured offset.
        pl_c = pl / np.maximum(_hann_response(dfl) ** 2, 0.1)
        ph_c = ph / np.maximum(_hann_response(dfh) ** 2, 0.1)
        tones = pl_c + ph_c
        ok &= tones >= self._floor
        ok &= tones >= self.config.min_tone_ratio * energy
        ok &= (pl_c <= ph_c * self._twist_hi) & (pl_c >= ph_c * self._twist_lo)
        # Other tones of each group well below the strongest.
        low_sorted = np.sort(p[:, 0:4], axis=1)
        high_sorted = np.sort(p[:, 4:8], axis=1)
        ok &= low_sorted[:, 2] <= low_sorted[:, 3] * self._group_margin
        ok &= high_sorted[:, 2] <= high_sorted[:, 3] * self._group_margin
        # Second harmonics (columns 8..15 mirror 0..7).
        ok &= p[rows, hi + 8] <= ph * self._harmonic
        check_low = self._check_low_harmonic[li, hi - 4]
        ok &= ~check_low | (p[rows, li + 8] <= pl * self._harmonic)
        return np.where(ok, li * 4 + (hi - 4), -1)

    def _track(self, codes: npt.NDArray[np.int64], first_hop: int) -> list[DetectedDigit]:
        """Run-length rules over the per-window codes (state kept across calls)."""
        if self._active < 0 and self._run_len == 0:
            hits = np.flatnonzero(codes >= 0)
            if hits.size == 0:
                return []
            start = int(hits[0])
        else:
            start = 0
        cfg = self.config
        out: list[DetectedDigit] = []
        for i in range(start, len(codes)):
            c = int(codes[i])
            if c >= 0:
                if c == self._run_code:
                    self._run_len += 1
                else:
                    self._run_code, self._run_len = c, 1
                    self._run_start = (first_hop + i) * HOP
            else:
                self._run_code, self._run_len = -1, 0
            if self._active >= 0:
                if c == self._active:
                    self._miss = 0
                else:
                    self._miss += 1
                    if self._miss >= cfg.end_windows:
                        self._active = -1
            if self._active < 0 and self._run_len >= cfg.confirm_windows:
                self._active, self._miss = self._run_code, 0
                # The first accepted Hann window starts about one hop before the tone.
                out.append(DetectedDigit(_DIGIT_OF_CODE[self._run_code], self._run_start + HOP))
        return out


def _hann_response(df: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """|response| of the Hann-windowed DFT to a tone `df` Hz off its frequency (1 at 0)."""
    d = df / _BIN  # offset in bins
    near_one = np.abs(np.abs(d) - 1.0) < 1e-6
    safe = np.where(near_one, 0.0, d)
    r = np.abs(np.sinc(safe) / (1.0 - safe * safe))
    return np.where(near_one, 0.5, r)


def detect_digits(samples: npt.ArrayLike, config: DtmfDetectorConfig | None = None) -> str:
    """All digits detected in a buffer, as a string (a fresh detector; convenience for checks)."""
    return "".join(d.digit for d in DtmfDetector(config).feed(samples))


__all__ = ["DetectedDigit", "DtmfDetector", "DtmfDetectorConfig", "detect_digits"]
