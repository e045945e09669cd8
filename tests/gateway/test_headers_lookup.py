"""`Headers` lookups after any sequence of changes answer what a plain scan of the fields in
order answers (compact and long names alike, parsed values cached per field and for the first
field of a name)."""

from __future__ import annotations

from acdgate.gateway.sip.headers import (
    COMPACT_FORMS,
    HEADER_NAMES,
    Headers,
    canonical_name,
    header_field,
    header_key,
)
from acdgate.gateway.sip.message import Request
from acdgate.gateway.sip.parser import parse_message
from hypothesis import example, given, settings
from hypothesis import strategies as st

NAMES = ["Via", "v", "Contact", "m", "To", "Expires", "X-Custom", "x-custom"]
ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "add",
                "insert_first",
                "set",
                "remove",
                "replace_first",
                "replace_parsed",
                "get",
                "parsed",
            ]
        ),
        st.sampled_from(NAMES),
        st.text(alphabet="abc;=", min_size=1, max_size=4),
    ),
    max_size=30,
)


def _reference(fields: list[tuple[str, str]], name: str) -> list[str]:
    key = header_key(name)
    return [v for n, v in fields if header_key(n) == key]


@settings(max_examples=400)
@given(ops, st.booleans())
@example([("parsed", "X-Custom", "a"), ("replace_first", "x-custom", "b")], False)  # stale first
@example([("parsed", "To", "a"), ("replace_parsed", "t", "b"), ("add", "To", "c")], True)
@example([("parsed", "Via", "a"), ("insert_first", "v", "b")], True)
def test_lookups_agree_with_a_scan_after_any_changes(
    changes: list[tuple[str, str, str]], parsed: bool
) -> None:
    if parsed:  # start from the parser's fields and index
        message = parse_message(
            b"OPTIONS sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nv: SIP/2.0/UDP g\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:gw>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
            b"X-Custom: one\r\nContent-Length: 0\r\n\r\n"
        )
        headers = message.headers  # type: ignore[union-attr]
    else:
        headers = Headers([("X-Custom", "one")])
    for op, name, value in changes:
        if op == "get":
            headers.get(name)  # interleaved lookups: any caching must survive the changes
        elif op == "parsed":
            headers.parsed(name, str.upper)  # fills the per-field and the first-field caches
        elif op == "replace_parsed":
            headers.replace_first(name, value, str.upper, value.upper())  # seeds them
        elif op == "remove":
            headers.remove(name)
        else:
            getattr(headers, op)(name, value)
    fields = list(headers)
    for name in [*NAMES, "From", "Call-ID", "Absent"]:
        expected = _reference(fields, name)
        assert headers.get_all(name) == expected
        assert headers.get(name) == (expected[0] if expected else None)
        assert (name in headers) == bool(expected)
        assert headers.parsed(name, str.upper) == (expected[0].upper() if expected else None)


def _names_reference(name: str) -> tuple[str, str]:
    """(key, canonical name) from the two lists alone: compact letters expanded (RFC 3261
    7.3.3), known names in their registered spelling, others as sent; keys lower case."""
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower].lower(), COMPACT_FORMS[lower]
    for known in HEADER_NAMES:
        if known.lower() == lower:
            return lower, known
    return lower, name


# headers whose value the parser checks (or that the message below already holds once)
_CHECKED = frozenset(("via", "from", "to", "call-id", "cseq", "contact", "content-length",
                      "content-type", "max-forwards"))  # fmt: skip
_SPELLINGS = st.sampled_from([*HEADER_NAMES, *COMPACT_FORMS, "X-Custom", "q", "Vias", "Kall-ID"])


@given(_SPELLINGS, st.lists(st.booleans(), max_size=20))
@example("i", [True])
@example("\u212a", [])  # KELVIN SIGN: lower() makes it "k", Supported's compact form
def test_one_name_table_for_keys_and_canonical_names(spelling: str, upper: list[bool]) -> None:
    # any mix of cases, as phones send them; the parser and Headers share the table
    name = "".join(c.upper() if i < len(upper) and upper[i] else c for i, c in enumerate(spelling))
    expected = _names_reference(name)
    assert header_field(name) == expected
    assert (header_key(name), canonical_name(name)) == expected
    if name.isascii() and expected[0] not in _CHECKED:
        message = parse_message(
            b"OPTIONS sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:gw>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
            b"Content-Length: 0\r\n" + name.encode() + b": 1\r\n\r\n"
        )
        assert isinstance(message, Request), message
        assert list(message.headers)[-1] == (expected[1], "1")
        assert message.headers.get(expected[0].upper()) == "1"
