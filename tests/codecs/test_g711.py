"""G.711 bit-exactness: all 65,536 linear values and all 256 codes, against an independent
per-sample implementation of the G.711 segment algorithm and, where present, audioop."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from acdgate.codecs import g711


def _audioop() -> object | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("audioop")
        except ImportError:  # Python >= 3.13
            return None


# --- independent per-sample reference (bit_length instead of tables / searchsorted) ------

def ref_lin2ulaw(s: int) -> int:
    v = s >> 2  # 14-bit
    positive = v >= 0
    mag = min(v if positive else -v, 8159) + 33
    exp = max(mag.bit_length() - 6, 0)
    code = 0x7F if exp > 7 else (exp << 4) | ((mag >> (exp + 1)) & 0xF)
    return (0x80 if positive else 0) | (~code & 0x7F)


def ref_lin2alaw(s: int) -> int:
    v = s >> 3  # 13-bit
    positive = v >= 0
    mag = v if positive else -v - 1
    if mag > 0xFFF:
        code = 0x7F
    else:
        seg = max(mag.bit_length() - 5, 0)
        code = (seg << 4) | ((mag >> (seg if seg > 1 else 1)) & 0xF)
    return ((0x80 if positive else 0) | code) ^ 0x55


def ref_ulaw2lin(c: int) -> int:
    u = ~c & 0xFF
    exp, mant = (u >> 4) & 7, u & 0xF
    mag = 4 * (((2 * mant + 33) << exp) - 33)  # G.711 Table 2 decoder output, 16-bit scale
    return -mag if u & 0x80 else mag


def ref_alaw2lin(c: int) -> int:
    a = c ^ 0x55
    seg, mant = (a >> 4) & 7, a & 0xF
    mag = 8 * (2 * mant + 1) if seg == 0 else 8 * ((2 * mant + 33) << (seg - 1))
    return mag if a & 0x80 else -mag


ALL_LINEAR = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_all_linear_values() -> None:
    expected = bytes(ref_lin2ulaw(int(s)) for s in ALL_LINEAR)
    got = g711.ulaw_encode(ALL_LINEAR)
    assert got == expected
    audioop = _audioop()
    if audioop is not None:
        assert got == audioop.lin2ulaw(ALL_LINEAR.tobytes(), 2)  # type: ignore[attr-defined]


def test_alaw_encode_all_linear_values() -> None:
    expected = bytes(ref_lin2alaw(int(s)) for s in ALL_LINEAR)
    got = g711.alaw_encode(ALL_LINEAR)
    assert got == expected
    audioop = _audioop()
    if audioop is not None:
        assert got == audioop.lin2alaw(ALL_LINEAR.tobytes(), 2)  # type: ignore[attr-defined]


def test_decode_all_codes() -> None:
    u = g711.ulaw_decode(ALL_CODES)
    a = g711.alaw_decode(ALL_CODES)
    assert u.dtype == np.int16 and a.dtype == np.int16
    assert u.tolist() == [ref_ulaw2lin(c) for c in ALL_CODES]
    assert a.tolist() == [ref_alaw2lin(c) for c in ALL_CODES]
    audioop = _audioop()
    if audioop is not None:
        assert u.tobytes() == audioop.ulaw2lin(ALL_CODES, 2)  # type: ignore[attr-defined]
        assert a.tobytes() == audioop.alaw2lin(ALL_CODES, 2)  # type: ignore[attr-defined]


def test_decode_then_encode_is_identity_except_negative_zero() -> None:
    # Every code survives decode+encode except mu-law 0x7F (-0), which encodes as +0 (0xFF).
    u_back = g711.ulaw_encode(g711.ulaw_decode(ALL_CODES))
    assert [c for c in ALL_CODES if u_back[c] != c] == [0x7F]
    assert g711.alaw_encode(g711.alaw_decode(ALL_CODES)) == ALL_CODES


@pytest.mark.parametrize(("src", "dst"), [(g711.Law.ULAW, g711.Law.ALAW), (g711.Law.ALAW, g711.Law.ULAW)])
def test_transcoding_error_is_within_one_target_step(src: g711.Law, dst: g711.Law) -> None:
    table = g711.ulaw_to_alaw if src is g711.Law.ULAW else g711.alaw_to_ulaw
    out = table(ALL_CODES)
    assert len(out) == 256
    lin_src = g711.decode(src, ALL_CODES).astype(np.int32)
    lin_dst = g711.decode(dst, out).astype(np.int32)
    # Step size of the target code's segment (16-bit scale).
    ref_dec = ref_alaw2lin if dst is g711.Law.ALAW else ref_ulaw2lin
    for c, ls, ld in zip(out, lin_src, lin_dst, strict=True):
        neighbours = sorted({ref_dec(c ^ 1), ref_dec(c)}, key=abs)
        step = max(abs(neighbours[1] - neighbours[0]), 16)
        assert abs(int(ld) - int(ls)) <= step, (c, ls, ld)
    assert out == g711.encode(dst, lin_src.astype(np.int16))


def test_transcode_round_trip_alaw_ulaw_alaw_is_close() -> None:
    back = g711.ulaw_to_alaw(g711.alaw_to_ulaw(ALL_CODES))
    assert sum(1 for a, b in zip(back, ALL_CODES, strict=True) if a != b) < 40


def test_encode_accepts_other_dtypes_with_clipping() -> None:
    x = np.array([-1e9, -32768.0, 0.0, 32767.0, 1e9])
    assert g711.ulaw_encode(x) == g711.ulaw_encode(np.array([-32768, -32768, 0, 32767, 32767], np.int16))
    assert g711.silence(g711.Law.ULAW, 3) == g711.ulaw_encode(np.zeros(3, np.int16))
    assert g711.silence(g711.Law.ALAW, 3) == g711.alaw_encode(np.zeros(3, np.int16))


def test_dbm0_reference() -> None:
    t = np.arange(8000) / 8000.0
    sine = np.round(g711.dbm0_to_amplitude(-10.0) * np.sin(2 * np.pi * 1004 * t))
    assert abs(g711.samples_dbm0(sine) - (-10.0)) < 0.01
    # A full-scale sine is +3.17 dBm0 (G.711).
    assert abs(g711.dbm0_to_amplitude(g711.FULL_SCALE_DBM0) - 32767) < 1e-6
