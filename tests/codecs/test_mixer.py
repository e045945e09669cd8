"""Mixing: saturation, and who hears whom in monitor, whisper and barge."""

from __future__ import annotations

import numpy as np
from acdgate.codecs import g711
from acdgate.codecs.mixer import MixMode, Party, mix_linear, mix_payloads, supervisor_mix


def test_mix_linear_saturates_and_pads() -> None:
    a = np.array([30000, -30000, 100, 5], np.int16)
    b = np.array([30000, -30000, -100], np.int16)
    assert mix_linear([a, b]).tolist() == [32767, -32768, 0, 5]
    assert mix_linear([]).tolist() == []


def test_mix_payloads_equals_per_sample_sum() -> None:
    rng = np.random.default_rng(3)
    xs = [rng.integers(-20000, 20000, 160).astype(np.int16) for _ in range(3)]
    for law in g711.Law:
        payloads = [g711.encode(law, x) for x in xs]
        dec = [g711.decode(law, p).astype(int) for p in payloads]
        expected = [max(-32768, min(32767, a + b + c)) for a, b, c in zip(*dec, strict=True)]
        assert g711.decode(law, mix_payloads(law, payloads)).tolist() == \
            g711.decode(law, g711.encode(law, np.array(expected, np.int16))).tolist()


def test_supervisor_modes() -> None:
    law = g711.Law.ULAW
    tone = {p: g711.ulaw_encode(np.full(160, v, np.int16))
            for p, v in ((Party.CALLER, 1000), (Party.AGENT, 2000), (Party.SUPERVISOR, 4000))}

    def level(payload: bytes) -> int:
        return int(g711.ulaw_decode(payload)[0])

    def heard(mode: MixMode) -> dict[Party, int]:
        return {p: level(v) for p, v in supervisor_mix(mode, law, tone).items()}

    c, a, s = (level(tone[p]) for p in (Party.CALLER, Party.AGENT, Party.SUPERVISOR))

    def q(*values: int) -> int:  # the sum of decoded values, re-encoded
        return level(g711.ulaw_encode(np.full(1, sum(values), np.int16)))

    assert heard(MixMode.MONITOR) == {Party.CALLER: q(a), Party.AGENT: q(c),
                                      Party.SUPERVISOR: q(c, a)}
    assert heard(MixMode.WHISPER) == {Party.CALLER: q(a), Party.AGENT: q(c, s),
                                      Party.SUPERVISOR: q(c, a)}
    assert heard(MixMode.BARGE) == {Party.CALLER: q(a, s), Party.AGENT: q(c, s),
                                    Party.SUPERVISOR: q(c, a)}
    assert q(a) != q(a, s)  # the modes really differ
