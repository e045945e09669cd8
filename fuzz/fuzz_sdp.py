"""Fuzz the SDP parser and the offer/answer rules against their contract.

Contract (gateway/media/sdp.py): parsing and answering raise only `SdpError` (the caller
answers 488 with it); a parsed description serialises to bytes that parse into one that
serialises to the same bytes (equivalent: lines we keep but do not interpret are written in
RFC 4566 order, so `i=` before `t=` and `r=` after it whatever order they came in);
an answer we build parses, and `parse_answer` checks it against the offer with `SdpError` as
its only failure.
"""

from __future__ import annotations

from acdgate.gateway.media.sdp import (
    SdpError,
    SessionDescription,
    build_offer,
    negotiate_answer,
    parse_answer,
)

_OUR_OFFER = build_offer("192.0.2.1", 40000, 1)


def check(data: bytes) -> None:
    """One input as an offer from the peer and as an answer to our offer."""
    try:
        sdp = SessionDescription.parse(data)
    except SdpError:
        pass
    else:
        written = sdp.to_bytes()
        again = SessionDescription.parse(written)
        assert again.to_bytes() == written, (sdp, again)
    try:
        negotiated = negotiate_answer(data, "192.0.2.1", 40000, 7)
    except SdpError:
        pass
    else:
        SessionDescription.parse(negotiated.local.to_bytes())
    try:
        parse_answer(data, _OUR_OFFER)
    except SdpError:
        pass


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
