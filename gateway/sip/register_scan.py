"""The usual REGISTER datagram read straight from its bytes, for the registrar's quick path.

A registration is two REGISTERs of one plain shape, thousands a second under load, and
`parse_message` builds a `Request` with every header as a field before the registrar reads six
of them. `scan_register` reads only that shape: one UDP datagram, printable ASCII, no folding,
no body, one Via, at most one Contact and Authorization, nothing the registrar would refuse
for its own reasons (Require, Route, Proxy-Authorization) and every value of the form the
parser's own quick checks accept. Anything else is None and goes the general way, which then
answers exactly as before. What is read is what `parse_message` would give:
tests/gateway/test_register_scan.py checks the two against each other.

The top Via is read from its text and stamped with received/rport for `source` here (RFC 3261
18.2.1, RFC 3581 4), as the stack does for a parsed request (`via.with_received`), so the scan
carries the response's Via text, where the response goes (18.2.2, `via.response_address`) and
the transaction identity that `RecentAnswers` keys stateless answers by. Sans-IO.
"""

from __future__ import annotations

import re
from typing import Final

from acdgate.gateway.sip.address import is_plain_name_addr
from acdgate.gateway.sip.headers import LIST_HEADERS, SINGLE_HEADERS, header_key, is_token
from acdgate.gateway.sip.message import SipSyntaxError, parse_cseq
from acdgate.gateway.sip.parser import MAX_HEADERS, is_call_id
from acdgate.gateway.sip.received import stamped
from acdgate.gateway.sip.stateless import transaction_identity
from acdgate.gateway.sip.uri import PLAIN_SIP_URI
from acdgate.gateway.sip.via import PLAIN_VIA_PARTS

__all__ = ["RegisterScan", "scan_register"]

Address = tuple[str, int]

# a REGISTER is ~600 bytes; a larger one is unusual enough to be parsed in full
MAX_SCANNED_BYTES = 4096
MAX_SCANNED_LINES = 64  # the parser's bound is 256 header fields; a REGISTER has ~12
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_PLAIN_URI = re.compile(PLAIN_SIP_URI)

# The headers read, by every spelling `parse_message` takes (canonical, lower case, compact).
_VIA, _FROM, _TO, _CALL_ID, _CSEQ, _CONTACT, _EXPIRES, _AUTH, _USER_AGENT, _LENGTH, _MAX_FWD = range(11)
_ROLES: dict[str, int] = {}
for _role, _names in (
    (_VIA, ("Via", "v")), (_FROM, ("From", "f")), (_TO, ("To", "t")), (_CALL_ID, ("Call-ID", "i")),
    (_CSEQ, ("CSeq",)), (_CONTACT, ("Contact", "m")), (_EXPIRES, ("Expires",)),
    (_AUTH, ("Authorization",)), (_USER_AGENT, ("User-Agent",)),
    (_LENGTH, ("Content-Length", "l")), (_MAX_FWD, ("Max-Forwards",)),
):  # fmt: skip
    for _name in _names:
        _ROLES[_name] = _ROLES[_name.lower()] = _ROLES[_name.upper()] = _role
del _role, _names, _name
# Headers that make a REGISTER the general path's: option tags to check (RFC 3261 10.3 step 2),
# credentials for a proxy, routing sets (address lists the parser checks item by item).
_GENERAL_ONLY = frozenset(
    ("require", "proxy-require", "proxy-authorization", "route", "record-route", "path")
)


# A plain class, not a dataclass: compiled by mypyc (setup.py) its __init__ is native, where a
# dataclass keeps the generated, interpreted one (~15x the cost; one of these per REGISTER).
class RegisterScan:
    """What the registrar reads of a plain REGISTER, and how to answer it (read-only)."""

    __slots__ = (
        "authorization",
        "call_id",
        "contact",
        "cseq",
        "cseq_text",
        "destination",
        "expires",
        "from_",
        "identity",
        "to",
        "uri",
        "user_agent",
        "via",
    )

    def __init__(self, uri: str, via: str, destination: Address, from_: str, to: str, call_id: str,
                 cseq: int, cseq_text: str, contact: str | None, expires: str | None,
                 authorization: str | None, user_agent: str, identity: str) -> None:
        self.uri: Final = uri  # the Request-URI
        self.via: Final = via  # the top Via as the response carries it (received/rport filled in)
        self.destination: Final = destination  # where the response goes (RFC 3261 18.2.2, RFC 3581)
        self.from_: Final = from_
        self.to: Final = to
        self.call_id: Final = call_id
        self.cseq: Final = cseq
        self.cseq_text: Final = cseq_text  # the CSeq value as sent, which the response copies
        self.contact: Final = contact
        self.expires: Final = expires  # the Expires header, digits
        self.authorization: Final = authorization
        self.user_agent: Final = user_agent
        self.identity: Final = identity  # `stateless.request_identity` of the request

    def __repr__(self) -> str:
        return f"RegisterScan({self.uri!r}, {self.call_id!r}, {self.cseq}, {self.identity!r})"


def scan_register(data: bytes, source: Address) -> RegisterScan | None:
    """The plain REGISTER in UDP datagram `data` from `source`, or None: parse it in full."""
    if len(data) > MAX_SCANNED_BYTES or not data.startswith(b"REGISTER "):
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0 or end + 4 != len(data):  # no body (nor a second message) after the headers
        return None
    head = data[:end]
    # printable ASCII apart from CRLF pairs: no control character, no UTF-8, no HT
    if len(head.translate(None, _PRINTABLE_ASCII)) != 2 * head.count(b"\r\n"):
        return None
    lines = head.decode("ascii").split("\r\n")
    if len(lines) > MAX_SCANNED_LINES:
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or _PLAIN_URI.fullmatch(parts[1]) is None:
        return None
    values: list[str | None] = [None] * 11
    others: set[str] = set()
    roles = _ROLES
    fields = len(lines)  # an upper bound on the parser's count of header fields
    for line in lines[1:]:
        colon = line.find(":")
        if colon <= 0:
            return None  # folded, empty or without a name
        name = line[:colon]
        role = roles.get(name)
        value = line[colon + 1 :].strip()
        if role is None:
            if not is_token(name):
                return None  # "Name :" with space, or a bad name
            key = header_key(name)
            if key in roles:  # another spelling of a header read: leave it to the parser
                return None
            if key in _GENERAL_ONLY or (key in SINGLE_HEADERS and key in others):
                return None
            others.add(key)
            if key in LIST_HEADERS:  # the parser counts each list item as a field
                fields += value.count(",")
        elif values[role] is not None:
            return None  # one of each, or the general path decides (two Vias, Contacts ...)
        else:
            values[role] = value
    if fields > MAX_HEADERS:
        return None
    via_text, from_, to, call_id, cseq_text, contact, expires, auth, user_agent, length, max_fwd = values
    if via_text is None or from_ is None or to is None or call_id is None or cseq_text is None:
        return None
    if "," in via_text:
        return None
    if not (is_plain_name_addr(from_) and is_plain_name_addr(to) and is_call_id(call_id)):
        return None
    try:
        cseq, method = parse_cseq(cseq_text)
    except SipSyntaxError:
        return None
    if method != "REGISTER":
        return None
    if max_fwd is not None and not (max_fwd.isdigit() and int(max_fwd) <= 255):
        return None
    if length is not None and not (length.isdigit() and len(length) <= 10 and int(length) == 0):
        return None
    if contact is not None and ("," in contact or not is_plain_name_addr(contact)):
        return None  # several Contacts, or "*" (a wildcard unregister)
    if expires is not None and not expires.isdigit():
        return None
    via = PLAIN_VIA_PARTS.fullmatch(via_text)
    if via is None:
        return None
    transport, host, port_text, ptext = via.groups()
    if transport.upper() != "UDP":
        return None
    port = None if port_text is None else int(port_text)
    stamped = _stamped_via(transport, host, port, ptext, source)
    if stamped is None:
        stamped = via_text, _response_address(host, port, ptext)
    return RegisterScan(
        parts[1], stamped[0], stamped[1], from_, to, call_id, cseq, cseq_text,
        contact, expires, auth, user_agent or "",
        transaction_identity(_param(ptext, "branch"), host, port, cseq, "REGISTER", call_id, auth is not None),
    )


# The Via's parameters as the text after the sent-by (`;branch=z9hG4bK..;rport`), which
# PLAIN_VIA_PARTS validated: no ';' in a value, no LWS, so splitting is exact. These three do
# what `parse_plain_via`, `with_received` and `response_address` do with a `Via`, without
# building two of them per REGISTER; tests/gateway/test_register_scan.py checks them against
# those on generated Vias.


def _param(ptext: str | None, name: str) -> str | None:
    """The first parameter called `name` (case-insensitive): its value, "" for a flag."""
    if ptext:
        for item in ptext[1:].split(";"):
            key, eq, value = item.partition("=")
            if key.lower() == name:
                return value if eq else ""
    return None


def _response_address(host: str, port: int | None, ptext: str | None) -> Address:
    """RFC 3261 18.2.2 with RFC 3581: received/rport if present, else the sent-by."""
    rport = _param(ptext, "rport")
    return (
        (_param(ptext, "received") or host).strip("[]"),
        int(rport) if rport and rport.isdigit() else (port or 5060),
    )


def _stamped_via(transport: str, host: str, port: int | None, ptext: str | None,
                 source: Address) -> tuple[str, Address] | None:
    """The Via's text stamped for a request from `source` (`received.stamped`), and where the
    response goes; None when nothing changes."""
    # params.split_plain_params and format_params inline: this module is compiled and params is
    # not; calling them costs 0.7 of the 10.8 us of a compiled scan (measured on the wheel)
    params: list[tuple[str, str | None]] = []
    if ptext:
        for item in ptext[1:].split(";"):
            key, eq, value = item.partition("=")
            params.append((key, value if eq else None))
    new = stamped(params, host, source)
    if new is None:
        return None
    new_ptext = "".join([f";{n}" if v is None else f";{n}={v}" for n, v in new])
    head = f"SIP/2.0/{transport.upper()} {host}" if port is None else f"SIP/2.0/{transport.upper()} {host}:{port}"
    return head + new_ptext, _response_address(host, port, new_ptext)
