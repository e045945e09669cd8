"""SIP message model: URIs, addresses, Via, Headers, serialisation and make_response."""

from __future__ import annotations

import pytest
from acdgate.gateway.sip.message import (
    Headers,
    NameAddr,
    Request,
    Response,
    SipSyntaxError,
    SipURI,
    Via,
    make_response,
    new_branch,
    new_tag,
    parse_name_addr,
    parse_uri,
    parse_via,
    reason_phrase,
)
from acdgate.gateway.sip.parser import parse_message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sip:acd.example.com", SipURI("sip", None, "acd.example.com")),
        ("SIP:201@192.0.2.1:5070", SipURI("sip", "201", "192.0.2.1", 5070)),
        (
            "sips:bob:secret@[2001:db8::1]:5061",
            SipURI("sips", "bob", "[2001:db8::1]", 5061, "secret"),
        ),
        ("sip:[::1]", SipURI("sip", None, "[::1]")),
        (
            "sip:alice@h;transport=tcp;lr?Subject=hi&Priority=urgent",
            SipURI(
                "sip",
                "alice",
                "h",
                None,
                None,
                (("transport", "tcp"), ("lr", None)),
                (("Subject", "hi"), ("Priority", "urgent")),
            ),
        ),
        ("sip:user;day=tue@h", SipURI("sip", "user;day=tue", "h")),
        ("sip:%61lice@h", SipURI("sip", "%61lice", "h")),
        (
            "tel:+1-201-555-0123;phone-context=acd",
            SipURI("tel", "+1-201-555-0123", "", params=(("phone-context", "acd"),)),
        ),
        ("urn:service:sos", SipURI("urn", None, "", opaque="service:sos")),
    ],
)
def test_parse_uri(text: str, expected: SipURI) -> None:
    uri = parse_uri(text)
    assert uri == expected
    assert parse_uri(str(uri)) == uri


@pytest.mark.parametrize(
    "text",
    ["", "sip:", "sip:@h", "sip:a b@h", "<sip:a@h>", "sip:h:99999", "sip:h:port", "sip:[::1",
     "sip:h;=x", "sip:h;a=", "sip:h?x", "1sip:h", "tel:xyz;x", "sip:a@", "sip:caf\u00e9@h"],
)  # fmt: skip
def test_parse_uri_rejects(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        parse_uri(text)


def test_uri_param_lookup_is_case_insensitive() -> None:
    uri = parse_uri("sip:h;Transport=TCP;LR")
    assert uri.param("transport") == "TCP" and uri.param("lr") == "" and uri.param("x") is None


def test_name_addr_forms() -> None:
    a = parse_name_addr(
        '"Agent \\"7\\"" <sip:201@acd.example.com;transport=udp>;tag=abc;expires=60'
    )
    assert a.display == 'Agent "7"' and a.tag == "abc" and a.param("EXPIRES") == "60"
    assert a.uri.param("transport") == "udp"
    assert parse_name_addr(str(a)) == a
    # addr-spec: parameters after the URI belong to the header (RFC 3261 20.10)
    b = parse_name_addr("sip:201@acd.example.com;tag=xyz;transport=udp")
    assert b.uri.params == () and b.params == (("tag", "xyz"), ("transport", "udp"))
    c = parse_name_addr("Bob Smith <sip:bob@h>")
    assert c.display == "Bob Smith" and c.params == ()
    assert parse_name_addr("<sip:bob@h>").display is None
    assert parse_name_addr("<tel:+4930123>").uri.user == "+4930123"


@pytest.mark.parametrize(
    "text",
    ['"unterminated <sip:a@h>', "<sip:a@h", "< sip:a@h>", "Bell, A <sip:a@h>", "<sip:a@h> junk",
     "sip:a@h?x=y", "<sip:a@h>;", "<sip:a@h>;tag=", "", '"a" junk <sip:a@h>'],
)  # fmt: skip
def test_name_addr_rejects(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        parse_name_addr(text)


def test_name_addr_with_param() -> None:
    a = parse_name_addr("<sip:a@h>;expires=10")
    assert str(a.with_param("tag", "t1")) == "<sip:a@h>;expires=10;tag=t1"
    assert a.with_param("Expires", "0").params == (("Expires", "0"),)
    assert NameAddr(parse_uri("sip:a@h"), 'x"y').__str__() == '"x\\"y" <sip:a@h>'


def test_via() -> None:
    v = parse_via("SIP/2.0/udp 192.0.2.1:5060;branch=z9hG4bK1;rport;received=10.0.0.1")
    assert (v.transport, v.host, v.port, v.branch, v.received) == (
        "UDP", "192.0.2.1", 5060, "z9hG4bK1", "10.0.0.1",
    )  # fmt: skip
    assert v.has_rport and v.rport is None
    v2 = v.with_param("rport", "5062").with_param("received", "192.0.2.99")
    assert v2.rport == 5062 and v2.received == "192.0.2.99"
    assert str(v2) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport=5062;received=192.0.2.99"
    assert parse_via(str(v2)) == v2
    assert not parse_via("SIP/2.0/TCP h").has_rport
    assert str(Via("TLS", "[::1]", 5061)) == "SIP/2.0/TLS [::1]:5061"


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP",
        "SIP/2.0 192.0.2.1",
        "SIP/2.0/UDP h;;",
        "SIP/2.0/UDP h:x",
        "SIP/2.0/UDP h;branch=",
    ],
)
def test_via_rejects(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        parse_via(text)


def test_headers_multidict() -> None:
    h = Headers([("via", "a"), ("Call-ID", "c1"), ("v", "b"), ("X-Thing", "1")])
    assert list(h) == [("Via", "a"), ("Call-ID", "c1"), ("Via", "b"), ("X-Thing", "1")]
    assert h.get("VIA") == "a" and h.get_all("v") == ["a", "b"] and h.get("i") == "c1"
    assert "x-thing" in h and "Route" not in h and 3 not in h
    h.insert_first("Via", "new")
    assert h.get_all("Via") == ["new", "a", "b"]
    h.insert_first("Record-Route", "<sip:p>")
    assert next(iter(h)) == ("Record-Route", "<sip:p>")
    h.set("Via", "only")
    assert h.get_all("Via") == ["only"] and [n for n, _ in h].index("Via") == 1
    h.set("Expires", "60")
    assert list(h)[-1] == ("Expires", "60")
    c = h.copy()
    h.remove("expires")
    assert "Expires" not in h and c.get("Expires") == "60" and len(c) == len(h) + 1


def test_parsed_values_are_cached_and_invalidated() -> None:
    h = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1")])
    first = h.parsed("Via", parse_via)
    assert h.parsed("Via", parse_via) is first
    h.set("Via", "SIP/2.0/UDP b;branch=z9hG4bK2")
    second = h.parsed("Via", parse_via)
    assert second is not None and second.host == "b"


def _request() -> Request:
    msg = parse_message(
        b"INVITE sip:201@acd.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP p.example.com;branch=z9hG4bK2, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        b"Max-Forwards: 69\r\n"
        b"To: <sip:201@acd.example.com>\r\n"
        b"From: Alice <sip:alice@example.com>;tag=f1\r\n"
        b"Call-ID: call-1\r\n"
        b"CSeq: 7 INVITE\r\n"
        b"Subject: not copied\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert isinstance(msg, Request)
    return msg


def test_make_response_copies_rfc_3261_8_2_6_2_fields() -> None:
    req = _request()
    resp = make_response(req, 486, to_tag="t9")
    assert (resp.status, resp.reason) == (486, "Busy Here")
    assert [n for n, _ in resp.headers] == ["Via", "Via", "From", "To", "Call-ID", "CSeq"]
    assert resp.headers.get_all("Via") == req.headers.get_all("Via")
    assert resp.to_addr is not None and resp.to_addr.tag == "t9"
    assert resp.from_addr == req.from_addr and resp.cseq == (7, "INVITE")
    wire = resp.to_bytes()
    assert wire.startswith(b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP p.example.com")
    assert wire.endswith(b"Content-Length: 0\r\n\r\n")
    again = parse_message(wire)
    assert (
        isinstance(again, Response)
        and again.headers.get("To") == "<sip:201@acd.example.com>;tag=t9"
    )


def test_make_response_reuses_what_the_request_parsed_of_unchanged_fields() -> None:
    req = _request()
    vias, cseq, from_addr, to_addr = req.vias, req.cseq, req.from_addr, req.to_addr
    resp = make_response(req, 200, to_tag="t9")
    # the same objects, not parsed again: Via (both), CSeq, From
    assert all(a is b for a, b in zip(resp.vias, vias, strict=True))
    assert resp.cseq is cseq and resp.from_addr is from_addr
    # the To gained a tag: its text changed, so it is parsed afresh
    assert resp.to_addr is not to_addr and resp.to_addr is not None and resp.to_addr.tag == "t9"


def test_make_response_keeps_an_existing_to_tag_and_custom_reason() -> None:
    req = _request()
    req.headers.set("To", "<sip:201@acd.example.com>;tag=old")
    resp = make_response(req, 200, "Fine", to_tag="new")
    assert resp.reason == "Fine" and resp.to_addr is not None and resp.to_addr.tag == "old"
    assert make_response(req, 100).headers.get("To") == "<sip:201@acd.example.com>;tag=old"


def test_to_bytes_rewrites_content_length() -> None:
    req = _request()
    req.body = b"hello"
    wire = req.to_bytes()
    assert b"Content-Length: 5\r\n\r\nhello" in wire and wire.count(b"Content-Length") == 1
    req.headers.remove("Content-Length")
    assert req.to_bytes().endswith(b"Content-Length: 5\r\n\r\nhello")
    assert (
        Response(200, "OK", Headers()).to_bytes() == b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
    )


def test_reason_phrases() -> None:
    assert [reason_phrase(s) for s in (100, 200, 423, 429, 489, 494, 580)] == [
        "Trying", "OK", "Interval Too Brief", "Provide Referrer Identity", "Bad Event",
        "Security Agreement Required", "Precondition Failure",
    ]  # fmt: skip
    assert reason_phrase(499) == "Client Error"


def test_branch_and_tag_are_fresh() -> None:
    branches = {new_branch() for _ in range(50)}
    assert len(branches) == 50 and all(b.startswith("z9hG4bK") and len(b) > 16 for b in branches)
    tags = {new_tag() for _ in range(50)}
    assert len(tags) == 50 and all(len(t) >= 8 for t in tags)


def test_make_response_reuses_the_requests_parsed_via_and_cseq() -> None:
    req = _request()
    top, cseq = req.top_via, req.cseq
    resp = make_response(req, 200, to_tag="t1")
    assert resp.top_via is top and resp.cseq is cseq  # not parsed a second time
    assert resp.vias == req.vias
    bare = make_response(_request(), 200)  # nothing parsed yet: parsed on demand, equal
    assert bare.top_via == top and bare.cseq == cseq


def test_replace_first_keeps_order_and_refreshes_the_parse_cache() -> None:
    from acdgate.gateway.sip.message import Headers, parse_via

    h = Headers([("Via", "SIP/2.0/UDP a:1;branch=z9hG4bK1"), ("To", "<sip:x@y>"),
                 ("Via", "SIP/2.0/UDP b:2;branch=z9hG4bK2")])
    assert h.parsed("Via", parse_via).host == "a"  # type: ignore[union-attr]
    new = parse_via("SIP/2.0/UDP a:1;branch=z9hG4bK1;received=10.0.0.1")
    h.replace_first("Via", str(new), parse_via, new)
    assert [n for n, _ in h] == ["Via", "To", "Via"]
    assert h.get_all("Via")[0].endswith("received=10.0.0.1")
    assert h.parsed("Via", parse_via) is new
    h.replace_first("Via", "SIP/2.0/TCP c:3;branch=z9hG4bK3")  # no parse given: cache dropped
    assert h.parsed("Via", parse_via).host == "c"  # type: ignore[union-attr]
    assert [v.host for v in h.parsed_all("Via", parse_via)] == ["c", "b"]
