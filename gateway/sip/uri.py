"""SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966), parsed from and serialised to text.

Escapes (``%41``) are kept as sent so a parse/serialise round trip is exact; IPv6
references keep their brackets (``[::1]``) because that is how they appear on the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from acdgate.gateway.sip.params import Params, WithParams, format_params, split_plain_params

__all__ = ["SipSyntaxError", "SipURI", "parse_uri"]


class SipSyntaxError(ValueError):
    """A header value or URI does not follow the RFC 3261 grammar; the text names the defect."""


# Characters allowed anywhere in a URI as we accept it: printable ASCII except SP, <, > and ".
_URI_TEXT = re.compile(r"[!#-;=?-~]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# RFC 3261 25.1 hostname / IPv4address (lenient: '_' is seen in the wild).
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_.])?")
_IPV6_REF = re.compile(r"\[[0-9A-Fa-f:.]+\]")

# Building blocks of the quick checks (`address.is_plain_name_addr`, `via.is_plain_via`): each
# matches only text `parse_hostport` / `parse_uri` accept, so a full match needs no parse.
_PLAIN_HOST = r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_.])?|\[[0-9A-Fa-f:.]+\])"
_PLAIN_PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# '#' is not in RFC 3261 25.1's user, but phones dial feature codes (*35*1234#) with it
# unescaped and the general parser takes it as it is; the fast path must agree.
_PLAIN_USER = r"[A-Za-z0-9\-_.!~*'()&=+$%#]+"
_PLAIN_URI_PARAMS = r"(?:;[A-Za-z0-9\-_.!~*'()/:&+$%]+(?:=[A-Za-z0-9\-_.!~*'()/:&+$%]+)?)*"
PLAIN_HOSTPORT = _PLAIN_HOST + r"(?::" + _PLAIN_PORT + r")?"
# sip:/sips: with an optional plain user, no password, no URI headers, simple parameters
PLAIN_SIP_URI = r"sips?:(?:" + _PLAIN_USER + r"@)?" + PLAIN_HOSTPORT + _PLAIN_URI_PARAMS
# The same shape with four groups (scheme, user, host, port) before the parameters; with
# PLAIN_SIP_URI_GROUPS's fifth group (parameters) it is `parse_uri`'s fast path, and the
# address fast paths embed both (see `plain_sip_uri`).
PLAIN_SIP_URI_NO_PARAMS_GROUPS = (
    r"(sips?):(?:(" + _PLAIN_USER + r")@)?(" + _PLAIN_HOST + r")(?::(" + _PLAIN_PORT + r"))?"
)
PLAIN_SIP_URI_GROUPS = PLAIN_SIP_URI_NO_PARAMS_GROUPS + r"(" + _PLAIN_URI_PARAMS + r")"
_PLAIN_SIP_URI_PARTS = re.compile(PLAIN_SIP_URI_GROUPS)
_PORT = re.compile(r"[0-9]{1,5}")
_PARAM_NAME = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+")
_TEL_NUMBER = re.compile(r"[0-9A-Fa-f+\-.()*#pwPW]+")


@dataclass(frozen=True, slots=True)
class SipURI(WithParams):
    """A ``sip:``/``sips:``/``tel:`` URI; other schemes keep their text in ``opaque``."""

    scheme: str  # "sip" | "sips" | "tel" (lower case); any other scheme is opaque
    user: str | None
    host: str  # for tel: the number goes in `user`, host ""
    port: int | None = None
    password: str | None = None
    params: Params = ()  # ;transport=tcp;lr
    headers: tuple[tuple[str, str], ...] = ()
    opaque: str | None = None  # everything after "scheme:" for schemes we do not interpret

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        if self.scheme == "tel":
            return f"tel:{self.user or ''}{format_params(self.params)}"
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        out.append(format_params(self.params))
        if self.headers:
            out.append("?" + "&".join(f"{n}={v}" for n, v in self.headers))
        return "".join(out)


# A frozen dataclass's __init__ stores each field with object.__setattr__ (a name lookup per
# field); the fast paths build the usual values straight through the slot descriptors, at
# half the cost. The field list is checked here so a new field cannot be left unset.
_new = object.__new__
_URI_FIELDS = ("scheme", "user", "host", "port", "password", "params", "headers", "opaque")
if SipURI.__slots__ != _URI_FIELDS:
    raise ImportError("SipURI fields changed: update plain_sip_uri")
(_set_scheme, _set_user, _set_host, _set_port, _set_password, _set_params, _set_headers,
 _set_opaque) = (SipURI.__dict__[name].__set__ for name in SipURI.__slots__)  # fmt: skip


def parse_hostport(text: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (host may be an IPv6 reference); raises SipSyntaxError."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipSyntaxError("Invalid host")
        host, rest = text[: end + 1], text[end + 1 :]
        if not _IPV6_REF.fullmatch(host):
            raise SipSyntaxError("Invalid host")
        if not rest:
            return host, None
        if rest[0] != ":":
            raise SipSyntaxError("Invalid host")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.partition(":")
        if not _HOSTNAME.fullmatch(host):
            raise SipSyntaxError("Invalid host")
        if not colon:
            return host, None
    if not _PORT.fullmatch(port_text):
        raise SipSyntaxError("Invalid port")
    port = int(port_text)
    if port > 65535:
        raise SipSyntaxError("Invalid port")
    return host, port


def _uri_params(text: str) -> Params:
    out: list[tuple[str, str | None]] = []
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if not _PARAM_NAME.fullmatch(name) or (eq and not value):
            raise SipSyntaxError("Invalid URI parameter")
        out.append((name, value if eq else None))
    return tuple(out)


def _parse_sip(scheme: str, rest: str) -> SipURI:
    user: str | None = None
    password: str | None = None
    # RFC 3261 25.1: '@' cannot appear unescaped in userinfo, so the first one ends it
    # (the user part itself may hold ';', '?' and ',', e.g. RFC 4475 3.1.1.2 and 3.1.1.9).
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        colon = userinfo.find(":")
        if colon >= 0:
            user, password = userinfo[:colon], userinfo[colon + 1 :]
        else:
            user = userinfo
        if not user:
            raise SipSyntaxError("Invalid URI user")
    headers: tuple[tuple[str, str], ...] = ()
    q = rest.find("?")
    if q >= 0:
        items = []
        for item in rest[q + 1 :].split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq:
                raise SipSyntaxError("Invalid URI header")
            items.append((name, value))
        headers = tuple(items)
        rest = rest[:q]
    params: Params = ()
    semi = rest.find(";")
    if semi >= 0:
        params = _uri_params(rest[semi + 1 :])
        rest = rest[:semi]
    host, port = parse_hostport(rest)
    return SipURI(scheme, user, host, port, password, params, headers)


def plain_sip_uri(
    scheme: str, user: str | None, host: str, port: str | None, ptext: str | None
) -> SipURI:
    """The SipURI of the groups of a PLAIN_SIP_URI_GROUPS match (each already validated by it,
    so nothing is checked again); `ptext` is the ``;name=value`` run, if any."""
    uri = _new(SipURI)
    _set_scheme(uri, scheme)
    _set_user(uri, user)
    _set_host(uri, host)
    _set_port(uri, None if port is None else int(port))
    _set_password(uri, None)
    _set_params(uri, split_plain_params(ptext) if ptext else ())
    _set_headers(uri, ())
    _set_opaque(uri, None)
    return uri


def parse_uri(text: str) -> SipURI:
    """Parse an absolute URI; ``sip``/``sips``/``tel`` are decomposed, others kept opaque."""
    plain = _PLAIN_SIP_URI_PARTS.fullmatch(text)
    if plain is not None:  # the usual shape, every part validated by the regex
        return plain_sip_uri(*plain.groups())
    return _parse_uri_general(text)


def _parse_uri_general(text: str) -> SipURI:
    if not _URI_TEXT.fullmatch(text):
        raise SipSyntaxError("Invalid URI")
    colon = text.find(":")
    if colon <= 0 or not _SCHEME.fullmatch(text, 0, colon):
        raise SipSyntaxError("Invalid URI scheme")
    scheme = text[:colon].lower()
    rest = text[colon + 1 :]
    if not rest:
        raise SipSyntaxError("Invalid URI")
    if scheme in ("sip", "sips"):
        return _parse_sip(scheme, rest)
    if scheme == "tel":
        number, _, ptext = rest.partition(";")
        if not _TEL_NUMBER.fullmatch(number):
            raise SipSyntaxError("Invalid tel URI")
        return SipURI("tel", number, "", params=_uri_params(ptext) if ptext else ())
    return SipURI(scheme, None, "", opaque=rest)
