"""RFC 4475 SIP torture messages: each parses, or is refused, as the RFC says.

The .dat files are the RFC's own (exact bytes, CRLF). Verdict table: ACCEPT means the message
parses and round-trips; otherwise (status, reason, answerable) of the ParseError. Where the RFC
lets an element choose, the comment says which choice we made and why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from acdgate.gateway.sip.message import Request, Response, make_response
from acdgate.gateway.sip.parser import ParseError, parse_message

DATA = Path(__file__).parent / "data" / "rfc4475"
ACCEPT = None

VERDICTS: dict[str, tuple[int, str, bool] | None] = {
    # 3.1.1 valid messages: all elements must accept them
    "wsinv": ACCEPT,  # 3.1.1.1 short tortuous INVITE
    "intmeth": ACCEPT,  # 3.1.1.2 wide range of valid characters
    "esc01": ACCEPT,  # 3.1.1.3 valid use of % escaping
    "escnull": ACCEPT,  # 3.1.1.4 escaped NULs in URIs
    "esc02": ACCEPT,  # 3.1.1.5 % that is not an escape
    "lwsdisp": ACCEPT,  # 3.1.1.6 no LWS between display name and <
    "longreq": ACCEPT,  # 3.1.1.7 long values in header fields
    "dblreq": ACCEPT,  # 3.1.1.8 extra trailing octets in a UDP datagram (ignored)
    "semiuri": ACCEPT,  # 3.1.1.9 semicolon-separated parameters in the user part
    "transports": ACCEPT,  # 3.1.1.10 varied and unknown transport types
    "mpart01": ACCEPT,  # 3.1.1.11 multipart MIME body
    "unreason": ACCEPT,  # 3.1.1.12 unusual (UTF-8) reason phrase
    "noreason": ACCEPT,  # 3.1.1.13 empty reason phrase
    # 3.1.2 invalid messages
    "badinv01": (400, "Invalid Via", False),  # 3.1.2.1 RFC: 400; the top Via ";;,;,," cannot
    # be parsed, so there is nowhere to send the 400: dropped
    "clerr": (400, "Content-Length mismatch", True),  # 3.1.2.2 RFC: 400 (UDP)
    "ncl": (400, "Invalid Content-Length", True),  # 3.1.2.3 negative Content-Length: 400
    "scalar02": (400, "Invalid CSeq", True),  # 3.1.2.4 RFC: 400 due to the CSeq error
    "scalarlg": (400, "Invalid CSeq", False),  # 3.1.2.5 response: RFC says discard
    "quotbal": (400, "Invalid To", True),  # 3.1.2.6 unterminated quote: 400
    "ltgtruri": (400, "Invalid Request-URI", True),  # 3.1.2.7 <> around the Request-URI: 400
    "lwsruri": (400, "Invalid Request-Line", True),  # 3.1.2.8 LWS in the Request-URI: 400
    "lwsstart": (400, "Invalid Request-Line", True),  # 3.1.2.9 several SP in the line: 400
    "trws": (400, "Invalid Request-Line", True),  # 3.1.2.10 trailing SP: 400
    "escruri": (400, "Invalid Request-URI", True),  # 3.1.2.11 headers in the Request-URI:
    # the RFC allows 400 or ignoring them; we refuse (19.1.1 forbids them there)
    "baddate": ACCEPT,  # 3.1.2.12 non-GMT Date: the RFC allows ignoring it; we never read Date
    "regbadct": (400, "Invalid Contact", True),  # 3.1.2.13 URI with ? not in <>: 400
    "badaspec": (400, "Invalid To", True),  # 3.1.2.14 spaces inside <>: 400 (reasonable)
    "baddn": (400, "Invalid From", True),  # 3.1.2.15 non-token display name: 400
    "badvers": (505, "Version Not Supported", True),  # 3.1.2.16 SIP/7.0: 505
    "mismatch01": (400, "CSeq method mismatch", True),  # 3.1.2.17 400
    "mismatch02": (400, "CSeq method mismatch", True),  # 3.1.2.18 400 (501 also allowed)
    "bigcode": (400, "Invalid Status-Line", False),  # 3.1.2.19 response: discard
    # 3.2 transaction layer: parses
    "badbranch": ACCEPT,  # 3.2.1 branch with only the magic cookie
    # 3.3 application layer: parse, the application decides (416, 420, 415, 483 ...)
    "insuf": (400, "Missing From", False),  # 3.3.1 RFC: ideally 400, but without From, To
    # and Call-ID no response can be built: dropped
    "unkscm": ACCEPT,  # 3.3.2 unknown Request-URI scheme (application: 416)
    "novelsc": ACCEPT,  # 3.3.3 known but atypical scheme (soap.beep)
    "unksm2": ACCEPT,  # 3.3.4 unknown URI schemes in header fields
    "bext01": ACCEPT,  # 3.3.5 Proxy-Require / Require (application: 420)
    "invut": ACCEPT,  # 3.3.6 unknown Content-Type (application: 415)
    "regaut01": ACCEPT,  # 3.3.7 unknown authorization scheme
    "multi01": (400, "Duplicate CSeq header", True),  # 3.3.8 repeated single fields: 400
    "mcl01": (400, "Duplicate Content-Length header", True),  # 3.3.9 400
    "bcast": ACCEPT,  # 3.3.10 200 OK with a broadcast Via
    "zeromf": ACCEPT,  # 3.3.11 Max-Forwards: 0 (application: 483)
    "cparam01": ACCEPT,  # 3.3.12 REGISTER with a Contact parameter
    "cparam02": ACCEPT,  # 3.3.13 REGISTER with a URI parameter
    "regescrt": ACCEPT,  # 3.3.14 REGISTER with an escaped header in a <> Contact
    "sdp01": ACCEPT,  # 3.3.15 unacceptable Accept (application: 406)
    # 3.4 backward compatibility
    "inv2543": ACCEPT,  # 3.4.1 RFC 2543 syntax: no branch, no Max-Forwards, no tags
}


def test_every_dat_file_has_a_verdict() -> None:
    assert sorted(p.stem for p in DATA.glob("*.dat")) == sorted(VERDICTS)


def _load(name: str) -> bytes:
    return (DATA / f"{name}.dat").read_bytes()


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_verdict(name: str) -> None:
    result = parse_message(_load(name))
    expected = VERDICTS[name]
    if expected is ACCEPT:
        assert isinstance(result, Request | Response), result
        return
    assert isinstance(result, ParseError), result
    assert (result.status, result.reason, result.answerable) == expected
    assert result.reason.isascii()
    if result.answerable:
        assert isinstance(result.request, Request)
        response = make_response(result.request, result.status, result.reason)
        # the 400/505 goes back along the request's Vias, with its status line
        assert response.headers.get_all("Via") == result.request.headers.get_all("Via")
        assert response.to_bytes().startswith(f"SIP/2.0 {expected[0]} {expected[1]}\r\n".encode())
    else:
        assert result.request is None


@pytest.mark.parametrize("name", sorted(n for n, v in VERDICTS.items() if v is ACCEPT))
def test_round_trip_is_stable(name: str) -> None:
    first = parse_message(_load(name))
    assert isinstance(first, Request | Response)
    wire = first.to_bytes()
    second = parse_message(wire)
    assert isinstance(second, type(first))
    # equal apart from Content-Length, which to_bytes always (re)writes
    without_length = [(n, v) for n, v in first.headers if n != "Content-Length"]
    assert [(n, v) for n, v in second.headers if n != "Content-Length"] == without_length
    assert second.headers.get_all("Content-Length") == [str(len(first.body))]
    assert second.body == first.body
    if isinstance(first, Request):
        assert isinstance(second, Request)
        assert (second.method, second.uri) == (first.method, first.uri)
    else:
        assert isinstance(second, Response)
        assert (second.status, second.reason) == (first.status, first.reason)
    assert second.to_bytes() == wire
    # the typed views agree too
    assert second.vias == first.vias
    assert second.from_addr == first.from_addr
    assert second.to_addr == first.to_addr
    assert second.cseq == first.cseq


def test_wsinv_details() -> None:
    msg = parse_message(_load("wsinv"))
    assert isinstance(msg, Request)
    assert msg.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert msg.cseq == (9, "INVITE")
    assert msg.headers.get("Max-Forwards") == "0068"
    assert msg.headers.get("Subject") == ""
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.to_addr is not None and msg.to_addr.tag == "1918181833n"
    assert msg.from_addr is not None
    assert msg.from_addr.display == 'J Rosenberg \\"' and msg.from_addr.tag == "98asjd8"
    (contact,) = msg.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.param("newparam") == "newvalue" and contact.param("q") == "0.33"
    assert contact.param("secondparam") == ""
    assert len(msg.body) == 150
    assert [name for name, _ in msg.headers][:4] == ["To", "From", "Max-Forwards", "Call-ID"]


def test_intmeth_details() -> None:
    msg = parse_message(_load("intmeth"))
    assert isinstance(msg, Request)
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    uri = msg.request_uri
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert msg.to_addr is not None and msg.to_addr.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_addr is not None and msg.from_addr.tag == "_token~1'+`*%!-."
    assert msg.from_addr.display == "token1~` token2'+_ token3*%!.-"


def test_escapes_are_kept_verbatim() -> None:
    msg = parse_message(_load("esc01"))
    assert isinstance(msg, Request)
    assert msg.request_uri.user == "sips%3Auser%40example.com"
    assert msg.request_uri.host == "example.net"
    (contact,) = msg.contacts
    assert contact.uri.params == (("%6C%72", None), ("n%61me", "v%61lue%25%34%31"))


def test_semiuri_user_params() -> None:
    msg = parse_message(_load("semiuri"))
    assert isinstance(msg, Request)
    assert msg.request_uri.user == "user;par=u%40example.net"
    assert msg.request_uri.host == "example.com"


def test_transports() -> None:
    msg = parse_message(_load("transports"))
    assert isinstance(msg, Request)
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_dblreq_ignores_the_trailing_request() -> None:
    msg = parse_message(_load("dblreq"))
    assert isinstance(msg, Request)
    assert msg.method == "REGISTER" and msg.body == b""


def test_reason_phrases() -> None:
    unreason = parse_message(_load("unreason"))
    assert isinstance(unreason, Response)
    assert unreason.reason.startswith("= 2**3 * 5**2 ")
    assert "сто девяносто девять" in unreason.reason
    noreason = parse_message(_load("noreason"))
    assert isinstance(noreason, Response)
    assert (noreason.status, noreason.reason) == (100, "")


def test_unknown_schemes_in_headers_are_opaque() -> None:
    msg = parse_message(_load("unksm2"))
    assert isinstance(msg, Request)
    assert msg.to_addr is not None
    assert msg.to_addr.uri.scheme == "isbn" and str(msg.to_addr.uri) == "isbn:2983792873"
