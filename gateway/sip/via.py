"""Via header values (RFC 3261 20.42, 18.2.1) with received/rport (RFC 3581)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from acdgate.gateway.sip.headers import PLAIN_PARAMS, is_token, parse_params
from acdgate.gateway.sip.params import Params, WithParams, format_params, split_plain_params
from acdgate.gateway.sip.received import stamped
from acdgate.gateway.sip.uri import PLAIN_HOSTPORT, SipSyntaxError, parse_hostport

__all__ = ["PLAIN_VIA_PARTS", "Via", "is_plain_via", "parse_plain_via", "parse_via", "response_address", "via_with_params", "with_received"]

# `SIP/2.0/UDP host:port;branch=...;rport` without LWS or quoted parameters; see `is_plain_via`.
_PLAIN_VIA = re.compile(r"SIP/2\.0/[A-Za-z]+ " + PLAIN_HOSTPORT + PLAIN_PARAMS)


# The same shape with groups: transport, host, port, parameters (`parse_via`'s fast path, and
# `register_scan`, which reads the Via of a plain REGISTER without building one).
PLAIN_VIA_PARTS = re.compile(
    r"SIP/2\.0/([A-Za-z]+) ((?:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_.])?|\[[0-9A-Fa-f:.]+\]))"
    r"(?::([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(" + PLAIN_PARAMS + r")"
)


def is_plain_via(text: str) -> bool:
    """A quick check: True only for a Via value `parse_via` accepts (the usual shape, one regex
    match); False means "parse it to know", not "invalid"."""
    return _PLAIN_VIA.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Via(WithParams):
    """One Via value: ``SIP/2.0/<transport> <host>[:port];params``."""

    transport: str  # "UDP", "TCP", "TLS" ... (upper case)
    host: str  # IPv6 references keep their brackets
    port: int | None = None
    params: Params = ()

    @property
    def branch(self) -> str | None:
        return self.param("branch")

    @property
    def received(self) -> str | None:
        return self.param("received")

    @property
    def rport(self) -> int | None:
        """The rport value, None if absent or empty (RFC 3581: empty in requests)."""
        value = self.param("rport")
        if value and value.isdigit():
            return int(value)
        return None

    @property
    def has_rport(self) -> bool:
        return self.has_param("rport")

    def with_param(self, name: str, value: str | None) -> Via:
        """Copy with `name` set (replaced in place if present, appended otherwise)."""
        key = name.lower()
        params = list(self.params)
        for i, (n, _) in enumerate(params):
            if n.lower() == key:
                params[i] = (n, value)
                break
        else:
            params.append((name, value))
        return Via(self.transport, self.host, self.port, tuple(params))

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{format_params(self.params)}"


# Fast construction of the usual Via, as `uri.plain_sip_uri` does for URIs.
if Via.__slots__ != ("transport", "host", "port", "params"):
    raise ImportError("Via fields changed: update parse_via")
_new = object.__new__
_set_transport, _set_host, _set_port, _set_params = (Via.__dict__[n].__set__ for n in Via.__slots__)


def parse_via(text: str) -> Via:
    """Parse one Via value; LWS is allowed around '/', ':', ';' and '=' (RFC 4475 3.1.1.1)."""
    via = parse_plain_via(text)
    return via if via is not None else _parse_via_general(text)


def parse_plain_via(text: str) -> Via | None:
    """`parse_via` of a Via in the usual shape (`is_plain_via`), None for any other."""
    plain = PLAIN_VIA_PARTS.fullmatch(text)
    if plain is None:
        return None
    transport, host, port, ptext = plain.groups()  # the regex has validated every part
    via = _new(Via)
    _set_transport(via, transport.upper())
    _set_host(via, host)
    _set_port(via, None if port is None else int(port))
    # plain parameter values hold no ';' (not even quoted), so the split is exact
    _set_params(via, split_plain_params(ptext) if ptext else ())
    return via


def _parse_via_general(text: str) -> Via:
    semi = text.find(";")
    head = text if semi < 0 else text[:semi]
    parts = head.split("/", 2)
    if len(parts) != 3:
        raise SipSyntaxError("Invalid Via")
    name, version, rest = parts[0].strip(), parts[1].strip(), parts[2].split(None, 1)
    # sent-protocol = protocol-name SLASH protocol-version SLASH transport, all tokens; the
    # version is checked on the start line (a SIP/7.0 request gets a 505, RFC 4475 3.1.2.16)
    if not is_token(name) or not is_token(version) or len(rest) != 2:
        raise SipSyntaxError("Invalid Via")
    transport = rest[0]
    if not is_token(transport):
        raise SipSyntaxError("Invalid Via transport")
    sent_by = "".join(rest[1].split())  # sent-by = host [ SWS ":" SWS port ]
    host, port = parse_hostport(sent_by)
    return Via(transport.upper(), host, port, parse_params(text[semi + 1 :]) if semi >= 0 else ())


def with_received(via: Via, source: tuple[str, int]) -> tuple[Via, str] | None:
    """RFC 3261 18.2.1 and RFC 3581 4: the top Via of a request from `source`, and its text, with
    where the request really came from (`received.stamped`); None when nothing changes."""
    params = stamped(via.params, via.host, source)
    return None if params is None else via_with_params(via, tuple(params))


def via_with_params(via: Via, params: Params) -> tuple[Via, str]:
    """`via` with other parameters, and its text (what str() gives): built without the frozen
    dataclass's __init__ and `Via.__str__`'s `sent_by`, as `with_received` runs per request."""
    changed = _new(Via)
    _set_transport(changed, via.transport)
    _set_host(changed, via.host)
    _set_port(changed, via.port)
    _set_params(changed, params)
    head = (f"SIP/2.0/{via.transport} {via.host}" if via.port is None
            else f"SIP/2.0/{via.transport} {via.host}:{via.port}")
    return changed, head + format_params(params)


def response_address(via: Via) -> tuple[str, int]:
    """Where a response to a request with this top Via goes (RFC 3261 18.2.2 with RFC 3581):
    received/rport when the request recorded them, else the sent-by (default port 5060)."""
    host = via.received or via.host
    rport = via.rport
    return (host.strip("[]"), rport if rport is not None else (via.port or 5060))
