"""What an endpoint heard in a call: the gateway's tones found in its received audio.

Every softphone driver records the audio it received (pyVoIP: 8-bit unsigned samples from
`read_audio`; baresip: the `sndfile` module's WAV of the decoded stream) and names the tones
in it with the codecs' tone detector, so scenarios assert "heard the confirmation tone".
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
from acdgate.codecs.g711 import dbm0_to_amplitude
from acdgate.codecs.tone_detector import tone_present, tone_segments
from acdgate.codecs.tones import CONFIRMATION_TONE, DIAL_TONE, ERROR_TONE

FORCED_LOGIN_FREQS = (1400.0,)


MAX_LOSS_GAP_S = 0.045  # a lost 20 ms packet (two at most) silences a tone this long


def _bursts(samples: npt.NDArray[np.int16], freqs: tuple[float, ...]) -> list[float]:
    """On-times (ms) of the stretches where all of `freqs` sound together; gaps a lost packet
    or two leave inside a burst are bridged (the cadences' real pauses are 100 ms or more)."""
    merged: list[list[float]] = []
    for seg in tone_segments(samples, freqs, min_level_dbm0=-45.0):
        if merged and seg.start - merged[-1][1] <= MAX_LOSS_GAP_S:
            merged[-1][1] = seg.end
        else:
            merged.append([seg.start, seg.end])
    return [(end - start) * 1000.0 for start, end in merged]


def tones_in(samples: npt.NDArray[np.int16]) -> list[str]:
    """Names of the gateway tones present: confirmation (3 x 100 ms of 350+440 Hz), dial
    (350+440 Hz for 500 ms or more), error (480+620 Hz bursts of ~250 ms), forced-login
    (1400 Hz beeps). Loss on the lab LAN cuts bursts, so counts are lenient."""
    found: list[str] = []
    dial_pair = CONFIRMATION_TONE.segments[0].freqs
    assert dial_pair == DIAL_TONE.segments[0].freqs
    pair = _bursts(samples, dial_pair)
    if any(d >= 500 for d in pair):
        found.append("dial")
    if sum(1 for d in pair if 50 <= d <= 170) >= 2:
        found.append("confirmation")
    err = _bursts(samples, ERROR_TONE.segments[0].freqs)
    if sum(1 for d in err if 150 <= d <= 330) >= 2:
        found.append("error")
    if sum(1 for d in _bursts(samples, FORCED_LOGIN_FREQS) if 50 <= d <= 170) >= 2:
        found.append("forced-login")
    return found


def tone_seconds(samples: npt.NDArray[np.int16], freq: float, min_run_ms: float = 60.0) -> float:
    """For how long `freq` sounds in `samples` (alone or mixed with other tones), in seconds:
    20 ms windows, 10 ms apart, where it is present, counted in runs of `min_run_ms` or more.
    A click where a lost packet left a gap has energy at every frequency for a window or two;
    a tone, even one cut by loss, lasts."""
    on = tone_present(samples, (freq,), min_ratio=0.0)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], on.astype(np.int8), [0]))))
    runs = edges[1::2] - edges[::2]
    return float(runs[runs * 10 >= min_run_ms].sum()) * 0.01


def read_u8(path: Path) -> npt.NDArray[np.int16]:
    """pyVoIP's 8-bit unsigned linear audio as int16."""
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    return ((raw.astype(np.int16) - 128) << 8).astype(np.int16)


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    """A mono 16-bit WAV (baresip's sndfile) as int16; resampled to 8 kHz by decimation."""
    with wave.open(str(path), "rb") as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        data = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit WAV, expected 16-bit")
    samples = np.frombuffer(data, dtype="<i2")
    if channels > 1:
        samples = samples[::channels]
    if rate != 8000 and rate % 8000 == 0:
        samples = samples[:: rate // 8000]
    return samples.astype(np.int16)


def write_wav(path: Path, samples: npt.NDArray[np.int16]) -> Path:
    """Mono 8 kHz 16-bit samples as a WAV file (what every driver reports a call received)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def sine(freq: float, seconds: float, level_dbm0: float = -16.0) -> npt.NDArray[np.int16]:
    """A steady tone to play into a call (scenarios tell parties apart by frequency)."""
    amplitude = dbm0_to_amplitude(level_dbm0)
    t = np.arange(round(seconds * 8000)) / 8000.0
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def to_u8(samples: npt.NDArray[np.int16]) -> bytes:
    """int16 samples as pyVoIP's 8-bit unsigned audio (for in-band DTMF by `write_audio`)."""
    return ((samples.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
