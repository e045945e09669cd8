"""SIP requests and responses (RFC 3261 7), their serialisation, and response construction.

Header values are kept as text (unfolded, trimmed); Via, From/To/Contact and CSeq are parsed
on access and cached in `Headers`. The URI, address and Via value types live in their own
modules and are re-exported here, so `acdgate.gateway.sip.message` is the one import needed.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from acdgate.gateway.sip.address import NameAddr, parse_name_addr
from acdgate.gateway.sip.headers import Headers
from acdgate.gateway.sip.uri import SipSyntaxError, SipURI, parse_uri
from acdgate.gateway.sip.via import Via, parse_via

__all__ = [
    "REASON_PHRASES",
    "Headers",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "SipSyntaxError",
    "SipURI",
    "Via",
    "make_response",
    "new_branch",
    "new_tag",
    "parse_contact",
    "parse_cseq",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
    "reason_phrase",
]

# RFC 3261 21, plus later RFCs' codes seen from phones and proxies.
REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    417: "Unknown Resource-Priority",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    428: "Use Identity Header",
    429: "Provide Referrer Identity",
    433: "Anonymity Disallowed",
    436: "Bad Identity-Info",
    437: "Unsupported Certificate",
    438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded",
    469: "Bad Info Package",
    470: "Consent Needed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}

_CLASS_PHRASES = {1: "Trying", 2: "OK", 3: "Redirection", 4: "Client Error",
                  5: "Server Error", 6: "Global Failure"}  # fmt: skip


def reason_phrase(status: int) -> str:
    """Standard reason phrase for a status code (the class's generic phrase if unknown)."""
    return REASON_PHRASES.get(status) or _CLASS_PHRASES.get(status // 100, "Unknown")


def parse_cseq(text: str) -> tuple[int, str]:
    """``CSeq: 1*DIGIT LWS Method`` (RFC 3261 20.16); the number must be below 2**31."""
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[0].isascii():
        raise SipSyntaxError("Invalid CSeq")
    number = int(parts[0])
    if number >= 2**31:
        raise SipSyntaxError("Invalid CSeq")
    return number, parts[1]


def parse_contact(text: str) -> NameAddr | None:
    """A Contact value; None for the wildcard ``*`` (RFC 3261 10.2.2)."""
    return None if text == "*" else parse_name_addr(text)


class _MessageFields:
    """Typed accessors shared by Request and Response; parsed values are cached in headers.

    The accessors raise SipSyntaxError when a present value does not parse; messages from
    `parse_message` have Via (top), From, To, CSeq and Contact already checked.
    """

    __slots__ = ()
    headers: Headers
    body: bytes

    @property
    def call_id(self) -> str | None:
        return self.headers.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str] | None:
        return self.headers.parsed("CSeq", parse_cseq)

    @property
    def vias(self) -> list[Via]:
        return self.headers.parsed_all("Via", parse_via)

    @property
    def top_via(self) -> Via | None:
        return self.headers.parsed("Via", parse_via)

    @property
    def from_addr(self) -> NameAddr | None:
        return self.headers.parsed("From", parse_name_addr)

    @property
    def to_addr(self) -> NameAddr | None:
        return self.headers.parsed("To", parse_name_addr)

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact addresses; empty for ``Contact: *`` (RFC 3261 10.2.2)."""
        return [c for c in self.headers.parsed_all("Contact", parse_contact) if c is not None]

    def _serialise(self, start_line: str) -> bytes:
        body = self.body
        fields = self.headers._fields
        for field in fields:
            if field[1] == "Content-Length":
                break
        else:  # the usual case (every response we build): no Content-Length yet, append it
            text = "".join([f"{start_line}\r\n", *[f"{n}: {v}\r\n" for _, n, v in fields],
                            f"Content-Length: {len(body)}\r\n\r\n"])
            return text.encode("utf-8") + body if body else text.encode("utf-8")
        # RFC 3261 20.14: the first Content-Length stays where it is, with the body's real
        # length; any further one is dropped
        lines = [start_line]
        length_written = False
        for _, name, value in fields:
            if name == "Content-Length":
                if length_written:
                    continue
                value = str(len(body))
                length_written = True
            lines.append(f"{name}: {value}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8") + body


@dataclass(slots=True)
class Request(_MessageFields):
    """A SIP request; `uri` is the Request-URI text."""

    method: str
    uri: str
    headers: Headers
    body: bytes = b""

    @property
    def request_uri(self) -> SipURI:
        """The Request-URI parsed (raises SipSyntaxError)."""
        return parse_uri(self.uri)

    def to_bytes(self) -> bytes:
        """Serialise; always writes a correct Content-Length."""
        return self._serialise(f"{self.method} {self.uri} SIP/2.0")


@dataclass(slots=True)
class Response(_MessageFields):
    """A SIP response."""

    status: int
    reason: str
    headers: Headers
    body: bytes = b""

    def to_bytes(self) -> bytes:
        """Serialise; always writes a correct Content-Length."""
        return self._serialise(f"SIP/2.0 {self.status} {self.reason}")


Message = Request | Response

# The fields a response copies besides the Vias, in the order it writes them (RFC 3261 8.2.6.2).
_COPIED = ("from", "to", "call-id", "cseq")
_COPIED_KEYS = frozenset(_COPIED)


def make_response(
    request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> Response:
    """Build a response to `request` (RFC 3261 8.2.6.2).

    Copies every Via in order, From, To, Call-ID and CSeq; adds `to_tag` to To unless it has
    a tag already (a To that does not parse is copied unchanged).
    """
    rh = request.headers
    rfields = rh._fields
    # (lookup key, canonical name, value) triples as Headers keeps them; the request's
    # fields are already in that form, so nothing is looked up or re-spelt
    fields: list[tuple[str, str, str]] = []
    same: dict[int | str, int | str] = {}  # request index -> response index of unchanged copies
    first: dict[str, int] = {}  # From, To, Call-ID, CSeq: index of the first in the request
    for i, field in enumerate(rfields):
        key = field[0]
        if key == "via":
            same[i] = len(fields)
            fields.append(field)
        elif key in _COPIED_KEYS and key not in first:
            first[key] = i
    for key in _COPIED:
        i = first.get(key, -1)
        if i < 0:
            continue
        field = rfields[i]
        if key == "to" and to_tag is not None:
            try:
                to = rh.parsed("To", parse_name_addr)
            except SipSyntaxError:
                to = None
            if to is not None and to.tag is None:
                fields.append((key, field[1], f"{field[2]};tag={to_tag}"))
                continue
        same[i] = len(fields)
        fields.append(field)
    headers = Headers._from_fields(fields)
    if rh._cache:
        # the same texts: reuse what the request parsed of them (the stack routes the response
        # by its top Via, the transaction layer matches it by Via and CSeq)
        headers._adopt(rh, same)
    return Response(status, reason if reason is not None else reason_phrase(status), headers)


class _RandomHex:
    """Hex digits from the OS's CSPRNG, fetched 4 KiB at a time: one getrandom call per
    ~680 tags instead of one per tag (it was 3% of a registration)."""

    __slots__ = ("_at", "_pool")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._pool = ""
        self._at = 0

    def take(self, digits: int) -> str:
        at = self._at
        if at + digits > len(self._pool):
            self._pool, at = secrets.token_hex(4096), 0
        self._at = at + digits
        return self._pool[at : at + digits]


_random_hex = _RandomHex()
os.register_at_fork(after_in_child=_random_hex.reset)  # a forked child draws its own digits


def new_branch() -> str:
    """A fresh RFC 3261 branch (magic cookie + 64 random bits, 17.1.1.3)."""
    return "z9hG4bK" + _random_hex.take(16)


def new_tag() -> str:
    """A fresh From/To tag (RFC 3261 19.3: at least 32 random bits; we use 48)."""
    return _random_hex.take(12)
