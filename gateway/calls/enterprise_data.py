"""Enterprise data from an incoming call's SIP headers: the site names the headers to keep.

A plain header (`X-Account: 4711`) is kept as its text; `User-to-User` is RFC 7433's
`uui-data *(;uui-param)`, hex when `encoding=hex`. Everything here is bounded (the header
read, the bytes decoded, the text kept) and never raises on junk: a value that cannot be
read is left out, so a bad header never fails the call it arrived on. Pure: no I/O.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Sequence

from acdgate.acd.caller_data import MAX_FIELDS, MAX_VALUE_CHARS, DataFields, printable

MAX_HEADER_CHARS = 1024  # more than any UUI (ISDN UUI is at most 131 octets) or account number
MAX_UUI_OCTETS = 256
UUI_HEADER = "user-to-user"
IA5_DISCRIMINATOR = 0x04  # Q.931 4.5.30 protocol discriminator: IA5 characters follow


def uui_text(value: str) -> str | None:
    """The text of a `User-to-User` value (RFC 7433 4.1), or None when it cannot be read.

    Only the first uui-value of a comma list is read. With `encoding=hex` the data is decoded;
    a leading protocol discriminator octet (RFC 7434 via Q.931, 0x04 for IA5) is dropped; the
    rest is shown when it is printable ASCII, else as hex.
    """
    value = value[:MAX_HEADER_CHARS]
    first = _first_value(value).strip()
    if first.startswith('"'):  # a quoted-string may hold ';'
        end = first.find('"', 1)
        data, params = (first[1:end], first[end + 1:]) if end > 0 else ("", "")
    else:
        data, _, params = first.partition(";")
        data = data.strip()
    encoding = None
    for param in params.split(";"):
        name, _, arg = param.partition("=")
        if name.strip().lower() == "encoding":
            encoding = arg.strip().strip('"').lower()
    if not data:
        return None
    if encoding != "hex":  # RFC 7433 4.1: uui-data is a token or quoted-string as sent
        text = printable(data, MAX_VALUE_CHARS)
        return text or None
    if len(data) > 2 * MAX_UUI_OCTETS or len(data) % 2:
        return None
    try:
        octets = binascii.unhexlify(data)
    except (binascii.Error, ValueError):
        return None
    if octets and octets[0] == IA5_DISCRIMINATOR:
        octets = octets[1:]
    if octets and all(0x20 <= b < 0x7F for b in octets):
        return octets.decode("ascii")[:MAX_VALUE_CHARS]
    return octets.hex()[:MAX_VALUE_CHARS] or None


def _first_value(value: str) -> str:
    """The text up to the first comma outside a quoted string."""
    quoted = False
    for i, c in enumerate(value):
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            return value[:i]
    return value


def from_headers(names: Sequence[str], get: Callable[[str], str | None]) -> DataFields:
    """(header name as configured, text) for each of `names` the call carries (`get` is the
    message's header lookup); at most MAX_FIELDS, unreadable values left out."""
    out: list[tuple[str, str]] = []
    for name in names[:MAX_FIELDS]:
        raw = get(name)
        if raw is None:
            continue
        if name.lower() == UUI_HEADER:
            text = uui_text(raw)
        else:
            text = printable(raw[:MAX_HEADER_CHARS].strip(), MAX_VALUE_CHARS) or None
        if text is not None:
            out.append((name, text))
    return tuple(out)
