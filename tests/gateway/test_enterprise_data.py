"""Enterprise data from an incoming call's headers (issue 16): plain headers and RFC 7433
User-to-User, bounded, and never an exception whatever the header holds."""

from __future__ import annotations

from acdgate.acd.caller_data import MAX_FIELDS, MAX_VALUE_CHARS
from acdgate.gateway.calls.enterprise_data import from_headers, uui_text
from hypothesis import given
from hypothesis import strategies as st


def test_hex_uui_with_an_ia5_discriminator_is_its_text() -> None:
    # RFC 7433 4.1 example shape; 0x04 (Q.931 IA5) then "CUST-42"
    assert uui_text("04435553542d3432;encoding=hex;purpose=isdn-uui") == "CUST-42"
    assert uui_text("435553542D3432; Encoding = HEX") == "CUST-42"  # case-insensitive, spaces


def test_hex_uui_that_is_not_text_is_shown_as_hex() -> None:
    assert uui_text("00ff10;encoding=hex") == "00ff10"


def test_uui_without_encoding_is_the_token_or_quoted_string() -> None:
    assert uui_text("abc123;purpose=x") == "abc123"
    assert uui_text('"a b;c";content=isdn-uui') == "a b;c"  # a quoted-string may hold ';'
    assert uui_text('"616263";encoding=hex') == "abc"


def test_only_the_first_uui_value_is_read() -> None:
    assert uui_text("4142;encoding=hex, 4344;encoding=hex") == "AB"


def test_unreadable_uui_is_left_out() -> None:
    for junk in ("", ";encoding=hex", "zz;encoding=hex", "414;encoding=hex", '"unterminated',
                 "41" * 300 + ";encoding=hex"):
        assert uui_text(junk) is None, junk


def test_from_headers_keeps_the_configured_ones_the_call_has() -> None:
    headers = {"x-account": " 4711 ", "user-to-user": "04414243;encoding=hex", "x-bad": "\x00\x01"}
    got = from_headers(["X-Account", "User-to-User", "X-Missing", "X-Bad"], lambda n: headers.get(n.lower()))
    assert got == (("X-Account", "4711"), ("User-to-User", "ABC"))


@given(st.text(max_size=3000))
def test_any_uui_value_never_raises_and_is_bounded(value: str) -> None:
    text = uui_text(value)
    assert text is None or (0 < len(text) <= MAX_VALUE_CHARS and text.isprintable())


@given(st.binary(max_size=400), st.sampled_from(["", ";encoding=hex", ";encoding=hex;purpose=isdn-uui"]))
def test_any_hex_uui_never_raises_and_is_bounded(data: bytes, params: str) -> None:
    text = uui_text(data.hex() + params)
    assert text is None or (0 < len(text) <= MAX_VALUE_CHARS and text.isprintable())


@given(st.lists(st.text(min_size=1, max_size=20), max_size=60), st.text(max_size=5000))
def test_any_headers_never_raise_and_are_bounded(names: list[str], value: str) -> None:
    got = from_headers(names, lambda name: value)
    assert len(got) <= MAX_FIELDS
    assert all(0 < len(v) <= MAX_VALUE_CHARS and v.isprintable() for _, v in got)
