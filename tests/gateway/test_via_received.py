"""RFC 3261 18.2.1 / RFC 3581 4: the stack records a request's real source in its top Via."""

from __future__ import annotations

import pytest
from acdgate.gateway.sip.message import parse_via
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.stack import _with_received


def _top_via_after(via: str, source: tuple[str, int]) -> str:
    request = parse_message(
        (
            f"OPTIONS sip:gw SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKx\r\n"
            "From: <sip:a@b>;tag=1\r\nTo: <sip:gw>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    assert not hasattr(request, "reason"), request
    updated = _with_received(request, source)  # type: ignore[arg-type]
    vias = updated.headers.get_all("Via")
    assert vias[1] == "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKx"  # only the top Via changes
    # the cached parse agrees with the new text
    assert updated.top_via == parse_via(vias[0])
    return vias[0]


@pytest.mark.parametrize(
    ("via", "source", "expected"),
    [
        # sent-by matches the source, no rport: untouched
        ("SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK1", ("198.18.0.2", 5060),
         "SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK1"),
        # another host (NAT): received
        ("SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK1", ("198.18.0.2", 5062),
         "SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK1;received=198.18.0.2"),
        # empty rport, same host: rport filled in place, and received added (RFC 3581 4)
        ("SIP/2.0/UDP 198.18.0.2:5060;rport;branch=z9hG4bK1", ("198.18.0.2", 40000),
         "SIP/2.0/UDP 198.18.0.2:5060;rport=40000;branch=z9hG4bK1;received=198.18.0.2"),
        # empty rport and another host
        ("SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK1;rport", ("198.18.0.2", 40000),
         "SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK1;rport=40000;received=198.18.0.2"),
        # a received already there (a lying client) is replaced in place
        ("SIP/2.0/UDP 10.1.1.1;received=10.9.9.9;branch=z9hG4bK1", ("198.18.0.2", 5060),
         "SIP/2.0/UDP 10.1.1.1;received=198.18.0.2;branch=z9hG4bK1"),
        # an rport with a value is the client's business, not refilled
        ("SIP/2.0/UDP 198.18.0.2;rport=5070;branch=z9hG4bK1", ("198.18.0.2", 40000),
         "SIP/2.0/UDP 198.18.0.2;rport=5070;branch=z9hG4bK1"),
        # parameter names are case-insensitive
        ("SIP/2.0/UDP 198.18.0.2;RPort;branch=z9hG4bK1", ("198.18.0.2", 40000),
         "SIP/2.0/UDP 198.18.0.2;RPort=40000;branch=z9hG4bK1;received=198.18.0.2"),
        # IPv6: the reference's brackets are not a difference
        ("SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1", ("2001:db8::5", 5060),
         "SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1"),
        ("SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1;rport", ("2001:db8::9", 5062),
         "SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1;rport=5062;received=2001:db8::9"),
    ],
)
def test_top_via_records_the_source(via: str, source: tuple[str, int], expected: str) -> None:
    assert _top_via_after(via, source) == expected
