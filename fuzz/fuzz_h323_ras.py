"""Fuzz the H.225.0 RAS decoder against its contract (the hostile corpus and hypothesis tests
in tests/gateway/test_h323_corpus.py are its first line; this is the long run).

Contract (gateway/h323/ras_codec.py): `RasCodec.decode` never raises; it returns a request
or a `RasDecodeError` naming the defect.
"""

from __future__ import annotations

from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import RasDecodeError

_CODEC = RasCodec()


def check(data: bytes) -> None:
    """One input as a RAS datagram."""
    result = _CODEC.decode(data)
    if isinstance(result, RasDecodeError):
        assert result.defect, "a RasDecodeError names its defect"


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
