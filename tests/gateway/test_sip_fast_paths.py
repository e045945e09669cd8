"""The registration hot path's shortcuts give what the plain forms give: serialisation against a
straightforward reference, `make_response` and `Headers.add` against fresh parses, the recent
name-addr table (bounded, equal results, errors raised every time) and the Via rebuilt for
received/rport (RFC 3261 18.2.1, RFC 3581 4) against `str(Via)`."""

from __future__ import annotations

import pytest
from acdgate.gateway.sip import address
from acdgate.gateway.sip.address import _parse_name_addr_general, parse_name_addr
from acdgate.gateway.sip.headers import Headers
from acdgate.gateway.sip.message import (
    Request,
    Response,
    SipSyntaxError,
    make_response,
    parse_cseq,
    parse_via,
)
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.via import Via, via_with_params
from hypothesis import given, settings
from hypothesis import strategies as st

NAMES = ["Via", "v", "Content-Length", "l", "content-length", "To", "X-Custom", "Date", "Server"]
fields = st.lists(
    st.tuples(st.sampled_from(NAMES), st.text(alphabet="ab 1;=,:", max_size=5)), max_size=12
)


def _reference_bytes(start_line: str, headers: Headers, body: bytes) -> bytes:
    """RFC 3261 7 / 20.14 written plainly: the first Content-Length in place with the body's
    length, later ones dropped, one appended when there was none."""
    out = start_line + "\r\n"
    written = False
    for name, value in headers:
        if name == "Content-Length":
            if written:
                continue
            value, written = str(len(body)), True
        out += f"{name}: {value}\r\n"
    if not written:
        out += f"Content-Length: {len(body)}\r\n"
    return (out + "\r\n").encode() + body


@settings(max_examples=300)
@given(fields, st.binary(max_size=8), st.booleans())
def test_serialisation_equals_the_reference(
    items: list[tuple[str, str]], body: bytes, request: bool
) -> None:
    headers = Headers(items)
    message: Request | Response
    if request:
        message = Request("OPTIONS", "sip:gw", headers, body)
        start = "OPTIONS sip:gw SIP/2.0"
    else:
        message = Response(200, "OK", headers, body)
        start = "SIP/2.0 200 OK"
    assert message.to_bytes() == _reference_bytes(start, headers, body)


@given(fields)
def test_add_stores_what_the_constructor_stores(items: list[tuple[str, str]]) -> None:
    headers = Headers()
    for name, value in items:
        headers.add(name, value)
    assert headers._fields == Headers(items)._fields


REGISTER = (
    b"REGISTER sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n"
    b"Max-Forwards: 70\r\nVia: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2\r\nTo: <sip:2101@gw>\r\n"
    b"From: <sip:2101@gw>;tag=9\r\nCall-ID: c1\r\nCSeq: 7 REGISTER\r\n"
    b"Contact: <sip:2101@10.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n"
)


@pytest.mark.parametrize("warm", [False, True])
def test_make_response_fields_and_adopted_parses_match_fresh_ones(warm: bool) -> None:
    request = parse_message(REGISTER)
    assert isinstance(request, Request)
    if warm:  # what the stack and the registrar parse before answering
        request.vias, request.to_addr, request.from_addr, request.contacts  # noqa: B018
    response = make_response(request, 200, to_tag="t1")
    assert list(response.headers) == [
        ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport"),
        ("Via", "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2"),
        ("From", "<sip:2101@gw>;tag=9"),
        ("To", "<sip:2101@gw>;tag=t1"),
        ("Call-ID", "c1"),
        ("CSeq", "7 REGISTER"),
    ]
    assert response.vias == [parse_via(v) for v in response.headers.get_all("Via")]
    assert response.cseq == parse_cseq("7 REGISTER")
    assert response.to_addr == parse_name_addr("<sip:2101@gw>;tag=t1")
    assert response.from_addr == parse_name_addr("<sip:2101@gw>;tag=9")


def test_recent_addresses_are_the_same_values_and_bounded() -> None:
    text = '"Bob" <sip:2101@192.0.2.1:5060;transport=udp>;tag=abc'
    first = parse_name_addr(text)
    assert parse_name_addr(text) is first
    assert first == _parse_name_addr_general(text)
    assert parse_name_addr(" sip:2101@gw;tag=x ") == _parse_name_addr_general("sip:2101@gw;tag=x")
    for n in range(2 * address._RECENT_LIMIT + 10):  # a flood of distinct addresses
        assert parse_name_addr(f"<sip:{n}@gw>;tag={n}").tag == str(n)
        assert len(address._RECENT) <= address._RECENT_LIMIT


def test_plain_address_checks_are_remembered_bounded_and_only_when_plain() -> None:
    from acdgate.gateway.sip.address import is_plain_name_addr

    for _ in range(2):  # a repeat answers from the set, the same way
        assert is_plain_name_addr("<sip:2101@127.0.0.1>")
        assert not is_plain_name_addr("<sip:2101@127.0.0.1> ; tag = 1")  # LWS: parse it to know
    assert "<sip:2101@127.0.0.1>" in address._PLAIN_SEEN
    assert "<sip:2101@127.0.0.1> ; tag = 1" not in address._PLAIN_SEEN
    for n in range(2 * address._PLAIN_SEEN_LIMIT + 10):  # a flood of distinct From tags
        assert is_plain_name_addr(f"<sip:2101@gw>;tag={n}")
        assert len(address._PLAIN_SEEN) <= address._PLAIN_SEEN_LIMIT


@pytest.mark.parametrize("text", ["<sip:a@b", "sip:a@b?x=1", '"unterminated <sip:a@b>', ""])
def test_bad_addresses_raise_every_time(text: str) -> None:
    for _ in range(3):
        with pytest.raises(SipSyntaxError):
            parse_name_addr(text)
    assert text not in address._RECENT


def test_general_shapes_are_not_remembered() -> None:
    text = "Bob  Smith <sip:b@h> ; tag = 1"  # LWS around ';' and '=': the general parser's
    assert parse_name_addr(text) == _parse_name_addr_general(text)
    assert text not in address._RECENT


params = st.lists(
    st.tuples(st.sampled_from(["branch", "rport", "received", "x"]),
              st.none() | st.text(alphabet="a1.", min_size=1, max_size=4)),
    max_size=4,
).map(tuple)  # fmt: skip


@given(st.sampled_from(["UDP", "TCP"]), st.sampled_from(["10.0.0.1", "[2001:db8::1]", "h.example"]),
       st.none() | st.integers(1, 65535), params, params)  # fmt: skip
def test_via_with_params_is_the_via_and_its_text(
    transport: str, host: str, port: int | None,
    old: tuple[tuple[str, str | None], ...], new: tuple[tuple[str, str | None], ...],
) -> None:  # fmt: skip
    via = Via(transport, host, port, old)
    changed, text = via_with_params(via, new)
    assert changed == Via(transport, host, port, new)
    assert text == str(Via(transport, host, port, new))
    assert parse_via(text) == changed
