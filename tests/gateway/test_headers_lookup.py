"""`Headers` lookups after any sequence of changes answer what a plain scan of the fields in
order answers (compact and long names alike, parsed values cached per field and for the first
field of a name)."""

from __future__ import annotations

from acdgate.gateway.sip.headers import Headers, header_key
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
