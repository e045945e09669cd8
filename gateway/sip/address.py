"""name-addr / addr-spec header values: From, To, Contact, Route, Record-Route (RFC 3261 20.10).

In addr-spec form (no angle brackets) every ``;param`` after the URI belongs to the header,
not to the URI, and the URI may hold no ',', '?' or ';' (RFC 3261 20.10, RFC 4475 3.1.2.13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from acdgate.gateway.sip.headers import PLAIN_PARAMS, parse_params
from acdgate.gateway.sip.params import Params, WithParams, format_params, split_plain_params
from acdgate.gateway.sip.uri import (
    PLAIN_HOSTPORT,
    PLAIN_SIP_URI,
    PLAIN_SIP_URI_GROUPS,
    PLAIN_SIP_URI_NO_PARAMS_GROUPS,
    SipSyntaxError,
    SipURI,
    parse_uri,
    plain_sip_uri,
)

__all__ = ["NameAddr", "is_plain_name_addr", "parse_name_addr"]

# display-name as *(token LWS) (RFC 3261 25.1); quoted forms are handled separately.
_TOKEN_DISPLAY = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*")
_QUOTE_ESCAPES = re.compile(r'(["\\])')
# The shapes phones send (`"Name" <sip:u@h:p;transport=udp>;tag=x`, `sip:u@h;tag=x`); see
# `is_plain_name_addr`.
_PLAIN_DISPLAY = (
    r'(?:"[^"\\\r\n]*"[ \t]*|[A-Za-z0-9\-.!%*_+`\'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`\'~]+)*[ \t]*)?'
)
_PLAIN_NAME_ADDR = re.compile(_PLAIN_DISPLAY + r"<" + PLAIN_SIP_URI + r">" + PLAIN_PARAMS)
# addr-spec: the URI ends at the first ';' (no URI parameters), and a '<' anywhere would make
# parse_name_addr read the text before it as a display name
_PLAIN_ADDR_SPEC_PARAMS = (
    r"(?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=(?:[A-Za-z0-9\-.!%*_+`'~:\[\]]+|\"[^\";\\\r\n<]*\"))?)*"
)
_PLAIN_ADDR_SPEC = re.compile(
    r"sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$%]+@)?" + PLAIN_HOSTPORT + _PLAIN_ADDR_SPEC_PARAMS
)
# The same two shapes with groups: `parse_name_addr`'s fast path builds the value from one
# match. Groups: quoted display, token display, the five of PLAIN_SIP_URI_GROUPS, parameters.
_NAME_ADDR_PARTS = re.compile(
    r'(?:"([^"\\\r\n]*)"[ \t]*|([A-Za-z0-9\-.!%*_+`\'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`\'~]+)*)[ \t]*)?'
    r"<" + PLAIN_SIP_URI_GROUPS + r">(" + PLAIN_PARAMS + r")"
)
_ADDR_SPEC_PARTS = re.compile(
    PLAIN_SIP_URI_NO_PARAMS_GROUPS + r"(" + _PLAIN_ADDR_SPEC_PARAMS + r")"
)


def is_plain_name_addr(text: str) -> bool:
    """A quick check: True only for text `parse_name_addr` accepts (the common shapes, one
    regex match, no objects built); False means "parse it to know", not "invalid"."""
    if text in _PLAIN_SEEN:
        return True
    if "<" in text:
        plain = _PLAIN_NAME_ADDR.fullmatch(text) is not None
    else:
        plain = _PLAIN_ADDR_SPEC.fullmatch(text) is not None
    if plain:
        if len(_PLAIN_SEEN) >= _PLAIN_SEEN_LIMIT:
            _PLAIN_SEEN.clear()
        _PLAIN_SEEN.add(text)
    return plain


# Texts `is_plain_name_addr` found plain: a phone's To and Contact repeat in every REGISTER
# (the challenged one, its retry, each refresh), and the regex is most of the check's cost.
# Emptied when full, so memory stays bounded.
_PLAIN_SEEN: set[str] = set()
_PLAIN_SEEN_LIMIT = 4096


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
class NameAddr(WithParams):
    """A URI with optional display name and header parameters (``;tag=..;expires=..;q=..``)."""

    uri: SipURI
    display: str | None = None  # unescaped text of the display name
    params: Params = ()

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
        out.append(format_params(self.params))
        return "".join(out)


if NameAddr.__slots__ != ("uri", "display", "params"):
    raise ImportError("NameAddr fields changed: update _new_name_addr")
_new = object.__new__
_set_uri, _set_display, _set_params = (NameAddr.__dict__[n].__set__ for n in NameAddr.__slots__)


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


def _new_name_addr(uri: SipURI, display: str | None, params: Params) -> NameAddr:
    """NameAddr(uri, display, params) without the frozen __init__ (see uri.plain_sip_uri)."""
    addr = _new(NameAddr)
    _set_uri(addr, uri)
    _set_display(addr, display)
    _set_params(addr, params)
    return addr


# Recently parsed texts -> their (immutable) NameAddr: a challenged REGISTER and its
# authenticated retry, and every refresh from a phone, repeat the same To and Contact text.
# Only fast-path successes are kept; a full table is emptied, so memory stays bounded.
_RECENT: dict[str, NameAddr] = {}
_RECENT_LIMIT = 4096


def _remember(text: str, addr: NameAddr) -> NameAddr:
    if len(_RECENT) >= _RECENT_LIMIT:
        _RECENT.clear()
    _RECENT[text] = addr
    return addr


def parse_name_addr(text: str) -> NameAddr:
    """Parse a name-addr (``"Bob" <sip:b@h>;tag=1``) or an addr-spec (``sip:b@h;tag=1``)."""
    hit = _RECENT.get(text)
    if hit is not None:
        return hit
    stripped = text.strip()
    if "<" in stripped:
        plain = _NAME_ADDR_PARTS.fullmatch(stripped)
        if plain is not None:  # the usual shape, every part validated by the regex
            quoted, words, scheme, user, host, port, uparams, ptext = plain.groups()
            uri = plain_sip_uri(scheme, user, host, port, uparams)
            display = quoted if quoted is not None else words
            return _remember(
                text, _new_name_addr(uri, display, split_plain_params(ptext) if ptext else ())
            )
    else:
        plain = _ADDR_SPEC_PARTS.fullmatch(stripped)
        if plain is not None:
            scheme, user, host, port, ptext = plain.groups()
            uri = plain_sip_uri(scheme, user, host, port, None)
            return _remember(
                text, _new_name_addr(uri, None, split_plain_params(ptext) if ptext else ())
            )
    return _parse_name_addr_general(stripped)


def _parse_name_addr_general(text: str) -> NameAddr:
    """`parse_name_addr` for any shape (`text` stripped)."""
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
