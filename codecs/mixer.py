"""Mixing G.711 streams for supervisor monitor, whisper (coach) and barge-in: decode, sum
in int32, saturate to int16, encode. Each party hears the sum of what the mode lets it hear,
never its own voice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

import numpy as np
import numpy.typing as npt
from acdgate.codecs.g711 import Law, decode, encode

Samples = npt.NDArray[np.int16]


class MixMode(Enum):
    """Supervisor modes: listen only; talk to the agent only; talk to both."""

    MONITOR = "monitor"
    WHISPER = "whisper"
    BARGE = "barge"


class Party(Enum):
    CALLER = "caller"
    AGENT = "agent"
    SUPERVISOR = "supervisor"


# Who hears whom, per mode (RFC-free: the ACD convention of Cisco/Avaya supervisor features).
HEARS: Mapping[MixMode, Mapping[Party, tuple[Party, ...]]] = {
    MixMode.MONITOR: {Party.CALLER: (Party.AGENT,), Party.AGENT: (Party.CALLER,),
                      Party.SUPERVISOR: (Party.CALLER, Party.AGENT)},
    MixMode.WHISPER: {Party.CALLER: (Party.AGENT,), Party.AGENT: (Party.CALLER, Party.SUPERVISOR),
                      Party.SUPERVISOR: (Party.CALLER, Party.AGENT)},
    MixMode.BARGE: {Party.CALLER: (Party.AGENT, Party.SUPERVISOR),
                    Party.AGENT: (Party.CALLER, Party.SUPERVISOR),
                    Party.SUPERVISOR: (Party.CALLER, Party.AGENT)},
}


def mix_linear(streams: Sequence[npt.ArrayLike]) -> Samples:
    """Sum int16 streams with saturation; shorter streams count as silence at their end."""
    arrays = [np.asarray(s, dtype=np.int16) for s in streams]
    if not arrays:
        return np.zeros(0, dtype=np.int16)
    n = max(len(a) for a in arrays)
    acc = np.zeros(n, dtype=np.int32)
    for a in arrays:
        acc[: len(a)] += a
    return np.clip(acc, -32768, 32767).astype(np.int16)


def mix_payloads(law: Law, payloads: Sequence[bytes]) -> bytes:
    """Mix G.711 payloads of one law into one payload."""
    if len(payloads) == 1:
        return payloads[0]
    return encode(law, mix_linear([decode(law, p) for p in payloads]))


def supervisor_mix(mode: MixMode, law: Law, frames: Mapping[Party, bytes]) -> dict[Party, bytes]:
    """What each party hears this frame. `frames` holds each party's outgoing payload (a
    missing party is silent); the result has a payload for every party present."""
    decoded = {party: decode(law, payload).astype(np.int32) for party, payload in frames.items()}
    n = max((len(v) for v in decoded.values()), default=0)
    out: dict[Party, bytes] = {}
    for party in frames:
        acc = np.zeros(n, dtype=np.int32)
        for other in HEARS[mode][party]:
            src = decoded.get(other)
            if src is not None:
                acc[: len(src)] += src
        out[party] = encode(law, np.clip(acc, -32768, 32767).astype(np.int16))
    return out
