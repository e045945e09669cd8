"""Fuzz the H.225.0 call signalling channel's decoders: TPKT framing and Q.931/H.225.0.

Contract (gateway/h323/tpkt.py, gateway/h323/cs_codec.py): `TpktReader.feed` never raises,
returns payloads and at most one `TpktError` (last), then reads nothing more;
`CallSignalCodec.decode` never raises: a message or a `CallSignalDecodeError` with the cause
to answer.
"""

from __future__ import annotations

from acdgate.gateway.h323.cs_codec import CallSignalCodec
from acdgate.gateway.h323.cs_messages import CallSignalDecodeError
from acdgate.gateway.h323.tpkt import TpktError, TpktReader

_CODEC = CallSignalCodec()


def _payload(payload: bytes) -> None:
    result = _CODEC.decode(payload)
    if isinstance(result, CallSignalDecodeError):
        assert result.defect, "a CallSignalDecodeError names its defect"


def check(data: bytes) -> None:
    """One input as a TPKT payload, then as a TCP stream cut in two."""
    _payload(data)
    reader = TpktReader()
    cut = len(data) // 2
    for chunk in (data[:cut], data[cut:]):
        items = reader.feed(chunk)
        errors = [i for i in items if isinstance(i, TpktError)]
        assert not errors or (len(errors) == 1 and items[-1] is errors[0]), items
        for item in items:
            if isinstance(item, bytes):
                _payload(item)
    if reader.failed:
        assert reader.feed(b"\x03\x00\x00\x05\x00") == []
    reader.eof()


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
