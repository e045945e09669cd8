"""Jitter buffer: reordering, gap filling (silence or repeat), late drops, bounded delay."""

from __future__ import annotations

from acdgate.codecs import g711
from acdgate.codecs.g711 import Law
from acdgate.codecs.jitterbuffer import Fill, JitterBuffer
from acdgate.codecs.rtp import RtpPacket


def pkt(seq: int, fill: int) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, (1000 + 160 * seq) & 0xFFFFFFFF, 1, bytes([fill]) * 160)


def _pop_all(jb: JitterBuffer) -> list[tuple[int, bool]]:
    out = []
    while (f := jb.pop()) is not None:
        out.append((f.payload[0], f.filled))
    return out


def test_reorders_and_waits_for_gaps() -> None:
    jb = JitterBuffer(max_wait=2)
    jb.push(pkt(0, 10))
    jb.push(pkt(2, 12))
    assert _pop_all(jb) == [(10, False)]  # 1 missing, waits
    jb.push(pkt(1, 11))
    assert _pop_all(jb) == [(11, False), (12, False)]


def test_fills_lost_frames_with_silence_or_repeat_and_drops_late() -> None:
    for fill, expect in ((Fill.SILENCE, g711.SILENCE_ULAW), (Fill.REPEAT, 10)):
        jb = JitterBuffer(max_wait=2, fill=fill)
        jb.push(pkt(0, 10))
        jb.push(pkt(2, 12))
        jb.push(pkt(3, 13))
        assert _pop_all(jb) == [(10, False), (expect, True), (12, False), (13, False)]
        assert jb.lost == 1
        assert not jb.push(pkt(1, 11))  # too late: already played out
        assert jb.late == 1
    jb = JitterBuffer()
    jb.push(pkt(5, 1))
    assert not jb.push(pkt(5, 1)) and jb.duplicates == 1


def test_wrap_and_bounded_delay() -> None:
    jb = JitterBuffer(max_wait=3, capacity=10)
    for s in (0xFFFE, 0xFFFF, 0, 1):
        jb.push(pkt(s, s & 0xFF))
    frames = [jb.pop() for _ in range(4)]
    assert [f.sequence & 0xFFFF for f in frames if f] == [0xFFFE, 0xFFFF, 0, 1]
    assert [f.timestamp for f in frames if f] == [(1000 + 160 * s) & 0xFFFFFFFF
                                                   for s in (0xFFFE, 0xFFFF, 0, 1)]
    jb.push(pkt(40, 40))  # far ahead: the gap cannot be held
    assert jb.overflow > 0 and len(jb) <= 10
    drained = jb.drain()
    assert drained[-1].payload[0] == 40 and all(f.filled for f in drained[:-1])
    assert len(drained) <= 10
    # Filled frames get the timestamps their sequence numbers imply.
    assert drained[0].timestamp == (1000 + 160 * (40 - len(drained) + 1)) & 0xFFFFFFFF


def test_repeat_conceals_two_lost_frames_then_falls_silent() -> None:
    from acdgate.codecs.rtp import RtpPacket

    jb = JitterBuffer(Law.ULAW, max_wait=1, fill=Fill.REPEAT)
    jb.push(RtpPacket(0, 100, 0, 1, bytes([10]) * 160))
    for seq in (105,):  # 101-104 lost
        jb.push(RtpPacket(0, seq, (seq - 100) * 160, 1, bytes([20]) * 160))
    frames = [jb.pop() for _ in range(6)]
    assert [f.payload[0] for f in frames if f is not None] == [10, 10, 10, g711.SILENCE_ULAW, g711.SILENCE_ULAW, 20]


def test_a_lost_packet_inside_a_dtmf_tone_does_not_split_or_drop_the_digit() -> None:
    """Why the gateway receives with Fill.REPEAT: 5 % loss on a lab LAN lost in-band PINs."""
    import numpy as np
    from acdgate.codecs.dtmf_detector import DtmfDetector
    from acdgate.codecs.dtmf_generator import generate_dtmf
    from acdgate.codecs.rtp import RtpPacket

    audio = np.concatenate([np.zeros(800, np.int16), generate_dtmf("5", 120, level_dbm0=-8.0),
                            np.zeros(1600, np.int16)])
    payloads = [g711.ulaw_encode(audio[i:i + 160]) for i in range(0, len(audio), 160)]
    for lost in range(5, 11):  # each position inside the tone
        jb = JitterBuffer(Law.ULAW, max_wait=2, fill=Fill.REPEAT)
        detector = DtmfDetector()
        found = []
        for seq, payload in enumerate(payloads):
            if seq != lost:
                jb.push(RtpPacket(0, seq, seq * 160, 7, payload))
            while (frame := jb.pop()) is not None:
                found += [d.digit for d in detector.feed(g711.ulaw_decode(frame.payload))]
        for frame in jb.drain():
            found += [d.digit for d in detector.feed(g711.ulaw_decode(frame.payload))]
        assert found == ["5"], (lost, found)
