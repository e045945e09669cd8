"""name-addr / addr-spec header values: From, To, Contact, Route, Record-Route (RFC 3261 20.10).

In addr-spec form (no angle brackets) every ``;param`` after the URI belongs to the header,
not to the URI, and the URI may hold no ',', '?' or ';' (RFC 3261 20.10, RFC 4475 3.1.2.13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from acdgate.gateway.sip.headers import PLAIN_PARAMS, parse_params
from acdgate.gateway.sip.uri import PLAIN_HOSTPORT, PLAIN_SIP_URI, SipSyntaxError, SipURI, parse_uri

__all__ = ["NameAddr", "is_plain_name_addr", "parse_name_addr"]

Params = tuple[tuple[str, str | None], ...]

# display-name as *(token LWS) (RFC 3261 25.1); quoted forms are handled separately.
_TOKEN_DISPLAY = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*")
_QUOTE_ESCAPES = re.compile(r'(["\\])')
# The shapes phones send (`"Name" <sip:u@h:p;transport=udp>;tag=x`, `sip:u@h;tag=x`); see
# `is_plain_name_addr`.
_PLAIN_NAME_ADDR = re.compile(
    r'(?:"[^"\\\r\n]*"[ \t]*|[A-Za-z0-9\-.!%*_+`\'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`\'~]+)*[ \t]*)?'
    r"<" + PLAIN_SIP_URI + r">" + PLAIN_PARAMS
)
# addr-spec: the URI ends at the first ';' (no URI parameters), and a '<' anywhere would make
# parse_name_addr read the text before it as a display name
_PLAIN_ADDR_SPEC = re.compile(
    r"sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$%]+@)?" + PLAIN_HOSTPORT
    + r"(?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=(?:[A-Za-z0-9\-.!%*_+`'~:\[\]]+|\"[^\";\\\r\n<]*\"))?)*"
)


def is_plain_name_addr(text: str) -> bool:
    """A quick check: True only for text `parse_name_addr` accepts (the common shapes, one
    regex match, no objects built); False means "parse it to know", not "invalid"."""
    if "<" in text:
        return _PLAIN_NAME_ADDR.fullmatch(text) is not None
    return _PLAIN_ADDR_SPEC.fullmatch(text) is not None


def _replace_param(params: Params, name: str, value: str | None) -> Params:
    key = name.lower()
    out = [(n, v) for n, v in params if n.lower() != key]
    if len(out) == len(params):
        return (*params, (name, value))
    # keep the position of the replaced parameter
    for i, (n, _) in enumerate(params):
        if n.lower() == key:
            out.insert(i, (name, value))
            break
    return tuple(out)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A URI with optional display name and header parameters (``;tag=..;expires=..;q=..``)."""

    uri: SipURI
    display: str | None = None  # unescaped text of the display name
    params: Params = ()

    def param(self, name: str) -> str | None:
        """Value of a header parameter (case-insensitive); "" for a flag without value."""
        key = name.lower()
        for pname, pvalue in self.params:
            if pname.lower() == key:
                return "" if pvalue is None else pvalue
        return None

    @property
    def tag(self) -> str | None:
        return self.param("tag")

    def with_param(self, name: str, value: str | None) -> NameAddr:
        return NameAddr(self.uri, self.display, _replace_param(self.params, name, value))

    def __str__(self) -> str:
        out = []
        if self.display is not None:
            out.append('"' + _QUOTE_ESCAPES.sub(r"\\\1", self.display) + '" ')
        out.append(f"<{self.uri}>")
        for n, v in self.params:
            out.append(f";{n}" if v is None else f";{n}={v}")
        return "".join(out)


def _quoted(text: str, start: int) -> tuple[str, int]:
    """Unescape the quoted-string opening at text[start]; returns (content, index after it)."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                break
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise SipSyntaxError("Unterminated quoted string")


def parse_name_addr(text: str) -> NameAddr:
    """Parse a name-addr (``"Bob" <sip:b@h>;tag=1``) or an addr-spec (``sip:b@h;tag=1``)."""
    text = text.strip()
    if not text:
        raise SipSyntaxError("Empty address")
    display: str | None = None
    if text[0] == '"':
        display, i = _quoted(text, 0)
        lt = text.find("<", i)
        if lt < 0 or text[i:lt].strip():
            raise SipSyntaxError("Invalid display name")
    else:
        lt = text.find("<")
        if lt > 0:
            words = text[:lt].strip()
            if not _TOKEN_DISPLAY.fullmatch(words):
                raise SipSyntaxError("Invalid display name")
            display = words
    if lt >= 0:
        gt = text.find(">", lt)
        if gt < 0:
            raise SipSyntaxError("Missing '>'")
        uri = parse_uri(text[lt + 1 : gt])  # no stripping: LWS inside <> is invalid (3.1.2.14)
        rest = text[gt + 1 :].lstrip()
        if not rest:
            return NameAddr(uri, display)
        if rest[0] != ";":
            raise SipSyntaxError("Invalid address parameters")
        return NameAddr(uri, display, parse_params(rest[1:]))
    # addr-spec: the URI ends at the first ';' and may not hold '?' or ','
    semi = text.find(";")
    uri_text = text if semi < 0 else text[:semi].rstrip()
    if "?" in uri_text or "," in uri_text:
        raise SipSyntaxError("URI with '?' or ',' must be in <>")
    uri = parse_uri(uri_text)
    if semi < 0:
        return NameAddr(uri)
    return NameAddr(uri, None, parse_params(text[semi + 1 :]))
