"""parse_message and StreamFramer: framing, header rules, the hostile corpus, and fuzzing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from acdgate.gateway.sip.address import (
    _ADDR_SPEC_PARTS,
    _NAME_ADDR_PARTS,
    _PLAIN_ADDR_SPEC,
    _PLAIN_NAME_ADDR,
    _parse_name_addr_general,
    is_plain_name_addr,
    parse_name_addr,
)
from acdgate.gateway.sip.message import Request, Response
from acdgate.gateway.sip.parser import (
    MAX_MESSAGE_BYTES,
    ParseError,
    StreamFramer,
    parse_message,
)
from acdgate.gateway.sip.uri import (
    _PLAIN_SIP_URI_PARTS,
    SipSyntaxError,
    _parse_uri_general,
    parse_uri,
)
from acdgate.gateway.sip.via import _PLAIN_VIA, _parse_via_general, is_plain_via, parse_via
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTILE = Path(__file__).parent / "data" / "hostile"

REGISTER = (
    b"REGISTER sip:acd.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "201" <sip:201@acd.example.com>\r\n'
    b'From: "201" <sip:201@acd.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 REGISTER\r\n"
    b"Contact: <sip:201@192.0.2.10:5060>;expires=3600\r\n"
    b"Content-Length: 0\r\n\r\n"
)
INVITE_BODY = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
INVITE = (
    b"INVITE sip:*35*1234#@acd.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKnashds8\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:*35*1234#@acd.example.com>\r\n"
    b"From: Alice <sip:alice@acd.example.com>;tag=1928301774\r\n"
    b"Call-ID: inv1@192.0.2.10\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060;transport=tcp>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(INVITE_BODY)).encode() + b"\r\n\r\n" + INVITE_BODY
)

# name -> (status, reason, answerable), or None for "accepted" (the ok_* positive controls)
HOSTILE_VERDICTS: dict[str, tuple[int, str, bool] | None] = {
    "truncated_headers": (400, "Truncated message", True),
    "truncated_start_line": (400, "Invalid Request-Line", False),
    "missing_via": (400, "Missing Via", False),
    "missing_cseq": (400, "Missing CSeq", False),
    "missing_call_id": (400, "Missing Call-ID", False),
    "bad_content_length": (400, "Invalid Content-Length", True),
    "content_length_beyond_datagram": (400, "Content-Length mismatch", True),
    "huge_content_length": (400, "Invalid Content-Length", True),
    "negative_content_length": (400, "Invalid Content-Length", True),
    "negative_cseq": (400, "Invalid CSeq", True),
    "cseq_overflow": (400, "Invalid CSeq", True),
    "cseq_method_mismatch": (400, "CSeq method mismatch", True),
    "duplicate_to": (400, "Duplicate To header", True),
    "duplicate_call_id_compact": (400, "Duplicate Call-ID header", True),
    "header_100k": (513, "Message too large", False),
    "header_10k": (400, "Header too long", False),
    "many_headers": (400, "Too many headers", False),
    "many_list_values": (400, "Too many headers", False),
    "binary_garbage": (400, "Invalid UTF-8 in start line", False),
    "non_utf8_header": (400, "Invalid UTF-8 in header Subject", False),
    "non_utf8_start_line": (400, "Invalid UTF-8 in start line", False),
    "nul_in_method": (400, "Invalid character in start line", False),
    "nul_in_call_id": (400, "Invalid character in header Call-ID", False),
    "bare_cr_in_header": (400, "Invalid character in header Call-ID", False),
    "empty": (400, "Empty message", False),
    "only_crlf": (400, "Empty message", False),
    "folding_before_first_header": (400, "Invalid header folding", True),
    "line_without_colon": (400, "Invalid header line", True),
    "empty_header_name": (400, "Invalid header line", True),
    "via_without_host": (400, "Invalid Via", False),
    "via_unterminated_ipv6": (400, "Invalid Via", False),
    "via_bad_port": (400, "Invalid Via", False),
    "max_forwards_garbage": (400, "Invalid Max-Forwards", True),
    "contact_unterminated_angle": (400, "Invalid Contact", True),
    "from_unterminated_quote": (400, "Invalid From", True),
    "request_uri_garbage": (400, "Invalid Request-URI", True),
    "start_line_only_method": (400, "Invalid Request-Line", True),
    # responses with defects are dropped (never answered)
    "status_code_two_digits": (400, "Invalid Status-Line", False),
    "status_code_overflow": (400, "Invalid Status-Line", False),
    "response_missing_via": (400, "Missing Via", False),
    "response_bad_cseq": (400, "Invalid CSeq", False),
    "response_version_3": (400, "Invalid Status-Line", False),
    # odd but valid: accepted
    "ok_non_utf8_body": None,
    "ok_bare_lf": None,
    "ok_leading_crlf": None,
    "ok_no_max_forwards": None,
    "ok_unknown_method": None,
}


def test_every_hostile_file_has_a_verdict() -> None:
    assert sorted(p.stem for p in HOSTILE.glob("*.dat")) == sorted(HOSTILE_VERDICTS)


@pytest.mark.parametrize("name", sorted(HOSTILE_VERDICTS))
def test_hostile_verdict(name: str) -> None:
    result = parse_message((HOSTILE / f"{name}.dat").read_bytes())
    expected = HOSTILE_VERDICTS[name]
    if expected is None:
        assert isinstance(result, Request), result
        return
    assert isinstance(result, ParseError), result
    assert (result.status, result.reason, result.answerable) == expected
    assert result.reason.isascii() and len(result.reason) < 60
    assert (result.request is not None) == result.answerable


def test_non_utf8_body_is_kept_as_bytes() -> None:
    msg = parse_message((HOSTILE / "ok_non_utf8_body.dat").read_bytes())
    assert isinstance(msg, Request) and msg.body == b"\xff\x00\xfe\x01"


def test_register_fields() -> None:
    msg = parse_message(REGISTER)
    assert isinstance(msg, Request)
    assert (msg.method, msg.uri) == ("REGISTER", "sip:acd.example.com")
    assert msg.call_id == "a84b4c76e66710@192.0.2.10"
    assert msg.cseq == (314159, "REGISTER")
    via = msg.top_via
    assert via is not None and (via.host, via.port, via.has_rport, via.rport) == (
        "192.0.2.10",
        5060,
        True,
        None,
    )
    assert msg.from_addr is not None and msg.from_addr.tag == "1928301774"
    assert [str(c.uri) for c in msg.contacts] == ["sip:201@192.0.2.10:5060"]
    assert msg.contacts[0].param("expires") == "3600"


def test_body_framed_by_content_length_and_extra_octets_dropped() -> None:
    msg = parse_message(INVITE + b"garbage after the body")
    assert isinstance(msg, Request) and msg.body == INVITE_BODY


def test_missing_content_length_on_udp_takes_the_rest() -> None:
    data = INVITE.replace(b"Content-Length: " + str(len(INVITE_BODY)).encode() + b"\r\n", b"")
    msg = parse_message(data)
    assert isinstance(msg, Request) and msg.body == INVITE_BODY


def test_folding_compact_names_and_canonical_case() -> None:
    data = (
        b"OPTIONS sip:acd.example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        b"t: <sip:acd.example.com>\r\n"
        b"f: <sip:a@example.com>;tag=1\r\n"
        b"i: c1\r\n"
        b"CSEQ: 1 OPTIONS\r\n"
        b"max-forwards: 70\r\n"
        b"k: timer,\r\n\t 100rel\r\n"
        b"o: presence\r\n"
        b"X-Custom-HEADER: kept as sent\r\n"
        b"Subject: first line\r\n   second line\r\n"
        b"l: 0\r\n\r\n"
    )
    msg = parse_message(data)
    assert isinstance(msg, Request)
    names = [name for name, _ in msg.headers]
    assert names == [
        "Via", "To", "From", "Call-ID", "CSeq", "Max-Forwards", "Supported", "Supported",
        "Event", "X-Custom-HEADER", "Subject", "Content-Length",
    ]  # fmt: skip
    assert msg.headers.get_all("supported") == ["timer", "100rel"]
    assert msg.headers.get("k") == "timer"
    assert msg.headers.get("Subject") == "first line second line"
    assert msg.headers.get("x-custom-header") == "kept as sent"


def test_comma_lists_split_only_where_the_grammar_is_a_list() -> None:
    data = REGISTER.replace(
        b"Content-Length: 0\r\n",
        b'Contact: "Smith, J" <sip:j@192.0.2.1;x=a,b>, <sip:k@192.0.2.2>;q=0.5\r\n'
        b'Authorization: Digest username="201", realm="acd", nonce="n,1", uri="sip:acd", '
        b'response="00"\r\n'
        b"Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n"
        b'WWW-Authenticate: Digest realm="a", nonce="b"\r\n'
        b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
        b"Content-Length: 0\r\n",
    )
    msg = parse_message(data)
    assert isinstance(msg, Request)
    assert len(msg.headers.get_all("Authorization")) == 1
    assert msg.headers.get("Date") == "Sat, 13 Nov 2010 23:29:00 GMT"
    assert len(msg.headers.get_all("WWW-Authenticate")) == 1
    assert msg.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    contacts = msg.contacts
    assert [c.display for c in contacts] == [None, "Smith, J", None]
    assert contacts[1].uri.params == (("x", "a,b"),)
    assert contacts[2].param("q") == "0.5"


def test_contact_star() -> None:
    data = REGISTER.replace(b"Contact: <sip:201@192.0.2.10:5060>;expires=3600", b"Contact: *")
    msg = parse_message(data)
    assert isinstance(msg, Request)
    assert msg.contacts == [] and msg.headers.get("Contact") == "*"


def test_ipv6_via_and_contact() -> None:
    data = REGISTER.replace(b"192.0.2.10:5060;branch", b"[2001:db8::10]:5062;branch").replace(
        b"<sip:201@192.0.2.10:5060>", b"<sip:201@[::1]:5060;transport=udp>"
    )
    msg = parse_message(data)
    assert isinstance(msg, Request)
    assert msg.top_via is not None
    assert (msg.top_via.host, msg.top_via.port) == ("[2001:db8::10]", 5062)
    uri = msg.contacts[0].uri
    assert (uri.host, uri.port, uri.param("transport")) == ("[::1]", 5060, "udp")


def test_answerable_error_carries_the_request() -> None:
    data = REGISTER.replace(b"CSeq: 314159 REGISTER", b"CSeq: 314159 INVITE")
    result = parse_message(data)
    assert isinstance(result, ParseError) and result.answerable
    assert result.request is not None and result.request.call_id == "a84b4c76e66710@192.0.2.10"


# --- StreamFramer ---------------------------------------------------------------------------


def test_framer_splits_pipelined_messages_and_skips_keepalives() -> None:
    framer = StreamFramer()
    stream = b"\r\n\r\n" + REGISTER + INVITE + b"\r\n\r\n" + REGISTER
    out = framer.feed(stream)
    assert [type(m).__name__ for m in out] == ["Request"] * 3
    assert [m.method for m in out if isinstance(m, Request)] == ["REGISTER", "INVITE", "REGISTER"]
    assert framer.pings == 2 and framer.buffered == 0 and not framer.broken


def test_framer_reassembles_byte_by_byte() -> None:
    framer = StreamFramer()
    out: list[Request | Response | ParseError] = []
    for i in range(len(INVITE)):
        out += framer.feed(INVITE[i : i + 1])
    assert len(out) == 1
    msg = out[0]
    assert isinstance(msg, Request) and msg.body == INVITE_BODY


def test_framer_missing_content_length_is_answerable_error() -> None:
    framer = StreamFramer()
    data = REGISTER.replace(b"Content-Length: 0\r\n", b"")
    (result,) = framer.feed(data + REGISTER)[:1]
    assert isinstance(result, ParseError)
    assert (result.reason, result.answerable) == ("Missing Content-Length", True)
    assert not framer.broken


@pytest.mark.parametrize(
    "data",
    [
        REGISTER.replace(b"Content-Length: 0", b"Content-Length: -1"),
        REGISTER.replace(b"Content-Length: 0", b"Content-Length: zero"),
        REGISTER.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 5"),
    ],
)
def test_framer_breaks_when_framing_is_lost(data: bytes) -> None:
    framer = StreamFramer()
    (result,) = framer.feed(data)
    assert isinstance(result, ParseError) and not result.answerable
    assert framer.broken and framer.buffered == 0
    assert framer.feed(REGISTER) == []


def test_framer_answers_an_oversized_message_with_513_then_breaks() -> None:
    # RFC 3261 21.5.14: the head arrived within the limit, so the request can be answered
    framer = StreamFramer()
    (result,) = framer.feed(REGISTER.replace(b"Content-Length: 0", b"Content-Length: 1000000"))
    assert isinstance(result, ParseError) and result.answerable and result.status == 513
    assert result.request is not None and result.request.call_id
    assert framer.broken and framer.buffered == 0
    assert framer.feed(REGISTER) == []


def test_an_oversized_datagram_whose_head_parses_is_answerable_with_513() -> None:
    big = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 70000") + b"x" * 70000
    result = parse_message(big)
    assert isinstance(result, ParseError) and result.answerable and result.status == 513
    garbage = parse_message(b"x" * 70000)
    assert isinstance(garbage, ParseError) and not garbage.answerable and garbage.status == 513


def test_framer_bounds_an_endless_header_block() -> None:
    framer = StreamFramer()
    framer.feed(b"REGISTER sip:x SIP/2.0\r\n")
    results: list[Request | Response | ParseError] = []
    for _ in range(100):
        results += framer.feed(b"X-Junk: " + b"a" * 1000 + b"\r\n")
        assert framer.buffered <= MAX_MESSAGE_BYTES
    assert framer.broken
    assert len(results) == 1 and isinstance(results[0], ParseError)
    assert results[0].reason == "Message too large"


# --- fuzzing ----------------------------------------------------------------------------------

SEEDS = [REGISTER, INVITE] + [
    p.read_bytes() for p in sorted((Path(__file__).parent / "data" / "rfc4475").glob("*.dat"))
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == 0 and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"\r\n",
                        b",",
                        b";",
                        b"<",
                        b'"',
                        b":",
                        b" ",
                        b"\x00",
                        b"%",
                        b"[",
                        b"\xff",
                        b"\r\n ",
                    ]
                )
            )
        elif op == 2:
            del data[pos : pos + draw(st.integers(1, 40))]
        else:
            data = data[:pos]
    return bytes(data)


def _check(result: object) -> None:
    assert isinstance(result, Request | Response | ParseError)
    if isinstance(result, ParseError):
        assert result.reason.isascii() and result.reason
        assert (result.request is not None) == result.answerable
    else:
        # whatever was accepted serialises and parses again
        again = parse_message(result.to_bytes())
        assert isinstance(again, type(result))
        for accessor in ("vias", "from_addr", "to_addr", "cseq", "contacts", "call_id"):
            getattr(result, accessor)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_parse_message_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    _check(parse_message(data))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_parse_message_never_raises_on_mutations(data: bytes) -> None:
    _check(parse_message(data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(), st.binary(max_size=300)), max_size=6), st.data())
def test_stream_framer_never_raises_and_stays_bounded(
    chunks: list[bytes], data: st.DataObject
) -> None:
    framer = StreamFramer(max_message_bytes=4096)
    for chunk in chunks:
        cut = data.draw(st.integers(0, len(chunk)))
        for part in (chunk[:cut], chunk[cut:]):
            for result in framer.feed(part):
                assert isinstance(result, Request | Response | ParseError)
            assert framer.buffered <= 4096


# -- quick checks: what they accept, the full parsers accept ------------------------------

@settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.from_regex(_PLAIN_NAME_ADDR, fullmatch=True),
                 st.from_regex(_PLAIN_ADDR_SPEC, fullmatch=True)))  # fmt: skip
def test_a_plain_address_always_parses(text: str) -> None:
    if is_plain_name_addr(text):
        parse_name_addr(text)  # raises if the quick check accepted something invalid


@settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.from_regex(_PLAIN_VIA, fullmatch=True))
def test_a_plain_via_always_parses(text: str) -> None:
    assert is_plain_via(text)
    parse_via(text)


def test_quick_checks_accept_what_phones_send_and_leave_the_rest_to_the_parsers() -> None:
    for text in ('<sip:2101@127.0.0.1>;tag=1SIPpTag001', '"Bob" <sip:b@h:5062;transport=udp>;tag=1',
                 'Alice <sip:a@example.com>;tag=f1', 'sip:201@h;tag=x',
                 '<sip:201@[::1]:5060>;+sip.instance="<urn:uuid:1>";reg-id=1',
                 '<sip:*35*1234#@acd.example.com>'):  # fmt: skip
        assert is_plain_name_addr(text), text
    for text in ('<sip:b@h:99999>', 'sip:a@h;x="<u>"', '<sip:a@h >', 'Bob<sip:b@h>,x', '<tel:123>'):
        assert not is_plain_name_addr(text), text
    assert is_plain_via("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-2;rport")
    assert not is_plain_via("SIP / 2.0 / UDP h;branch=z9hG4bK1")  # LWS: parsed the long way


@settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.from_regex(_PLAIN_VIA, fullmatch=True))
def test_the_plain_via_fast_path_gives_what_the_general_parse_gives(text: str) -> None:
    assert parse_via(text) == _parse_via_general(text)


@settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.from_regex(_PLAIN_SIP_URI_PARTS, fullmatch=True))
def test_the_plain_uri_fast_path_gives_what_the_general_parse_gives(text: str) -> None:
    assert parse_uri(text) == _parse_uri_general(text)


@settings(max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.from_regex(_NAME_ADDR_PARTS, fullmatch=True),
                 st.from_regex(_ADDR_SPEC_PARTS, fullmatch=True)))  # fmt: skip
def test_the_plain_address_fast_path_gives_what_the_general_parse_gives(text: str) -> None:
    assert parse_name_addr(text) == _parse_name_addr_general(text.strip())


def _outcome(parse: Callable[[str], object], text: str) -> object:
    try:
        return parse(text)
    except SipSyntaxError as exc:
        return str(exc)


def test_fast_paths_agree_with_the_general_parsers_on_the_corpora() -> None:
    """Every Via, address and URI of the RFC 4475 and hostile messages (and the bench's), as
    sent: the fast path and the general parser give the same value or the same error."""
    messages = [*SEEDS, *(p.read_bytes() for p in sorted(HOSTILE.glob("*.dat")))]
    checked = 0
    for data in messages:
        message = parse_message(data)
        request = message.request if isinstance(message, ParseError) else message
        if request is None:
            continue
        if isinstance(request, Request):
            assert _outcome(parse_uri, request.uri) == _outcome(_parse_uri_general, request.uri)
        for name, value in request.headers:
            if name == "Via":
                assert _outcome(parse_via, value) == _outcome(_parse_via_general, value)
            elif name in ("From", "To", "Contact", "Route", "Record-Route") and value != "*":
                assert _outcome(parse_name_addr, value) == _outcome(
                    _parse_name_addr_general, value.strip()
                )
            else:
                continue
            checked += 1
    assert checked > 200
