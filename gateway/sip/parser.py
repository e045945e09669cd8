"""Bytes to SIP messages (RFC 3261 7, 18.3, 20, 25), never raising: defects become `ParseError`.

Theory of operation: `parse_message` takes one datagram (or one framed stream message), splits
the header block with `bytes.find`/`split`, unfolds continuation lines, expands compact names,
splits comma-list headers into one entry per value, and checks only what is needed to accept
a message: the start line, the mandatory headers (top Via, From, To, Call-ID, CSeq; a missing
Max-Forwards is tolerated as RFC 4475 3.4.1 asks), single-valued headers not repeated, and
Content-Length. Other header values stay text until accessed. `StreamFramer` cuts a TCP/TLS
byte stream into messages by Content-Length (RFC 3261 18.3) within fixed bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from acdgate.gateway.sip.address import is_plain_name_addr, parse_name_addr
from acdgate.gateway.sip.headers import (
    HEADER_FIELDS,
    LIST_HEADERS,
    SINGLE_HEADERS,
    Headers,
    header_field,
    is_token,
    split_comma_list,
)
from acdgate.gateway.sip.message import Request, Response, parse_contact, parse_cseq
from acdgate.gateway.sip.uri import PLAIN_SIP_URI, SipSyntaxError, parse_uri
from acdgate.gateway.sip.via import is_plain_via, parse_via

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "MAX_MESSAGE_BYTES",
    "ParseError",
    "StreamFramer",
    "is_call_id",
    "parse_message",
]

MAX_MESSAGE_BYTES = 65535  # a UDP datagram cannot be larger; streams use the same bound
MAX_HEADERS = 256  # header field entries (after splitting comma lists)
MAX_HEADER_LINE = 8192  # one header field, unfolded

# Control characters other than HT (and CR LF as line ends) are invalid in a header block
# except inside a quoted-pair (RFC 3261 25.1; RFC 4475 3.1.1.2 escapes BEL, NUL and DEL).
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# The same for a whole CRLF-separated block (CR and LF are checked by counting).
_CTL_NO_CRLF = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
# Methods seen every second (tokens all): the Request-Line check skips the regex for them.
_METHODS = frozenset(
    ("REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "SUBSCRIBE", "NOTIFY", "REFER",
     "INFO", "UPDATE", "PRACK", "MESSAGE", "PUBLISH")
)  # fmt: skip
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+")
# RFC 3261 25.1 word (Call-ID = word [ "@" word ]).
_CALL_ID = re.compile(
    r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+)?"
)


def is_call_id(text: str) -> bool:
    """True for a valid Call-ID value (RFC 3261 25.1: word [ "@" word ])."""
    return _CALL_ID.fullmatch(text) is not None


_MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")
_MANDATORY_KEYS = tuple((name, name.lower()) for name in _MANDATORY)


@dataclass(frozen=True, slots=True)
class ParseError:
    """Why a message was refused; `answerable` when a response can still be built."""

    reason: str  # names the defect, ASCII, fit for a "400 <reason>" status line
    answerable: bool  # a request with a usable top Via and From/To/Call-ID/CSeq present
    request: Request | None = None  # the partially parsed request when answerable
    status: int = 400  # the status to answer with (505 for an unsupported SIP version)


def _safe_name(name: str) -> str:
    """A header name fit for a reason phrase (ASCII token, bounded), else empty."""
    return name if len(name) <= 40 and is_token(name) else ""


def _with_name(prefix: str, name: str) -> str:
    safe = _safe_name(name)
    return f"{prefix} {safe}" if safe else prefix


class _Refused(Exception):
    """Internal: parsing stops with this ParseError (not answerable)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


_ADDRESS_LISTS = frozenset(("via", "contact", "route", "record-route", "path"))


def _decode_head(head: bytes) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = head.rfind(b"\n", 0, exc.start) + 1
        if line_start == 0:
            raise _Refused("Invalid UTF-8 in start line") from None
        colon = head.find(b":", line_start, exc.start)
        name = head[line_start:colon].strip().decode("ascii", "replace") if colon > 0 else ""
        raise _Refused(_with_name("Invalid UTF-8 in header", name)) from None


def _check_controls(lines: list[str]) -> None:
    """Slow path, only when the block holds a control character: allow them in quoted-pairs."""
    for n, line in enumerate(lines):
        for m in _CTL.finditer(line):
            pos = m.start()
            colon = line.find(":")
            if n == 0 or colon < 0 or pos < colon or line[pos - 1] != "\\":
                if n == 0:
                    raise _Refused("Invalid character in start line")
                name = line[:colon].strip() if colon > 0 else ""
                raise _Refused(_with_name("Invalid character in header", name))


def _unfold(lines: list[str]) -> tuple[list[str], str | None]:
    """Join continuation lines (RFC 3261 7.3.1: LWS at line start continues the field)."""
    logical: list[str] = []
    error: str | None = None
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not logical:
                error = error or "Invalid header folding"
                continue
            more = line.strip()
            if more:
                last = logical[-1]
                logical[-1] = f"{last} {more}" if last[-1:] != ":" else f"{last}{more}"
                if len(logical[-1]) > MAX_HEADER_LINE:
                    raise _Refused("Header too long")
        else:
            logical.append(line)
    return logical, error


class _Folded(Exception):
    """Internal: a continuation line turned up; read the block again with unfolding."""


def _read_fields(
    lines: list[str], folded: bool, size: int
) -> tuple[list[tuple[str, str, str]], str | None]:
    """Header lines to (key, name, value) entries; returns them and the first defect.

    `size` bounds every line's length (the block's); `folded` says continuation lines were
    seen. When it is False a continuation line (never a known name, so it takes the slow
    branch) restarts the read with unfolding, so the common case scans the block only here.
    """
    if not folded:
        if len(lines) > MAX_HEADERS + 1 or size > MAX_HEADER_LINE:
            # the limits hold for logical lines: unfold first if there is anything to unfold
            folded = any(line[:1] in (" ", "\t") for line in lines)
        else:
            try:
                return _read_lines(lines, False)
            except _Folded:
                folded = True
    error: str | None = None
    if folded:
        lines, error = _unfold(lines)
    if len(lines) > MAX_HEADERS + 1:
        raise _Refused("Too many headers")
    if size > MAX_HEADER_LINE and any(len(line) > MAX_HEADER_LINE for line in lines):
        raise _Refused("Header too long")
    fields, defect = _read_lines(lines, True)
    return fields, error or defect


def _read_lines(lines: list[str], unfolded: bool) -> tuple[list[tuple[str, str, str]], str | None]:
    """The per-line loop of `_read_fields` (lines within the limits); raises _Folded at a
    continuation line unless `unfolded`."""
    error: str | None = None
    fields: list[tuple[str, str, str]] = []
    append = fields.append
    table = HEADER_FIELDS.get  # (lookup key, canonical name) of the usual spellings
    for line in lines:
        colon = line.find(":")
        names = table(line[:colon]) if colon > 0 else None
        if names is None:
            if not unfolded and line[:1] in (" ", "\t"):
                raise _Folded
            if colon <= 0:
                if line:
                    error = error or "Invalid header line"
                continue
            name = line[:colon].rstrip(" \t")  # HCOLON = *( SP / HTAB ) ":" SWS
            if not is_token(name):
                error = error or "Invalid header name"
                continue
            names = header_field(name)
        key, canon = names
        value = line[colon + 1 :].strip()
        if key in LIST_HEADERS and "," in value:
            for item in split_comma_list(value):
                if item:
                    append((key, canon, item))
                elif key in _ADDRESS_LISTS:
                    error = error or f"Invalid {canon}"
        else:
            append((key, canon, value))
    if len(fields) > MAX_HEADERS:
        raise _Refused("Too many headers")
    return fields, error


_PLAIN_REQUEST_URI = re.compile(PLAIN_SIP_URI)


def _check_request_uri(uri: str) -> bool:
    if _PLAIN_REQUEST_URI.fullmatch(uri):  # the usual shape: valid, and no URI headers
        return True
    try:
        parsed = parse_uri(uri)
    except SipSyntaxError:
        return False
    # RFC 3261 19.1.1 table: URI headers are not allowed in a Request-URI (RFC 4475 3.1.2.11)
    return not parsed.headers


def _validate(headers: Headers, method: str | None) -> str | None:
    """First defect among the fields every message needs, or None.

    Via, From, To and Contact values of the usual shapes pass a quick check (one regex each,
    see `is_plain_via`, `is_plain_name_addr`); only the others are parsed here. Parsing is
    left to whoever asks for the value, so the objects are built at most once.
    """
    seen: dict[str, str] = {}  # key -> first value
    vias: list[str] = []
    contacts: list[str] = []
    for key, name, value in headers._fields:
        if key in seen:
            if key in SINGLE_HEADERS:
                return f"Duplicate {name} header"
        else:
            seen[key] = value
        if key == "via":
            vias.append(value)
        elif key == "contact" and value != "*":
            contacts.append(value)
    for name, key in _MANDATORY_KEYS:
        if key not in seen:
            return f"Missing {name}"
    try:
        for value in vias:
            if not is_plain_via(value):
                parse_via(value)
    except SipSyntaxError:
        return "Invalid Via"
    for name, key in (("From", "from"), ("To", "to")):
        value = seen[key]
        if not is_plain_name_addr(value):
            try:
                parse_name_addr(value)
            except SipSyntaxError:
                return f"Invalid {name}"
    call_id = seen["call-id"]
    if not _CALL_ID.fullmatch(call_id):
        return "Invalid Call-ID"
    try:
        cseq = headers.parsed("CSeq", parse_cseq)
    except SipSyntaxError:
        return "Invalid CSeq"
    if method is not None and cseq is not None and cseq[1] != method:
        return "CSeq method mismatch"
    max_forwards = seen.get("max-forwards")
    if max_forwards is not None and not (
        max_forwards.isdigit() and max_forwards.isascii() and int(max_forwards) <= 255
    ):
        return "Invalid Max-Forwards"
    try:
        for value in contacts:
            if not is_plain_name_addr(value):
                parse_contact(value)
    except SipSyntaxError:
        return "Invalid Contact"
    return None


def _answerable(headers: Headers) -> bool:
    """A 400 can be built and routed: top Via parses, From/To/Call-ID/CSeq are present."""
    if any(name not in headers for name in _MANDATORY):
        return False
    try:
        headers.parsed("Via", parse_via)
    except SipSyntaxError:
        return False
    return True


def _content_length(value: str | None) -> int | None:
    """Parsed Content-Length; -1 if invalid, None if absent."""
    if value is None:
        return None
    if not (value.isdigit() and value.isascii()) or len(value) > 10:
        return -1
    return int(value)


def _too_large(head: bytes) -> ParseError:
    """The error for a message over `MAX_MESSAGE_BYTES`, answerable with 513 (RFC 3261
    21.5.14) when `head` (its start line and headers, within the limit) is a usable request."""
    end = head.find(b"\r\n\r\n", 0, MAX_MESSAGE_BYTES)
    if end >= 0:
        try:
            parsed = _parse(head[: end + 4], stream=True)
        except (ValueError, IndexError, RecursionError, MemoryError):
            parsed = None
        request = parsed.request if isinstance(parsed, ParseError) else parsed
        if isinstance(request, Request) and _answerable(request.headers):
            return ParseError("Message Too Large", True, request, status=513)
    return ParseError("Message too large", False, status=513)


def _parse(data: bytes, stream: bool) -> Request | Response | ParseError:
    if len(data) > MAX_MESSAGE_BYTES:
        return _too_large(data)
    start = 0
    while data.startswith(b"\r\n", start):  # RFC 3261 7.5: ignore CRLFs before the start line
        start += 2
    sep = b"\r\n"
    end = data.find(b"\r\n\r\n", start)
    if end >= 0:
        body_at = end + 4
    else:
        lf_end = data.find(b"\n\n", start)
        if lf_end >= 0 and b"\r\n" not in data[start:lf_end]:
            sep, end, body_at = b"\n", lf_end, lf_end + 2  # bare-LF sender: tolerated
        else:
            end = body_at = len(data)
    truncated = end == len(data)
    head = data[start:end]
    if not head:
        return ParseError("Empty message", False)
    try:
        text = _decode_head(head)
        if sep == b"\r\n":
            lines = text.split("\r\n")
            # Printable ASCII apart from CRLF pairs: no control character to look at (two
            # C-level passes over the bytes); anything else (HT, UTF-8, CTLs) is checked exactly
            if len(head.translate(None, _PRINTABLE_ASCII)) != 2 * head.count(b"\r\n"):
                crlfs = text.count("\r\n")
                if (
                    _CTL_NO_CRLF.search(text)
                    or text.count("\r") != crlfs
                    or text.count("\n") != crlfs
                ):
                    _check_controls(lines)
        else:
            lines = text.split("\n")
            if any(_CTL.search(line) for line in lines):
                _check_controls(lines)
        fields, defect = _read_fields(lines[1:], False, len(text))
    except _Refused as refused:
        return ParseError(refused.reason, False, status=refused.status)
    headers = Headers._from_fields(fields)
    start_line = lines[0]

    if start_line.startswith("SIP/"):
        parts = start_line.split(" ", 2)
        if (
            len(parts) < 2
            or parts[0] != "SIP/2.0"
            or len(parts[1]) != 3
            or not parts[1].isdigit()
            or not parts[1].isascii()
            or not 100 <= int(parts[1]) <= 699
        ):
            return ParseError("Invalid Status-Line", False)
        reason_text = parts[2] if len(parts) == 3 else ""
        response_defect = defect or _validate(headers, None)
        if response_defect is None and truncated:
            response_defect = "Truncated message"
        if response_defect is not None:
            return ParseError(response_defect, False)  # responses with defects are dropped
        length = _content_length(headers.get("Content-Length"))
        body = data[body_at:]
        if length is not None and not stream:
            if length < 0 or length > len(body):
                return ParseError("Content-Length mismatch", False)
            body = body[:length]
        return Response(int(parts[1]), reason_text, headers, body)

    # Request-Line = Method SP Request-URI SP SIP-Version CRLF, single SPs (RFC 4475 3.1.2.9)
    parts = start_line.split(" ")
    method = parts[0]
    if method not in _METHODS and not is_token(method):
        return ParseError("Invalid Request-Line", False)
    status = 400
    if (
        len(parts) != 3
        or not parts[1]
        or (parts[2] != "SIP/2.0" and not _VERSION.fullmatch(parts[2]))
    ):
        defect = "Invalid Request-Line"
        uri = " ".join(parts[1:])
    else:
        uri = parts[1]
        if parts[2] != "SIP/2.0":
            defect, status = "Version Not Supported", 505
        elif not _check_request_uri(uri):
            defect = "Invalid Request-URI"
    request = Request(method, uri, headers)
    defect = defect or _validate(headers, method)
    body = data[body_at:]
    length = _content_length(headers.get("Content-Length"))
    if defect is None:
        if truncated:
            defect = "Truncated message"
        elif length is not None and length < 0:
            defect = "Invalid Content-Length"
        elif length is not None and not stream:
            # RFC 3261 18.3: a short datagram is an error; extra octets are discarded
            if length > len(body):
                defect = "Content-Length mismatch"
            body = body[:length]
    if defect is not None:
        if _answerable(headers):
            return ParseError(defect, True, request, status)
        return ParseError(defect, False, status=status)
    request.body = body
    return request


def parse_message(data: bytes) -> Request | Response | ParseError:
    """Parse one datagram into a Request or Response; any defect is a ParseError."""
    try:
        return _parse(data, stream=False)
    except (ValueError, IndexError, RecursionError, MemoryError):
        # Defence in depth: a parser bug must not take the transport down (tested to be
        # unreachable by the fuzz tests).
        return ParseError("Malformed message", False)


def _stream_content_length(head: bytes) -> int | None:
    """Content-Length of a framed header block: None if absent, -1 if unusable."""
    found: int | None = None
    for line in head.split(b"\r\n")[1:]:
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].strip().lower()
        if name == b"content-length" or name == b"l":
            value = line[colon + 1 :].strip()
            length = int(value) if value.isdigit() and len(value) <= 10 else -1
            if length < 0 or (found is not None and found != length):
                return -1
            found = length
    return found


class StreamFramer:
    """Cuts a TCP/TLS byte stream into messages by Content-Length (RFC 3261 18.3).

    CRLF keep-alives between messages (RFC 5626 3.5.1) are skipped and counted in `pings`.
    The buffer never holds more than `max_message_bytes` between calls; a message that
    cannot be framed sets `broken` (the connection should be closed) and yields a ParseError.
    """

    __slots__ = ("_buf", "broken", "max_message_bytes", "pings")

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buf = bytearray()
        self.broken = False
        self.pings = 0  # CRLFCRLF keep-alive pings seen
        self.max_message_bytes = max_message_bytes

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a message."""
        return len(self._buf)

    def _fail(self, reason: str, status: int = 400) -> ParseError:
        self.broken = True
        self._buf.clear()
        return ParseError(reason, False, status=status)

    def feed(self, data: bytes) -> list[Request | Response | ParseError]:
        """Add received bytes; returns every message completed by them, in order."""
        if self.broken:
            return []
        buf = self._buf
        buf += data
        out: list[Request | Response | ParseError] = []
        while buf:
            skipped = 0
            while buf.startswith(b"\r\n", skipped):
                skipped += 2
            if skipped:
                if skipped >= 4:
                    self.pings += skipped // 4
                del buf[:skipped]
                continue
            if buf == b"\r":
                break
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_message_bytes:
                    out.append(self._fail("Message too large", 513))
                break
            if end + 4 > self.max_message_bytes:
                out.append(self._fail("Message too large", 513))
                break
            length = _stream_content_length(bytes(buf[:end]))
            if length is not None and length < 0:
                out.append(self._fail("Invalid Content-Length"))
                break
            total = end + 4 + (length or 0)
            if total > self.max_message_bytes:
                # the head is here and within the limit: a 513 can answer it (RFC 3261 21.5.14)
                head = bytes(buf[: end + 4])
                self._fail("Message too large", 513)
                out.append(_too_large(head))
                break
            if len(buf) < total:
                break
            message = bytes(buf[:total])
            del buf[:total]
            try:
                parsed = _parse(message, stream=True)
            except (ValueError, IndexError, RecursionError, MemoryError):
                parsed = ParseError("Malformed message", False)
            if length is None and not isinstance(parsed, ParseError):
                # RFC 3261 18.3: Content-Length is mandatory on streams; we framed it as 0
                if isinstance(parsed, Request) and _answerable(parsed.headers):
                    parsed = ParseError("Missing Content-Length", True, parsed)
                else:
                    parsed = ParseError("Missing Content-Length", False)
            out.append(parsed)
        return out
