"""SIP header fields: canonical names, compact forms, comma lists, parameters, and `Headers`.

`Headers` is an ordered multidict of (canonical name, value text). Values of list-valued
headers (RFC 3261 7.3.1) are held one element per entry. Parsed forms (Via, NameAddr ...)
are cached per entry and the cache is dropped on any mutation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from acdgate.gateway.sip.uri import SipSyntaxError

__all__ = [
    "COMPACT_FORMS",
    "HEADER_FIELDS",
    "HEADER_NAMES",
    "LIST_HEADERS",
    "PLAIN_PARAMS",
    "SINGLE_HEADERS",
    "Headers",
    "canonical_name",
    "header_field",
    "header_key",
    "parse_params",
    "split_comma_list",
]

T = TypeVar("T")

# RFC 3261 7.3.3 and the IANA registry's compact forms.
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
    "n": "Identity-Info",
}

HEADER_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "Identity",
    "Identity-Info", "In-Reply-To", "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version",
    "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority",
    "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To",
    "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Server",
    "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject",
    "Subscription-State", "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via",
    "Warning", "WWW-Authenticate",
)  # fmt: skip

# Headers whose grammar is a comma-separated list (RFC 3261 7.3.1, 20); others are never split
# (WWW-Authenticate, Authorization, Date ... hold commas that are not separators).
LIST_HEADERS = frozenset(
    n.lower()
    for n in (
        "Via", "Contact", "Route", "Record-Route", "Path", "Service-Route", "Allow", "Supported",
        "Require", "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language",
        "Allow-Events", "Content-Encoding", "Content-Language", "In-Reply-To", "Alert-Info",
        "Call-Info", "Error-Info", "Warning", "Accept-Contact", "Reject-Contact",
        "Request-Disposition", "P-Asserted-Identity", "P-Preferred-Identity", "Reason",
    )
)  # fmt: skip

# Headers that may appear at most once (RFC 3261 20; RFC 4475 3.3.8, 3.3.9).
SINGLE_HEADERS = frozenset(
    ("to", "from", "call-id", "cseq", "max-forwards", "content-length", "content-type")
)


# The one table of header names, for `Headers` and the parser: every spelling of a known name
# that is seen (canonical, lower case, compact letter in either case) -> (lookup key, canonical
# name), so the common case is one dict lookup without lower().
HEADER_FIELDS: dict[str, tuple[str, str]] = {}
for _name in HEADER_NAMES:
    HEADER_FIELDS[_name] = HEADER_FIELDS[_name.lower()] = (_name.lower(), _name)
for _letter, _name in COMPACT_FORMS.items():
    HEADER_FIELDS[_letter] = HEADER_FIELDS[_letter.upper()] = (_name.lower(), _name)
del _name, _letter
# its two halves, for `header_key` and `canonical_name` (one lookup each)
_KEY_OF: dict[str, str] = {s: key for s, (key, _) in HEADER_FIELDS.items()}
_CANONICAL_OF: dict[str, str] = {s: name for s, (_, name) in HEADER_FIELDS.items()}


def header_field(name: str) -> tuple[str, str]:
    """(lookup key, canonical name) of a header name as sent: `header_key` and `canonical_name`."""
    known = HEADER_FIELDS.get(name)
    if known is not None:
        return known
    key = name.lower()
    return HEADER_FIELDS.get(key, (key, name))


def canonical_name(name: str) -> str:
    """Canonical spelling of a header name; compact forms expanded, unknown names as sent."""
    known = _CANONICAL_OF.get(name)
    if known is not None:
        return known
    return _CANONICAL_OF.get(name.lower(), name)


def header_key(name: str) -> str:
    """Case-insensitive lookup key of a header name (compact forms map to the long name)."""
    known = _KEY_OF.get(name)
    if known is not None:
        return known
    key = name.lower()
    return _KEY_OF.get(key, key)


def split_comma_list(value: str) -> list[str]:
    """Split a list-valued header at commas outside quoted strings and <...>; items stripped."""
    if "," not in value:
        return [value.strip()]
    if '"' not in value and "<" not in value:
        return [item.strip() for item in value.split(",")]
    items: list[str] = []
    start = 0
    quoted = angle = escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == "," and not angle:
            items.append(value[start:i].strip())
            start = i + 1
    items.append(value[start:].strip())
    return items


_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# A generic-param value: token, host (incl. IPv6 reference) or quoted-string (RFC 3261 25.1).
_GEN_VALUE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~:\[\]]+|\"(?:[^\"\\\r\n]|\\[^\r\n])*\"")


def _split_semis(text: str) -> list[str]:
    """Split at ';' outside quoted strings (scans with str.find, not per character)."""
    if '"' not in text:
        return text.split(";")
    parts: list[str] = []
    start = pos = 0
    while True:
        semi = text.find(";", pos)
        quote = text.find('"', pos)
        if quote < 0 or 0 <= semi < quote:
            if semi < 0:
                parts.append(text[start:])
                return parts
            parts.append(text[start:semi])
            start = pos = semi + 1
            continue
        end = quote + 1  # skip the quoted string, honouring backslash escapes
        while True:
            close = text.find('"', end)
            if close < 0:
                raise SipSyntaxError("Unterminated quoted string")
            slashes = 0
            while text[close - 1 - slashes] == "\\":
                slashes += 1
            if slashes % 2 == 0:
                break
            end = close + 1
        pos = close + 1


def parse_params(text: str) -> tuple[tuple[str, str | None], ...]:
    """Parse ``name[=value]`` items separated by ';' (text after the first ';'); LWS allowed."""
    out: list[tuple[str, str | None]] = []
    for item in _split_semis(text):
        name, eq, value = item.partition("=")
        name = name.strip()
        if not _TOKEN.fullmatch(name):
            raise SipSyntaxError("Invalid parameter")
        if eq:
            value = value.strip()
            if not _GEN_VALUE.fullmatch(value):
                raise SipSyntaxError("Invalid parameter")
            out.append((name, value))
        else:
            out.append((name, None))
    return tuple(out)


# Header parameters as the quick checks accept them: token names, token/host or quoted values
# without ';', '"' or backslash inside (parse_params accepts every such list).
PLAIN_PARAMS = r"(?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=(?:[A-Za-z0-9\-.!%*_+`'~:\[\]]+|\"[^\";\\\r\n]*\"))?)*"


def is_token(text: str) -> bool:
    """True for an RFC 3261 token (method names, transports, parameter names)."""
    return _TOKEN.fullmatch(text) is not None


class Headers:
    """Ordered multidict of header fields; names case-insensitive, compact forms expanded."""

    __slots__ = ("_cache", "_fields")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str, str]] = [
            (header_key(n), canonical_name(n), v) for n, v in items
        ]
        # (parse function name, field index) -> parsed value; (name, key) -> the first field's
        self._cache: dict[tuple[str, int | str], Any] = {}

    @classmethod
    def _from_fields(cls, fields: list[tuple[str, str, str]]) -> Headers:
        """Adopt (key, canonical name, value) triples built by the parser (no re-validation)."""
        h = cls.__new__(cls)
        h._fields = fields
        h._cache = {}
        return h

    def get(self, name: str) -> str | None:
        key = header_key(name)
        for k, _, v in self._fields:
            if k == key:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        key = header_key(name)
        return [v for k, _, v in self._fields if k == key]

    def count(self, name: str) -> int:
        key = header_key(name)
        return sum(1 for k, _, _ in self._fields if k == key)

    def add(self, name: str, value: str) -> None:
        # appending moves no existing entry, so the parsed values cached by index stay valid
        known = HEADER_FIELDS.get(name)  # one lookup for the usual spellings
        key, canon = known if known is not None else header_field(name)
        self._fields.append((key, canon, value))

    def insert_first(self, name: str, value: str) -> None:
        key = header_key(name)
        index = 0
        for i, (k, _, _) in enumerate(self._fields):
            if k == key:
                index = i
                break
        self._fields.insert(index, (key, canonical_name(name), value))
        self._cache.clear()

    def set(self, name: str, value: str) -> None:
        key = header_key(name)
        field = (key, canonical_name(name), value)
        out: list[tuple[str, str, str]] = []
        placed = False
        for f in self._fields:
            if f[0] == key:
                if not placed:
                    out.append(field)
                    placed = True
            else:
                out.append(f)
        if not placed:
            out.append(field)
        self._fields = out
        self._cache.clear()

    def replace_first(self, name: str, value: str, parse: Callable[[str], T] | None = None,
                      parsed: T | None = None) -> None:
        """Replace the first field of `name` in place (appended if absent); `parsed`, what
        `parse` gives for `value`, seeds the cache so nobody parses it again."""
        key = header_key(name)
        fields = self._fields
        i = 0
        for field in fields:
            if field[0] == key:
                fields[i] = (key, field[1], value)
                cache = self._cache
                if cache:
                    for tag in [t for t in cache if t[1] == i or t[1] == key]:
                        del cache[tag]
                if parse is not None and parsed is not None:
                    fn = parse.__name__
                    cache[(fn, i)] = parsed
                    cache[(fn, key)] = parsed  # it is the first of `name`
                return
            i += 1
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = header_key(name)
        self._fields = [f for f in self._fields if f[0] != key]
        self._cache.clear()

    def parsed(self, name: str, parse: Callable[[str], T]) -> T | None:
        """First value of `name` run through `parse` (cached); None if absent.

        Raises SipSyntaxError if the value does not parse. The first field's value is also
        cached under the header key, so asking again (the stack asks for the top Via and the
        CSeq several times per message) is one dict lookup; appending keeps it valid.
        """
        key = header_key(name)
        first = (parse.__name__, key)
        hit = self._cache.get(first)
        if hit is not None:
            found: T = hit
            return found
        for i, (k, _, v) in enumerate(self._fields):
            if k == key:
                found = self._parse_at(i, v, parse)
                self._cache[first] = found
                return found
        return None

    def parsed_all(self, name: str, parse: Callable[[str], T]) -> list[T]:
        """Every value of `name` run through `parse` (cached); raises SipSyntaxError."""
        key = header_key(name)
        return [self._parse_at(i, v, parse) for i, (k, _, v) in enumerate(self._fields) if k == key]

    def adopt_cache(self, other: Headers, copied: Iterable[tuple[int, int]]) -> None:
        """For fields copied unchanged from `other` ((its index, our index) pairs), take over
        what `other` parsed of them already: a response reuses its request's Via and CSeq."""
        if other._cache:
            where: dict[int | str, int | str] = {theirs: ours for theirs, ours in copied}
            self._adopt(other, where)

    def _adopt(self, other: Headers, where: dict[int | str, int | str]) -> None:
        """`adopt_cache` with the pairs as a dict (their index -> ours). Entries cached by
        header key miss in it (they are not known to stay first here; `parsed` finds them
        again)."""
        mine = self._cache
        for (tag, at), value in other._cache.items():
            ours = where.get(at)
            if ours is not None:
                mine[(tag, ours)] = value

    def _parse_at(self, index: int, value: str, parse: Callable[[str], T]) -> T:
        ckey = (parse.__name__, index)
        hit = self._cache.get(ckey)
        if hit is not None:
            result: T = hit
            return result
        result = parse(value)
        self._cache[ckey] = result
        return result

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = header_key(name)
        for k, _, _ in self._fields:
            if k == key:
                return True
        return False

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((n, v) for _, n, v in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._fields] == [(k, v) for k, _, v in other._fields]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def copy(self) -> Headers:
        return Headers._from_fields(list(self._fields))
