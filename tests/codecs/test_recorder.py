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


def test_a_new_ssrc_starts_the_side_afresh_at_its_arrival() -> None:
    """Hold/resume or another phone taking the call over: a new source with its own random
    sequence and timestamp base (RFC 3550 8) goes on where it arrives, nothing dropped."""
    buf = io.BytesIO()
    rec = CallRecorder(buf, slack_ms=100)
    events = [(0.02 * i, Side.CALLER, frame(i, 160 * i, 500, 1)) for i in range(50)]  # 1 s
    # agent A for 0.5 s; agent B from 1.5 s: far lower sequence numbers, a wild timestamp base
    events += [(0.02 * i, Side.AGENT, frame(1000 + i, 9000 + 160 * i, -500, 2)) for i in range(25)]
    events += [(1.5 + 0.02 * i, Side.AGENT, frame(3 + i, 0xFFFFFF00 + 160 * i, -1500, 3)) for i in range(25)]
    for now, side, packet in sorted(events, key=lambda e: e[0]):
        rec.add(side, packet, now)
    rec.close()
    pcm = _read(buf)
    right = pcm[:, 1]
    assert rec.sources == 3
    assert len(pcm) == 2 * 8000, "B placed at its arrival, not at its timestamps"
    b = int(g711.ulaw_decode(g711.ulaw_encode(np.array([-1500], np.int16)))[0])
    assert (right[:4000] < 0).all() and not right[4000:12000].any()
    assert (right[12000:16000] == b).all(), "every frame of the second source was kept"


def test_a_timestamp_leap_within_one_source_is_anchored_again() -> None:
    buf = io.BytesIO()
    rec = CallRecorder(buf, slack_ms=100)
    for i in range(25):
        rec.add(Side.CALLER, frame(i, 160 * i, 500, 1), now=0.02 * i)
    for i in range(25, 50):  # the same SSRC leaps 2^31 samples (74 hours) ahead
        rec.add(Side.CALLER, frame(i, 0x80000000 + 160 * i, 700, 1), now=0.02 * i)
    rec.close()
    pcm = _read(buf)
    assert len(pcm) == 50 * 160, f"{len(pcm)} samples: the leap was taken for silence"
    assert (pcm[:, 0] > 0).all()


def test_the_supervisor_is_mixed_into_the_agent_channel() -> None:
    buf = io.BytesIO()
    rec = CallRecorder(buf, slack_ms=100)
    for i in range(25):
        rec.add(Side.CALLER, frame(i, 160 * i, 1000, 1), now=0.02 * i)
        rec.add(Side.AGENT, frame(i, 160 * i, 8000, 2), now=0.02 * i)
        if i >= 10:  # the supervisor barges in after 200 ms
            rec.add(Side.SUPERVISOR, frame(i, 50 + 160 * i, 30000, 4), now=0.02 * i)
    rec.close()
    pcm = _read(buf).astype(int)
    agent = int(g711.ulaw_decode(g711.ulaw_encode(np.array([8000], np.int16)))[0])
    supervisor = int(g711.ulaw_decode(g711.ulaw_encode(np.array([30000], np.int16)))[0])
    assert agent + supervisor > 32767
    caller = int(g711.ulaw_decode(g711.ulaw_encode(np.array([1000], np.int16)))[0])
    assert (pcm[:, 0] == caller).all(), "the left channel is the caller alone"
    assert (pcm[:1600, 1] == agent).all()
    assert (pcm[1600:, 1] == 32767).all(), "agent + supervisor, clipped, not wrapped around"
