"""Call recorder: stereo WAV, caller left, agent right, aligned by RTP timestamps."""

from __future__ import annotations

import io
import wave

import numpy as np
from acdgate.codecs import g711
from acdgate.codecs.recorder import CallRecorder, Side
from acdgate.codecs.rtp import RtpPacket


def frame(seq: int, ts: int, value: int, ssrc: int) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc,
                     g711.ulaw_encode(np.full(160, value, np.int16)))


def _read(buf: io.BytesIO) -> np.ndarray:
    buf.seek(0)
    with wave.open(buf, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)


def test_two_sides_aligned_with_gaps_and_reordering() -> None:
    buf = io.BytesIO()
    rec = CallRecorder(buf, slack_ms=100)
    caller_v = int(g711.ulaw_decode(g711.ulaw_encode(np.array([1000], np.int16)))[0])
    agent_v = int(g711.ulaw_decode(g711.ulaw_encode(np.array([-2000], np.int16)))[0])
    # Caller from t=0, timestamps wrap; one packet lost (seq 3), two swapped (5, 6).
    events = []
    for n, i in enumerate([0, 1, 2, 4, 6, 5, 7, 8, 9]):
        events.append((0.02 * n, Side.CALLER, frame(100 + i, 0xFFFFFE00 + 160 * i, 1000, 1)))
    # Agent starts 60 ms later with its own timestamp base; a 40 ms timestamp gap (DTX).
    for k, ts in enumerate((5000, 5160, 5320, 5800, 5960)):
        events.append((0.06 + 0.02 * k + 0.001, Side.AGENT, frame(7 + k, ts, -2000, 2)))
    for now, side, packet in sorted(events, key=lambda e: e[0]):
        rec.add(side, packet, now)
    rec.close()
    pcm = _read(buf)
    left, right = pcm[:, 0], pcm[:, 1]
    assert len(pcm) == 488 + 960 + 160
    expect_left = np.zeros(len(pcm), int)
    expect_left[:1600] = caller_v
    expect_left[3 * 160 : 4 * 160] = 0  # lost frame: silence
    assert np.array_equal(left, expect_left)
    expect_right = np.zeros(len(pcm), int)
    start = 488  # anchored at its first arrival, 61 ms
    for ts in (5000, 5160, 5320, 5800, 5960):
        a = start + ts - 5000
        expect_right[a : a + 160] = agent_v
    assert np.array_equal(right, expect_right)


def test_long_call_is_written_incrementally() -> None:
    buf = io.BytesIO()
    rec = CallRecorder(buf, slack_ms=200)
    for i in range(500):  # 10 s
        rec.add(Side.CALLER, frame(i, 160 * i, 500, 1), now=0.02 * i)
        rec.add(Side.AGENT, frame(i, 777 + 160 * i, -500, 2), now=0.02 * i + 0.001)
    assert rec.frames_written >= 500 * 160 - 2000  # only the slack is held back
    rec.close()
    pcm = _read(buf)
    assert len(pcm) == 500 * 160 + 8  # the agent side starts 1 ms (8 samples) later
    assert (pcm[:80000, 0] > 0).all() and (pcm[8:, 1] < 0).all() and not pcm[:8, 1].any()
