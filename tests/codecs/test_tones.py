"""Tone cadences, the generator, and the tone detector the lab uses to check prompts."""

from __future__ import annotations

import numpy as np
from acdgate.codecs import g711, tone_detector, tones
from acdgate.codecs.dtmf_generator import generate_dtmf


def test_generator_levels_phase_and_cadence() -> None:
    gen = tones.ToneGenerator(tones.RINGBACK)
    chunks = [gen.read(n) for n in (1, 159, 7840, 8000, 16000, 16000)]  # 6 s, one cycle
    x = np.concatenate(chunks)
    assert np.array_equal(x, tones.render(tones.RINGBACK, 6000))  # chunking is seamless
    on, off = x[: 2 * 8000], x[2 * 8000 :]
    assert not off.any()
    # Two tones at -19 dBm0 each: composite -16 dBm0.
    assert abs(g711.samples_dbm0(on) - (-19 + 10 * np.log10(2))) < 0.05
    spec = np.abs(np.fft.rfft(on[:8000]))
    assert sorted(np.argsort(spec)[-2:].tolist()) == [440, 480]
    assert np.array_equal(gen.read(100), x[:100])  # repeats


def test_confirmation_tone_finishes_and_frames() -> None:
    gen = tones.ToneGenerator(tones.CONFIRMATION_TONE)
    frames = [gen.frame(g711.Law.ULAW) for _ in range(30)]  # 600 ms
    assert gen.finished and all(len(f) == 160 for f in frames)
    assert frames[-1] == g711.silence(g711.Law.ULAW, 160)
    pcm = np.concatenate([g711.ulaw_decode(f) for f in frames])
    segs = tone_detector.tone_segments(pcm, (350, 440))
    assert len(segs) == 3
    assert all(abs(s.duration - 0.1) <= 0.02 for s in segs)
    assert [round(s.start, 1) for s in segs] == [0.0, 0.2, 0.4]


def test_detect_tone_distinguishes_prompts() -> None:
    confirm = tones.render(tones.CONFIRMATION_TONE, 700)
    error = tones.render(tones.ERROR_TONE, 1000)
    dial = tones.render(tones.DIAL_TONE, 1000)
    beep = tones.render(tones.RECORDING_BEEP, 1000)
    lead = np.zeros(300, np.int16)
    assert tone_detector.detect_tone(confirm, (350, 440))
    assert not tone_detector.detect_tone(confirm, (480, 620))
    assert tone_detector.detect_tone(error, (480, 620))
    assert not tone_detector.detect_tone(error, (350, 440))
    assert tone_detector.detect_tone(beep, (1400,), min_duration_ms=400)
    assert not tone_detector.detect_tone(dial, (1400,))
    assert tone_detector.matches_cadence(np.concatenate([lead, confirm]), tones.CONFIRMATION_TONE)
    assert tone_detector.matches_cadence(np.concatenate([lead, error]), tones.REORDER)
    assert not tone_detector.matches_cadence(np.concatenate([lead, error]), tones.BUSY)
    assert not tone_detector.matches_cadence(dial, tones.CONFIRMATION_TONE)  # no complete burst
    # A DTMF digit containing 1477 Hz is not the 480+620 error tone, nor silence or noise.
    assert not tone_detector.detect_tone(generate_dtmf("3", 300, -10), (480, 620))
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(8000) * 3000).astype(np.int16)
    assert not tone_detector.detect_tone(noise, (350, 440))
    assert not tone_detector.detect_tone(np.zeros(8000, np.int16), (350, 440))
    # Through G.711 and at a low level the tone is still found.
    quiet = tones.ToneGenerator(tones.Cadence(tones.DIAL_TONE.segments, level_dbm0=-30.0))
    assert tone_detector.detect_tone(g711.alaw_decode(g711.alaw_encode(quiet.read(4000))),
                                     (350, 440))


def test_custom_cadence_segments() -> None:
    cad = tones.Cadence((tones.ToneSegment((600.0,), 200, 100), tones.ToneSegment((900.0,), 100, 300)))
    assert cad.cycle_ms == 700
    x = tones.render(cad, 1400)
    s600 = tone_detector.tone_segments(x, (600,))
    s900 = tone_detector.tone_segments(x, (900,))
    assert len(s600) == 2 and len(s900) == 2
    for found, starts in ((s600, (0.0, 0.7)), (s900, (0.3, 1.0))):
        assert all(abs(s.start - e) <= 0.011 for s, e in zip(found, starts, strict=True))
