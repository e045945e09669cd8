"""DTMF detector: Q.24 acceptance over a generated corpus, streaming, and talk-off on
synthesised speech (espeak-ng) and noise."""

from __future__ import annotations

import itertools
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from acdgate.codecs.dtmf_detector import DtmfDetector, detect_digits
from acdgate.codecs.dtmf_generator import DIGITS, dtmf_frequencies, generate_digits, generate_dtmf
from acdgate.codecs.g711 import dbm0_to_amplitude, samples_dbm0

LEAD = np.zeros(200, dtype=np.int16)
TRAIL = np.zeros(480, dtype=np.int16)


def _noise(rng: np.random.Generator, n: int, level_dbm0: float) -> npt.NDArray[np.float64]:
    # White Gaussian noise whose mean power is level_dbm0 (sine of amplitude A has power A^2/2).
    return rng.standard_normal(n) * dbm0_to_amplitude(level_dbm0) / np.sqrt(2.0)


def _case(tone: npt.NDArray[np.int16], rng: np.random.Generator,
          noise_dbm0: float | None) -> npt.NDArray[np.int16]:
    x = np.concatenate([LEAD, tone, TRAIL]).astype(np.float64)
    if noise_dbm0 is not None:
        x += _noise(rng, len(x), noise_dbm0)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def test_generator_levels_and_frequencies() -> None:
    x = generate_dtmf("5", 1000, level_dbm0=-10.0, twist_db=0.0)
    assert abs(samples_dbm0(x) - (-10.0)) < 0.05
    spectrum = np.abs(np.fft.rfft(x))
    peaks = sorted(np.argsort(spectrum)[-2:])  # 1 Hz bins over one second
    assert tuple(float(p) for p in peaks) == dtmf_frequencies("5")


def test_valid_corpus_detection_rate() -> None:
    rng = np.random.default_rng(24)
    total = hits = wrong = 0
    misses: list[tuple[object, ...]] = []
    grid = itertools.product(DIGITS, (-25.0, -17.0, -9.0, 0.0), (-4.0, 0.0, 4.0, 8.0),
                             (40.0, 55.0, 100.0), (-0.015, 0.0, 0.015), (None, -45.0))
    for digit, level, twist, dur, off, noise in grid:
        tone = generate_dtmf(digit, dur, level, twist, freq_offset=off,
                             start_phase=float(rng.uniform(0, 6.28)))
        got = detect_digits(_case(tone, rng, noise))
        total += 1
        if got == digit:
            hits += 1
        else:
            wrong += len(got.replace(digit, ""))
            misses.append((digit, level, twist, dur, off, noise, got))
    rate = hits / total
    print(f"\nDTMF valid corpus: {hits}/{total} detected exactly once ({100 * rate:.2f} %), "
          f"{wrong} wrong digits; first misses: {misses[:5]}")
    assert rate >= 0.99
    assert wrong == 0


def test_invalid_corpus_is_rejected() -> None:
    rng = np.random.default_rng(23)
    cases: list[tuple[str, npt.NDArray[np.int16]]] = []
    for digit in DIGITS:
        for dur in (15.0, 20.0, 23.0):
            cases.append((f"short {dur} ms", generate_dtmf(digit, dur, -10.0)))
        for off in (-0.035, 0.035, -0.05):
            cases.append((f"off {off:+.3f}", generate_dtmf(digit, 100, -10.0, freq_offset=off)))
            cases.append((f"low off {off:+.3f}", generate_dtmf(digit, 100, -10.0, freq_offset=off,
                                                               high_freq_offset=0.0)))
            cases.append((f"high off {off:+.3f}", generate_dtmf(digit, 100, -10.0, freq_offset=0.0,
                                                                high_freq_offset=off)))
        for twist in (10.0, 12.0, -6.0, -8.0):
            cases.append((f"twist {twist:+.0f} dB", generate_dtmf(digit, 100, -8.0, twist)))
        cases.append(("level -45 dBm0", generate_dtmf(digit, 100, -45.0)))
        low, high = dtmf_frequencies(digit)
        t = np.arange(800) / 8000
        single = dbm0_to_amplitude(-10) * np.sin(2 * np.pi * low * t)
        cases.append(("single tone", np.round(single).astype(np.int16)))
        three = single + dbm0_to_amplitude(-13) * (np.sin(2 * np.pi * high * t)
                                                   + np.sin(2 * np.pi * 2200 * t))
        cases.append(("third tone", np.round(three).astype(np.int16)))
    false = [(why, got) for why, tone in cases if (got := detect_digits(_case(tone, rng, None)))]
    print(f"\nDTMF invalid corpus: {len(false)}/{len(cases)} false detections {false[:5]}")
    assert false == []


def test_pause_of_40ms_separates_repeated_digits() -> None:
    x = generate_digits("1111223", tone_ms=40, pause_ms=40, level_dbm0=-20)
    assert detect_digits(x) == "1111223"
    x = generate_digits("55", tone_ms=45, pause_ms=40, level_dbm0=-25, twist_db=8)
    assert detect_digits(x) == "55"


def test_streaming_in_any_chunks_matches_one_buffer() -> None:
    rng = np.random.default_rng(5)
    x = generate_digits("9#0*", tone_ms=70, pause_ms=60, level_dbm0=-15)
    x = np.concatenate([np.zeros(333, np.int16), x])
    reference = DtmfDetector().feed(x)
    assert [d.digit for d in reference] == list("9#0*")
    # Offsets point at the tone starts (333 + k * 1040 samples), within one window hop.
    for k, d in enumerate(reference):
        assert abs(d.sample - (333 + 1040 * k)) <= 40
    det = DtmfDetector()
    got = []
    pos = 0
    while pos < len(x):
        n = int(rng.integers(1, 400))
        got += det.feed(x[pos : pos + n])
        pos += n
    assert got == reference
    assert det.samples_consumed == len(x)


def _espeak(tmp_path: Path, name: str, args: list[str], text: str) -> npt.NDArray[np.int16]:
    out = tmp_path / f"{name}.wav"
    subprocess.run(["espeak-ng", *args, "-w", str(out), text], check=True, timeout=30)
    with wave.open(str(out), "rb") as w:
        rate = w.getframerate()
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    # Low-pass below 3.8 kHz (windowed sinc), then resample to 8 kHz by interpolation.
    taps = np.arange(-40, 41)
    cutoff = 3800.0 / rate
    h = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(len(taps))
    filtered = np.convolve(raw, h / h.sum(), mode="same")
    t_out = np.arange(0, len(raw) / rate, 1 / 8000.0)
    y = np.interp(t_out, np.arange(len(raw)) / rate, filtered)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


SENTENCES = (
    "Please enter your agent number, followed by the pound key.",
    "One two three four five six seven eight nine zero. Star. Pound. Hash.",
    "Thank you for calling. All of our agents are busy; your call is important to us.",
    "Nine one one. Eight hundred five five five one two one two. Oh four four two oh.",
    "The quick brown fox jumps over the lazy dog, while she sells sea shells by the sea shore.",
    "Mmmmm. Aaaaah. Eeeeee. Ooooooh. Hmmmmm.",
)
VOICES = (["-v", "en-us"], ["-v", "en+f3", "-p", "80"], ["-v", "en-gb", "-p", "20", "-s", "120"],
          ["-v", "en+f5", "-p", "99", "-s", "200"])


def test_talk_off_speech(tmp_path: Path) -> None:
    total_s = 0.0
    false = []
    for i, args in enumerate(VOICES):
        speech = _espeak(tmp_path, f"v{i}", args, " ".join(SENTENCES))
        for gain_db in (-6.0, 6.0):  # quieter and hotter than espeak's default level
            x = np.clip(speech * 10 ** (gain_db / 20), -32768, 32767).astype(np.int16)
            got = detect_digits(x)
            total_s += len(x) / 8000
            if got:
                false.append((args, gain_db, got))
    print(f"\nDTMF talk-off: {sum(len(g) for *_, g in false)} false digits in "
          f"{total_s:.0f} s of synthesised speech {false}")
    assert total_s > 60
    assert false == []


def test_speech_with_digits_still_detected(tmp_path: Path) -> None:
    speech = _espeak(tmp_path, "mix", ["-v", "en-us"], SENTENCES[0])
    digits = generate_digits("147", tone_ms=80, pause_ms=80, level_dbm0=-12)
    x = np.concatenate([speech, digits, speech])
    assert detect_digits(x) == "147"


@pytest.mark.parametrize("level", [-50.0, -30.0, -15.0, -5.0])
def test_talk_off_noise(level: float) -> None:
    rng = np.random.default_rng(int(-level))
    white = _noise(rng, 8000 * 10, level)
    # Brown-ish noise too: integrated white noise, normalised.
    brown = np.cumsum(rng.standard_normal(8000 * 10))
    brown -= np.convolve(brown, np.ones(64) / 64, mode="same")
    brown *= dbm0_to_amplitude(level) / np.sqrt(2.0) / brown.std()
    for x in (white, brown):
        assert detect_digits(np.clip(x, -32768, 32767).astype(np.int16)) == ""


def test_long_stream_in_frames_and_chunks_matches_one_buffer() -> None:
    # Longer than the detector's internal buffer and block: 20 ms frames (as the gateway feeds
    # RTP), random chunks up to 3000 samples, and one call must agree, with background
    # noise and quiet stretches between the digits.
    rng = np.random.default_rng(11)
    parts = []
    for digit in "0123456789*#ABCD" * 2:
        parts += [np.zeros(int(rng.integers(0, 4000)), np.int16),
                  generate_dtmf(digit, float(rng.uniform(45, 150)), float(rng.uniform(-25, -5)),
                                float(rng.uniform(-3, 7)), start_phase=float(rng.uniform(0, 6)))]
    x = np.concatenate(parts).astype(np.float64)
    x += _noise(rng, len(x), -50.0)
    x = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    assert len(x) > 60000
    reference = DtmfDetector().feed(x)
    assert "".join(d.digit for d in reference) == "0123456789*#ABCD" * 2
    framed = DtmfDetector()
    got = []
    for i in range(0, len(x), 160):
        got += framed.feed(x[i : i + 160])
        assert framed.samples_consumed == min(i + 160, len(x))
    assert got == reference
    chunked = DtmfDetector()
    got = []
    pos = 0
    while pos < len(x):
        n = int(rng.integers(1, 3000))
        got += chunked.feed(x[pos : pos + n])
        pos += n
    assert got == reference
    assert chunked.samples_consumed == len(x)


def test_off_frequency_and_twisted_tones_need_the_roll_off_correction() -> None:
    # Near the deviation limit the Hann window loses up to 4 dB of a tone: the detector
    # must restore it (or the level/twist checks would reject these valid digits) and still
    # reject the same tones past the twist limits.
    for digit, twist in (("1", -4.0), ("D", 7.0), ("D", -3.0)):
        for off in (-0.02, 0.02):
            ok = generate_dtmf(digit, 100, -25.0, twist, freq_offset=off)
            assert detect_digits(np.concatenate([LEAD, ok, TRAIL])) == digit
            bad = generate_dtmf(digit, 100, -10.0, -8.0, freq_offset=off)
            assert detect_digits(np.concatenate([LEAD, bad, TRAIL])) == ""
