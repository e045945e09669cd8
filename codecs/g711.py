"""ITU-T G.711 mu-law and A-law for 16-bit linear samples, table-driven and numpy-vectorised.

Bit-exact with the classic Sun/CCITT reference code that Python's old `audioop` used
(`lin2ulaw`/`ulaw2lin`/`lin2alaw`/`alaw2lin` with width 2): encoding looks up a 65,536-entry
table indexed by the uint16 view of the int16 samples, decoding a 256-entry table, and
mu-law <-> A-law transcoding is one `bytes.translate`.

Also the level reference of G.711: dBm0 for 16-bit linear samples (the "digital milliwatt").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]

# G.711 Table 1/2 note: a full-scale sine is +3.17 dBm0 (mu-law) / +3.14 dBm0 (A-law);
# we use the mu-law figure for both, so 0 dBm0 is a sine of this peak amplitude.
FULL_SCALE_DBM0 = 3.17
DBM0_PEAK_AMPLITUDE = 32767.0 * 10.0 ** (-FULL_SCALE_DBM0 / 20.0)
# Mean power (mean of x^2) of a 0 dBm0 sine.
DBM0_POWER = DBM0_PEAK_AMPLITUDE**2 / 2.0

SILENCE_ULAW = 0xFF
SILENCE_ALAW = 0xD5


class Law(Enum):
    """Which G.711 companding law; value is the RTP static payload type (RFC 3551)."""

    ULAW = 0  # PCMU
    ALAW = 8  # PCMA


def dbm0_to_amplitude(level_dbm0: float) -> float:
    """Peak amplitude (16-bit linear) of a sine at `level_dbm0`."""
    return float(DBM0_PEAK_AMPLITUDE * 10.0 ** (level_dbm0 / 20.0))


def power_to_dbm0(mean_power: float) -> float:
    """Level in dBm0 of a signal whose mean square (16-bit linear) is `mean_power`."""
    if mean_power <= 0.0:
        return -math.inf
    return 10.0 * math.log10(mean_power / DBM0_POWER)


def samples_dbm0(samples: npt.ArrayLike) -> float:
    """Level in dBm0 of a block of linear samples (mean power over the block)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return -math.inf
    return power_to_dbm0(float(np.mean(x * x)))


# --- table construction (the reference segment algorithms, vectorised) -------------------

# Segment end points of the reference code: mu-law works on 14-bit magnitudes, A-law on 13-bit.
_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159


def _build_ulaw_encode_table() -> bytes:
    linear = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32)
    pcm = linear >> 2  # 14-bit two's complement, arithmetic shift like the reference
    negative = pcm < 0
    mask = np.where(negative, 0x7F, 0xFF)
    mag = np.minimum(np.where(negative, -pcm, pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")  # first segment whose end >= mag
    code = np.where(
        seg >= 8,
        0x7F,
        (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0xF),
    )
    return (code ^ mask).astype(np.uint8).tobytes()


def _build_alaw_encode_table() -> bytes:
    linear = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32)
    pcm = linear >> 3  # 13-bit two's complement
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    mag = np.where(negative, -pcm - 1, pcm)
    seg = np.searchsorted(_SEG_AEND, mag, side="left")
    segc = np.minimum(seg, 7)
    quant = np.where(segc < 2, mag >> 1, mag >> np.maximum(segc, 1)) & 0xF
    code = np.where(seg >= 8, 0x7F, (segc << 4) | quant)
    return (code ^ mask).astype(np.uint8).tobytes()


def _build_ulaw_decode_table() -> Samples:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _build_alaw_decode_table() -> Samples:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


# Immutable tables computed once at import (bytes and read-only arrays, not mutable state).
_ULAW_ENC: bytes = _build_ulaw_encode_table()
_ALAW_ENC: bytes = _build_alaw_encode_table()
_ULAW_ENC_NP = np.frombuffer(_ULAW_ENC, dtype=np.uint8)
_ALAW_ENC_NP = np.frombuffer(_ALAW_ENC, dtype=np.uint8)
_ULAW_DEC = _build_ulaw_decode_table()
_ALAW_DEC = _build_alaw_decode_table()
_ULAW_DEC.flags.writeable = False
_ALAW_DEC.flags.writeable = False


def _pair_table(table: Samples) -> Samples:
    # Decodes two codes per lookup: row i holds the samples of bytes (i & 0xFF, i >> 8),
    # so a payload viewed as little-endian uint16 indexes it directly (about 2x faster).
    i = np.arange(65536)
    pairs = np.empty((65536, 2), dtype=np.int16)
    pairs[:, 0] = table[i & 0xFF]
    pairs[:, 1] = table[i >> 8]
    pairs.flags.writeable = False
    return pairs


_ULAW_DEC2 = _pair_table(_ULAW_DEC)
_ALAW_DEC2 = _pair_table(_ALAW_DEC)
# Transcoding through the linear value (decode, then re-encode with the other law).
_ULAW_TO_ALAW: bytes = _ALAW_ENC_NP[_ULAW_DEC.view(np.uint16)].tobytes()
_ALAW_TO_ULAW: bytes = _ULAW_ENC_NP[_ALAW_DEC.view(np.uint16)].tobytes()


def _as_index(samples: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    x = np.asarray(samples)
    if x.dtype != np.int16:
        x = np.clip(x, -32768, 32767).astype(np.int16)
    return x.view(np.uint16) if x.flags.c_contiguous else np.ascontiguousarray(x).view(np.uint16)


# --- public API --------------------------------------------------------------------------


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    """Encode int16 linear samples (other dtypes are clipped to int16) to mu-law bytes."""
    return _ULAW_ENC_NP[_as_index(samples)].tobytes()


def alaw_encode(samples: npt.ArrayLike) -> bytes:
    """Encode int16 linear samples (other dtypes are clipped to int16) to A-law bytes."""
    return _ALAW_ENC_NP[_as_index(samples)].tobytes()


def _decode(payload: bytes, table: Samples, pairs: Samples) -> Samples:
    n = len(payload)
    if n % 2 == 0:
        return pairs.take(np.frombuffer(payload, dtype="<u2"), axis=0).reshape(n)
    return table.take(np.frombuffer(payload, dtype=np.uint8))


def ulaw_decode(payload: bytes) -> Samples:
    """Decode mu-law bytes to a new int16 array."""
    return _decode(payload, _ULAW_DEC, _ULAW_DEC2)


def alaw_decode(payload: bytes) -> Samples:
    """Decode A-law bytes to a new int16 array."""
    return _decode(payload, _ALAW_DEC, _ALAW_DEC2)


def ulaw_to_alaw(payload: bytes) -> bytes:
    """Transcode mu-law to A-law by byte table (via the decoded linear value)."""
    return payload.translate(_ULAW_TO_ALAW)


def alaw_to_ulaw(payload: bytes) -> bytes:
    """Transcode A-law to mu-law by byte table (via the decoded linear value)."""
    return payload.translate(_ALAW_TO_ULAW)


def encode(law: Law, samples: npt.ArrayLike) -> bytes:
    """Encode with the given law."""
    return ulaw_encode(samples) if law is Law.ULAW else alaw_encode(samples)


def decode(law: Law, payload: bytes) -> Samples:
    """Decode with the given law."""
    return ulaw_decode(payload) if law is Law.ULAW else alaw_decode(payload)


def silence(law: Law, n: int) -> bytes:
    """`n` bytes of G.711 silence (the code for linear zero)."""
    return bytes([SILENCE_ULAW if law is Law.ULAW else SILENCE_ALAW]) * n


def encode_table(law: Law) -> bytes:
    """The 65,536-entry encode table, indexed by the uint16 view of an int16 sample."""
    return _ULAW_ENC if law is Law.ULAW else _ALAW_ENC


def decode_table(law: Law) -> Sequence[int]:
    """The 256 linear values of the codes, as a tuple of ints."""
    table = _ULAW_DEC if law is Law.ULAW else _ALAW_DEC
    return tuple(int(v) for v in table)
