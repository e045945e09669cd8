"""WAV source: reading 8 kHz mono WAVs and the paced 20 ms packetizer."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from acdgate.codecs import g711
from acdgate.codecs.wavplayer import WavFormatError, WavPacketizer, read_wav


def _wav_bytes(samples: np.ndarray, rate: int = 8000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def test_read_wav_path_and_file(tmp_path: Path) -> None:
    x = (np.arange(1000) * 37 % 20000 - 10000).astype(np.int16)
    path = tmp_path / "a.wav"
    path.write_bytes(_wav_bytes(x))
    assert np.array_equal(read_wav(path), x)
    assert np.array_equal(read_wav(io.BytesIO(_wav_bytes(x))), x)
    with pytest.raises(WavFormatError):
        read_wav(io.BytesIO(_wav_bytes(x, rate=16000)))
    with pytest.raises(WavFormatError):
        read_wav(io.BytesIO(_wav_bytes(x, channels=2)))


def test_packetizer_frames_and_pacing() -> None:
    x = (np.arange(500) * 61 % 8000 - 4000).astype(np.int16)  # 3 frames and a bit
    p = WavPacketizer(x, g711.Law.ALAW, ssrc=5, sequence=0xFFFF, timestamp=0xFFFFFF60,
                      start_time=100.0)
    assert p.frame_count == 4
    assert p.due(99.99) == []
    first = p.due(100.0)
    assert len(first) == 1 and first[0].marker and first[0].payload_type == 8
    assert p.next_send_time() == pytest.approx(100.02)
    rest = p.due(100.5)  # fell behind: everything due at once
    pkts = first + rest
    assert [q.sequence for q in pkts] == [0xFFFF, 0, 1, 2]
    assert [q.timestamp for q in pkts] == [0xFFFFFF60, 0, 160, 320]
    assert not any(q.marker for q in rest)
    audio = np.concatenate([g711.alaw_decode(q.payload) for q in pkts])
    assert np.array_equal(audio[:500], g711.alaw_decode(g711.alaw_encode(x)))
    assert (audio[500:] == g711.alaw_decode(g711.silence(g711.Law.ALAW, 1))[0]).all()
    assert len(audio) == 640
    assert p.finished and p.next_send_time() is None and p.due(200.0) == []
