"""Fuzz the H.245 decoder against its contract (tests/gateway/test_h245_codec.py holds its
hostile corpus tests; this is the long run).

Contract (gateway/h323/h245_codec.py): `H245Codec.decode` never raises; it returns a message
or an `H245DecodeError`.
"""

from __future__ import annotations

from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_messages import H245DecodeError, H245Message

_CODEC = H245Codec()


def check(data: bytes) -> None:
    """One input as an H.245 PDU (a TPKT payload on the H.245 channel or a tunnelled one)."""
    result = _CODEC.decode(data)
    if isinstance(result, H245DecodeError):
        assert result.defect, "an H245DecodeError names its defect"
    else:
        assert isinstance(result, H245Message), result


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
