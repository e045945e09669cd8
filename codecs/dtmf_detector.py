"""In-band DTMF detector for 8 kHz linear audio, with the ITU-T Q.24 acceptance rules.

Theory of operation. A 20 ms (160-sample) Hann window steps by 5 ms hops (40 samples). One
float32 matrix product gives, for every window, its Hann-windowed DFT at the 8 DTMF
frequencies and their 8 second harmonics, plus the DFT of the *next* window (one hop later)
at the 8 DTMF frequencies with the same phase reference, so that the phase advance of a tone
over one hop (its true frequency, unambiguous to +-100 Hz) is one complex product away. The
Hann window's low sidelobes keep the strong tone of one group from leaking into the other.
For each window:

- strongest row and column tone; the phase advance of each measures its true frequency, and
  the magnitude is corrected for the window's roll-off at that offset;
- accept when: both tones within `max_freq_deviation` (Q.24: 1.5 % accepted, 3.5 % rejected),
  composite level above the floor, twist within normal (high weaker) 8 dB / reverse 4 dB,
  the two tones carry at least `min_tone_ratio` of the window's (Hann-weighted) energy
  (noise, speech and other frequencies fail this), the other tones of each group well below
  the strongest, and second harmonics weak (speech is harmonic-rich; DTMF is not).

A digit is reported when `confirm_windows` consecutive windows agree (about 30 ms of tone:
tones of 40 ms always pass, 23 ms never do), and ends after `end_windows` windows without
it, so a 40 ms pause separates two presses of the same key.

Speed (the gateway feeds every 20 ms RTP frame, 4 windows): samples go into one
preallocated float32 buffer that keeps the last windows' history; a block of windows costs
two matrix products (DFT, Hann-weighted energy) and one conversion to Python floats, then
the checks run per window in plain float code with early rejection (a dozen array operations
on 4 windows would cost more than the arithmetic). A block whose energy is too low for any
window to reach the level floor (silence, quiet noise) skips the analysis altogether.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from acdgate.codecs.dtmf_generator import HIGH_GROUP, KEYPAD, LOW_GROUP
from acdgate.codecs.g711 import DBM0_POWER

SAMPLE_RATE = 8000
HOP = 40
HOPS_PER_WINDOW = 4
WINDOW = HOP * HOPS_PER_WINDOW
_SPAN = WINDOW + HOP  # a window and its successor: what one window's classification reads
# Windows per analysis block (200 ms): the matrix products stay below OpenBLAS's threading
# threshold (threads would cost more CPU than they save at these sizes).
_BLOCK_HOPS = 40
# Samples: whole blocks of windows, then history (under _SPAN) moves to the front.
_CAPACITY = 2 * _BLOCK_HOPS * HOP + _SPAN - 1
_FILTER_MIN = 8  # from this many windows, a vectorised test drops hopeless ones first
_FUND = np.array(LOW_GROUP + HIGH_GROUP)
_NC = 3 * len(_FUND)  # complex analysis columns: tones, tones of the next window, harmonics
_BIN = SAMPLE_RATE / WINDOW  # 50 Hz
_HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)
_HANN_SUM = float(_HANN.sum())
_DIGIT_OF_CODE = tuple(KEYPAD[r][c] for r in range(4) for c in range(4))
# Phase advance over one hop (radians) per Hz of frequency offset.
_RAD_PER_HZ = 2 * math.pi * HOP / SAMPLE_RATE


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


def _analysis_matrix() -> npt.NDArray[np.float32]:
    """(_SPAN, 2 * _NC): interleaved real/imaginary parts of the Hann-windowed DFT, scaled so
    that |X|^2 is the power of a sine at the analysis frequency (2 |X|^2 / (sum of window)^2).

    Columns 0..7 are the tones over samples 0..159; 8..15 the tones over samples 40..199
    (the next window), phase-referenced to sample 0 like the first 8, so that
    X_next * conj(X) has the phase advance of the tone over one hop; 16..23 the tones'
    second harmonics over samples 0..159.
    """
    n = np.arange(_SPAN)
    m = np.zeros((_SPAN, 2 * _NC))
    scale = np.sqrt(2.0) / _HANN_SUM
    for c, f in enumerate(np.concatenate([_FUND, _FUND, 2 * _FUND])):
        start = HOP if 8 <= c < 16 else 0
        w = np.zeros(_SPAN)
        w[start : start + WINDOW] = _HANN * scale
        ang = 2 * np.pi * f * n / SAMPLE_RATE
        m[:, 2 * c] = w * np.cos(ang)
        m[:, 2 * c + 1] = -w * np.sin(ang)
    return m.astype(np.float32)


def _power_correction(advance: float) -> float:
    """Factor restoring a tone's power from the Hann-windowed DFT when the tone's phase advance
    over one hop is `advance` radians off the analysis frequency's: 1 / |response|^2, capped
    at 10 (the response falls to 0 two bins, 100 Hz, away)."""
    d = advance / (_RAD_PER_HZ * _BIN)  # offset in bins (50 Hz)
    if abs(abs(d) - 1.0) < 1e-6:
        response = 0.5  # the limit of the expression below at one bin
    elif d == 0.0:
        response = 1.0
    else:
        response = abs(math.sin(math.pi * d) / (math.pi * d * (1.0 - d * d)))
    return 1.0 / max(response * response, 0.1)


_MATRIX = _analysis_matrix()


class DtmfDetector:
    """Streaming DTMF detector: `feed(samples)` returns the digits that started, in order."""

    def __init__(self, config: DtmfDetectorConfig | None = None) -> None:
        self.config = config or DtmfDetectorConfig()
        cfg = self.config
        # _buf[_start:_fill] holds the samples from window _hop (absolute hop index) on: the
        # windows not yet classified (whole ones need 5 hops) and a partial hop.
        self._buf = np.zeros(_CAPACITY, dtype=np.float32)
        self._start = 0
        self._fill = 0
        self._hop = 0
        self._windows = np.lib.stride_tricks.sliding_window_view(self._buf, _SPAN)[::HOP]
        self._energy_windows = np.lib.stride_tricks.sliding_window_view(self._buf, WINDOW)[::HOP]
        self._run_code = -1
        self._run_len = 0
        self._run_start = 0
        self._active = -1
        self._miss = 0
        self._floor = DBM0_POWER * 10.0 ** (cfg.min_level_dbm0 / 10.0)
        # Hann weights giving min_tone_ratio times the window's mean power.
        self._energy_weights = (_HANN * (cfg.min_tone_ratio / _HANN_SUM)).astype(np.float32)
        self._group_margin = 10.0 ** (-cfg.min_group_margin_db / 10.0)
        self._harmonic = 10.0 ** (cfg.max_harmonic_db / 10.0)
        self._twist_hi = 10.0 ** (cfg.max_normal_twist_db / 10.0)
        self._twist_lo = 10.0 ** (-cfg.max_reverse_twist_db / 10.0)
        # Largest accepted |phase advance| of each tone over a hop, off its nominal one.
        self._max_advance = [min(cfg.max_freq_deviation * f * _RAD_PER_HZ, math.pi)
                             for f in LOW_GROUP + HIGH_GROUP]
        # Largest correction an accepted tone can get (the correction grows with the offset
        # over the main lobe), with a margin for rounding: bounds the corrected powers.
        self._max_gain = 1.001 * _power_correction(max(self._max_advance))
        # Silence bound: a tone's power estimate is at most 2x the window's mean power (Cauchy-
        # Schwarz), which is at most (sum of x^2 over the window) / _HANN_SUM (Hann <= 1); so
        # no window of a block can reach the floor when its sum of squares is below this
        # (halved: margin for float32 rounding).
        self._silence = 0.5 * self._floor * _HANN_SUM / (4.0 * self._max_gain)
        # Skip the low tone's harmonic test where 2*f_low lies near the high tone (leakage).
        self._skip_low_harmonic = [abs(2 * low - high) <= 150.0
                                   for low in LOW_GROUP for high in HIGH_GROUP]

    @property
    def samples_consumed(self) -> int:
        """Samples fed so far."""
        return self._hop * HOP + self._fill - self._start

    def feed(self, samples: npt.ArrayLike) -> list[DetectedDigit]:
        """Process more samples (int16 8 kHz); returns digits whose detection completed."""
        x = np.asarray(samples)
        n = len(x)
        if n > _CAPACITY - self._fill:
            self._compact()
        fill = self._fill
        if n <= _CAPACITY - fill:  # the usual case (a frame): one copy, at most one block
            self._buf[fill : fill + n] = x
            self._fill = fill = fill + n
            k = (fill - self._start) // HOP - HOPS_PER_WINDOW
            if k <= _BLOCK_HOPS:
                return self._analyse(k) if k > 0 else []
            n = 0
        out: list[DetectedDigit] = []
        pos = 0
        while True:
            while (k := (self._fill - self._start) // HOP - HOPS_PER_WINDOW) > 0:
                out += self._analyse(min(k, _BLOCK_HOPS))
            if pos == n:
                return out
            self._compact()
            take = min(n - pos, _CAPACITY - self._fill)
            self._buf[self._fill : self._fill + take] = x[pos : pos + take]
            self._fill += take
            pos += take

    def _compact(self) -> None:
        """Move the unclassified history (under _SPAN samples) to the front of the buffer."""
        rest = self._fill - self._start
        self._buf[:rest] = self._buf[self._start : self._fill]
        self._start, self._fill = 0, rest

    def _analyse(self, k: int) -> list[DetectedDigit]:
        """Classify the next k windows (their successors are in the buffer)."""
        start = self._start
        span = (k - 1) * HOP + WINDOW  # samples the k windows cover
        head = self._buf[start : start + span]
        first = self._hop
        self._start = start + k * HOP
        self._hop = first + k
        if float(np.dot(head, head)) < self._silence:
            return self._track_silence(k)
        h = start // HOP
        spectra = self._windows[h : h + k] @ _MATRIX
        windows = self._energy_windows[h : h + k]
        energy = (windows * windows) @ self._energy_weights
        codes = self._classify(spectra, energy)
        return self._track(codes, first) if codes else self._track_silence(k)

    def _classify(self, spectra: npt.NDArray[np.floating[Any]],
                  energy: npt.NDArray[np.floating[Any]]) -> list[int]:
        """Digit code (row*4+col) of each window that passes every check, else -1; [] when
        no window can (a quick vectorised bound, for blocks of many windows).

        `spectra` are the analysis matrix products; `energy` is min_tone_ratio times each
        window's Hann-weighted mean power. The checks run in plain float code: for the few
        windows of a 20 ms frame, array operations would cost more than the arithmetic.
        """
        k = len(spectra)
        floor, gain = self._floor, self._max_gain
        rows: range | list[int] = range(k)
        if k >= _FILTER_MIN:
            # Even with the largest correction, the strongest tones must reach the level
            # floor and the energy share.
            squares = spectra[:, :16] * spectra[:, :16]
            tones = (squares[:, 0::2] + squares[:, 1::2]).reshape(k, 2, 4).max(axis=2)
            reach = (tones[:, 0] + tones[:, 1]) * gain
            hopeful = np.flatnonzero((reach >= energy) & (reach >= floor))
            if hopeful.size == 0:
                return []
            if hopeful.size < k:
                rows = hopeful.tolist()
                spectra, energy = spectra[hopeful], energy[hopeful]
        margin, harmonic = self._group_margin, self._harmonic
        twist_hi, twist_lo = self._twist_hi, self._twist_lo
        max_advance, skip_low_harmonic = self._max_advance, self._skip_low_harmonic
        codes = [-1] * k
        for i, s, nd in zip(rows, spectra.tolist(), energy.tolist(), strict=True):
            if nd < floor:  # nd: what the two corrected tones must reach
                nd = floor
            # Sine power estimates |X|^2 of the 8 tones.
            r0, q0, r1, q1, r2, q2, r3, q3, r4, q4, r5, q5, r6, q6, r7, q7 = s[:16]
            a0, a1 = r0 * r0 + q0 * q0, r1 * r1 + q1 * q1
            a2, a3 = r2 * r2 + q2 * q2, r3 * r3 + q3 * q3
            b0, b1 = r4 * r4 + q4 * q4, r5 * r5 + q5 * q5
            b2, b3 = r6 * r6 + q6 * q6, r7 * r7 + q7 * q7
            # Strongest (first of equals, like argmax) and runner-up of each group.
            lt, ls, li = (a0, a1, 0) if a0 >= a1 else (a1, a0, 1)
            if a2 > lt:
                lt, ls, li = a2, lt, 2
            elif a2 > ls:
                ls = a2
            if a3 > lt:
                lt, ls, li = a3, lt, 3
            elif a3 > ls:
                ls = a3
            ht, hs, hi = (b0, b1, 4) if b0 >= b1 else (b1, b0, 5)
            if b2 > ht:
                ht, hs, hi = b2, ht, 6
            elif b2 > hs:
                hs = b2
            if b3 > ht:
                ht, hs, hi = b3, ht, 7
            elif b3 > hs:
                hs = b3
            # Other tones of each group well below the strongest; level and energy share
            # reachable at all (the corrected test follows).
            if ls > lt * margin or hs > ht * margin or (lt + ht) * gain < nd:
                continue
            code = li * 4 + hi - 4
            # Second harmonics (floats 32..47, in the tones' order) weak.
            hr, hq = s[32 + 2 * hi], s[33 + 2 * hi]
            if hr * hr + hq * hq > ht * harmonic:
                continue
            hr, hq = s[32 + 2 * li], s[33 + 2 * li]
            if hr * hr + hq * hq > lt * harmonic and not skip_low_harmonic[code]:
                continue
            # Frequency offsets from the phase advance over one hop: next * conj(this); the
            # next window's tones are floats 16..31.
            cr, ci, nr, ni = s[2 * li], s[2 * li + 1], s[16 + 2 * li], s[17 + 2 * li]
            adv_low = abs(math.atan2(ni * cr - nr * ci, nr * cr + ni * ci))
            cr, ci, nr, ni = s[2 * hi], s[2 * hi + 1], s[16 + 2 * hi], s[17 + 2 * hi]
            adv_high = abs(math.atan2(ni * cr - nr * ci, nr * cr + ni * ci))
            if adv_low > max_advance[li] or adv_high > max_advance[hi]:
                continue
            # Level, energy share and twist of the powers corrected for the window's roll-off
            # at the measured offsets. The corrections lie in [1, gain]: when the bounds
            # already decide, they need not be computed (the usual case for a clean tone).
            if lt + ht >= nd and lt * gain <= ht * twist_hi and lt >= ht * gain * twist_lo:
                codes[i] = code
                continue
            low = lt * _power_correction(adv_low)
            high = ht * _power_correction(adv_high)
            if low + high >= nd and high * twist_lo <= low <= high * twist_hi:
                codes[i] = code
        return codes

    def _track_silence(self, k: int) -> list[DetectedDigit]:
        """`_track` for k windows that all fail (no digit can start)."""
        self._run_code, self._run_len = -1, 0
        if self._active >= 0:
            self._miss += k
            if self._miss >= self.config.end_windows:
                self._active = -1
        return []

    def _track(self, codes: list[int], first_hop: int) -> list[DetectedDigit]:
        """Run-length rules over the per-window codes (state kept across calls)."""
        if self._active < 0 and self._run_len == 0 and max(codes) < 0:
            return []  # idle, and stays so
        cfg = self.config
        out: list[DetectedDigit] = []
        run_code, run_len, run_start = self._run_code, self._run_len, self._run_start
        active, miss = self._active, self._miss
        for i, c in enumerate(codes):
            if c >= 0:
                if c == run_code:
                    run_len += 1
                else:
                    run_code, run_len = c, 1
                    run_start = (first_hop + i) * HOP
            else:
                run_code, run_len = -1, 0
            if active >= 0:
                if c == active:
                    miss = 0
                else:
                    miss += 1
                    if miss >= cfg.end_windows:
                        active = -1
            if active < 0 and run_len >= cfg.confirm_windows:
                active, miss = run_code, 0
                # The first accepted Hann window starts about one hop before the tone.
                out.append(DetectedDigit(_DIGIT_OF_CODE[run_code], run_start + HOP))
        self._run_code, self._run_len, self._run_start = run_code, run_len, run_start
        self._active, self._miss = active, miss
        return out


def detect_digits(samples: npt.ArrayLike, config: DtmfDetectorConfig | None = None) -> str:
    """All digits detected in a buffer, as a string (a fresh detector; convenience for checks)."""
    return "".join(d.digit for d in DtmfDetector(config).feed(samples))


__all__ = ["DetectedDigit", "DtmfDetector", "DtmfDetectorConfig", "detect_digits"]
