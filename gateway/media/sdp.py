"""SDP (RFC 4566) session descriptions and the RFC 3264 offer/answer rules for one audio stream.

Sans-IO: bytes in, dataclasses out, and back. Parsing is strict about what we need to place a
call (v=, o=, c=, m=, rtpmap) and names the defect in `SdpError` (the caller answers 488 with
it); lines and attributes we do not interpret are kept and written back, so a parsed
description serialises to an equivalent one (byte-exact for the usual line order).

Offer/answer: we accept the first `m=audio` over RTP/AVP(F) with a port, choose the first
format of the offer that we support (PCMU, PCMA), keep telephone-event if offered (with the
offer's payload type), reject every other m-line with port 0 (same count and order, RFC 3264
6), and mirror the direction (RFC 3264 6.1), treating `c=0.0.0.0` as the old hold (8.4).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from enum import StrEnum

MAX_SDP_BYTES = 65536
MAX_LINES = 2000
TELEPHONE_EVENT = "telephone-event"
# RFC 3551 6, Table 4: static audio payload types (a=rtpmap is optional for these).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int]] = {
    0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 5: ("DVI4", 8000),
    6: ("DVI4", 16000), 7: ("LPC", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000),
    10: ("L16", 44100), 11: ("L16", 44100), 12: ("QCELP", 8000), 13: ("CN", 8000),
    14: ("MPA", 90000), 15: ("G728", 8000), 16: ("DVI4", 11025), 17: ("DVI4", 22050),
    18: ("G729", 8000),
}
SUPPORTED_CODECS: dict[str, int] = {"PCMU": 0, "PCMA": 8}
_RTP_PROTOS = ("RTP/AVP", "RTP/AVPF")
_HOLD_ADDRESSES = ("0.0.0.0", "::")
# RFC 4566 5: the order of the lines; the "other" lines we keep are written back in it.
_SESSION_BEFORE_C = "iuep"
_SESSION_BEFORE_T = "b"
_SESSION_AFTER_T = "trzk"  # further t= lines, then r z k
_MEDIA_BEFORE_C = "i"
_MEDIA_AFTER_C = "bk"


class SdpError(ValueError):
    """The SDP is malformed or cannot be answered; str() names the defect (488 reason)."""


class Direction(StrEnum):
    """RFC 3264 5.1 / RFC 4566 6 direction attributes."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    def mirror(self) -> Direction:
        """The answer's direction for an offer with this one (RFC 3264 6.1)."""
        return _MIRROR[self]

    def without_send(self) -> Direction:
        return Direction.RECVONLY if self.receives else Direction.INACTIVE

    @classmethod
    def of(cls, sends: bool, receives: bool) -> Direction:
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE


_MIRROR = {
    Direction.SENDRECV: Direction.SENDRECV,
    Direction.SENDONLY: Direction.RECVONLY,
    Direction.RECVONLY: Direction.SENDONLY,
    Direction.INACTIVE: Direction.INACTIVE,
}
_DIRECTIONS = frozenset(d.value for d in Direction)


@dataclass(frozen=True, slots=True)
class Origin:
    """o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>."""

    username: str
    session_id: str
    version: str
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    def line(self) -> str:
        return (f"{self.username} {self.session_id} {self.version} {self.nettype} "
                f"{self.addrtype} {self.address}")


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """One RTP payload format: a=rtpmap (or the static table) plus its a=fmtp."""

    payload_type: int
    encoding: str
    clock_rate: int = 8000
    fmtp: str | None = None
    channels: int | None = None

    @property
    def name(self) -> str:
        """Upper-case encoding name, or `pt<n>` when the SDP never named it."""
        return self.encoding.upper() if self.encoding else f"pt{self.payload_type}"

    def rtpmap(self) -> str:
        ch = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{ch}"


Attribute = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One m= section. `formats` holds RTP formats; other protocols keep their fmt tokens in
    `other_formats`. `direction` is the effective one (session-level attribute applied)."""

    media: str
    port: int
    proto: str
    formats: tuple[MediaFormat, ...]
    connection: str | None = None
    direction: Direction = Direction.SENDRECV
    ptime: int | None = None
    port_count: int | None = None
    other_formats: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    lines: tuple[tuple[str, str], ...] = ()  # i=, b=, k= kept as (type, value)

    def format_tokens(self) -> tuple[str, ...]:
        return tuple(str(f.payload_type) for f in self.formats) + self.other_formats

    def attribute(self, name: str) -> str | None:
        """Value of the first attribute `name` we kept (empty string for a flag)."""
        for n, v in self.attributes:
            if n == name:
                return v if v is not None else ""
        return None

    def find(self, encoding: str) -> MediaFormat | None:
        """The first format with this encoding name (case-insensitive)."""
        enc = encoding.upper()
        for f in self.formats:
            if f.encoding.upper() == enc:
                return f
        return None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP body (RFC 4566 5)."""

    origin: Origin
    session_name: str
    connection: str | None
    media: tuple[MediaDescription, ...]
    timing: str = "0 0"
    attributes: tuple[Attribute, ...] = ()
    lines: tuple[tuple[str, str], ...] = ()  # i u e p b r z k kept as (type, value)
    version: int = 0

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        """Parse an SDP body; raises `SdpError` naming the first defect."""
        return _parse(data)

    def to_bytes(self) -> bytes:
        """Serialise with CRLF line ends (RFC 4566 5)."""
        out = [f"v={self.version}", f"o={self.origin.line()}", f"s={self.session_name}"]
        out += _lines_of(self.lines, _SESSION_BEFORE_C)
        if self.connection is not None:
            out.append(f"c={_connection_line(self.connection)}")
        out += _lines_of(self.lines, _SESSION_BEFORE_T)
        out.append(f"t={self.timing}")
        out += _lines_of(self.lines, _SESSION_AFTER_T)
        out += [_attribute_line(a) for a in self.attributes]
        for m in self.media:
            port = f"{m.port}/{m.port_count}" if m.port_count is not None else str(m.port)
            out.append(f"m={' '.join((m.media, port, m.proto, *m.format_tokens()))}")
            out += _lines_of(m.lines, _MEDIA_BEFORE_C)
            if m.connection is not None:
                out.append(f"c={_connection_line(m.connection)}")
            out += _lines_of(m.lines, _MEDIA_AFTER_C)
            for f in m.formats:
                if f.encoding:
                    out.append(f"a=rtpmap:{f.rtpmap()}")
                if f.fmtp is not None:
                    out.append(f"a=fmtp:{f.payload_type} {f.fmtp}")
            if m.ptime is not None:
                out.append(f"a=ptime:{m.ptime}")
            out += [_attribute_line(a) for a in m.attributes]
            out.append(f"a={m.direction.value}")
        return ("\r\n".join(out) + "\r\n").encode("utf-8", "surrogateescape")

    def audio(self) -> tuple[int, MediaDescription] | None:
        """Index and description of the first usable audio stream (RTP, port not 0)."""
        for i, m in enumerate(self.media):
            if m.media == "audio" and m.port != 0 and m.proto.upper() in _RTP_PROTOS:
                return i, m
        return None

    def connection_of(self, media: MediaDescription) -> str | None:
        """The media's address: its own c= line, else the session's (RFC 4566 5.7)."""
        conn = media.connection if media.connection is not None else self.connection
        return None if conn is None else conn.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The outcome of offer/answer for the audio stream: what to send, where, and how."""

    codec: MediaFormat
    telephone_event: MediaFormat | None
    remote: tuple[str, int]
    direction: Direction
    local: SessionDescription
    remote_description: SessionDescription | None = field(default=None, compare=False)
    ptime: int = 20  # the peer's a=ptime (a wish: we always send 20 ms)

    @property
    def on_hold(self) -> bool:
        """The peer asked us not to send (sendonly/inactive from it, or c=0.0.0.0)."""
        return not self.direction.sends


# --- parsing -----------------------------------------------------------------------------


def _lines_of(lines: tuple[tuple[str, str], ...], types: str) -> list[str]:
    return [f"{t}={v}" for t, v in lines if t in types]


def _attribute_line(attr: Attribute) -> str:
    name, value = attr
    return f"a={name}" if value is None else f"a={name}:{value}"


def _connection_line(address: str) -> str:
    return f"IN {'IP6' if ':' in address else 'IP4'} {address}"


def _parse_connection(value: str, where: str) -> str:
    parts = value.split()
    if len(parts) != 3:
        raise SdpError(f"Bad c= line{where}: {value!r}")
    nettype, addrtype, address = parts
    if nettype != "IN":
        raise SdpError(f"Unsupported network type in c= line{where}: {nettype}")
    if addrtype not in ("IP4", "IP6"):
        raise SdpError(f"Unsupported address type in c= line{where}: {addrtype}")
    return address


def _parse_int(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SdpError(f"Bad {what}: {text!r}") from None
    if not low <= value <= high:
        raise SdpError(f"Bad {what}: {text!r}")
    return value


def _parse_ptime(text: str) -> int:
    try:
        value = float(text)  # some phones write "20.0"
    except ValueError:
        raise SdpError(f"Bad a=ptime: {text!r}") from None
    if not 1 <= value <= 1000:
        raise SdpError(f"Bad a=ptime: {text!r}")
    return round(value)


@dataclass(slots=True)
class _MediaBuilder:
    media: str
    port: int
    port_count: int | None
    proto: str
    tokens: list[str]
    connection: str | None = None
    direction: Direction | None = None
    ptime: int | None = None
    rtpmaps: dict[int, tuple[str, int, int | None]] = field(default_factory=dict)
    fmtps: dict[int, str] = field(default_factory=dict)
    attributes: list[Attribute] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)

    def attribute(self, name: str, value: str | None) -> None:
        if value is None and name in _DIRECTIONS:
            self.direction = Direction(name)
        elif name == "rtpmap" and value is not None:
            pt, rest = _split_pt(value, "rtpmap")
            if pt in self.rtpmaps:
                raise SdpError(f"Duplicate a=rtpmap for payload type {pt}")
            self.rtpmaps[pt] = _parse_rtpmap(rest, value)
        elif name == "fmtp" and value is not None:
            pt, rest = _split_pt(value, "fmtp")
            if pt in self.fmtps:
                raise SdpError(f"Duplicate a=fmtp for payload type {pt}")
            self.fmtps[pt] = rest
        elif name == "ptime" and value is not None:
            self.ptime = _parse_ptime(value)
        else:
            self.attributes.append((name, value))

    def build(self, session_direction: Direction | None) -> MediaDescription:
        direction = self.direction or session_direction or Direction.SENDRECV
        rtp = self.proto.upper().startswith("RTP/")
        formats: list[MediaFormat] = []
        other: tuple[str, ...] = ()
        attributes = self.attributes
        if rtp:
            for tok in self.tokens:
                pt = _parse_int(tok, f"payload type in m={self.media}", 0, 127)
                if any(f.payload_type == pt for f in formats):  # "0 8 0", "0 8 00"
                    raise SdpError(f"Payload type {pt} twice in m={self.media}")
                if pt in self.rtpmaps:
                    enc, rate, ch = self.rtpmaps.pop(pt)
                else:
                    enc, rate = STATIC_PAYLOAD_TYPES.get(pt, ("", 8000))
                    ch = None
                formats.append(MediaFormat(pt, enc, rate, self.fmtps.pop(pt, None), ch))
            # rtpmap/fmtp for payload types not in the m= line are kept as plain attributes.
            extra: list[Attribute] = [("rtpmap", f"{pt} {e}/{r}" + (f"/{c}" if c else ""))
                                      for pt, (e, r, c) in self.rtpmaps.items()]
            extra += [("fmtp", f"{pt} {v}") for pt, v in self.fmtps.items()]
            attributes = attributes + extra
        else:
            other = tuple(self.tokens)
            attributes = ([("rtpmap", f"{pt} {e}/{r}" + (f"/{c}" if c else ""))
                           for pt, (e, r, c) in self.rtpmaps.items()]
                          + [("fmtp", f"{pt} {v}") for pt, v in self.fmtps.items()]
                          + attributes)
        return MediaDescription(self.media, self.port, self.proto, tuple(formats),
                                self.connection, direction, self.ptime, self.port_count, other,
                                tuple(attributes), tuple(self.lines))


def _split_pt(value: str, what: str) -> tuple[int, str]:
    head, _, rest = value.strip().partition(" ")
    pt = _parse_int(head, f"payload type in a={what}", 0, 127)
    return pt, rest.strip()


def _parse_rtpmap(rest: str, value: str) -> tuple[str, int, int | None]:
    parts = rest.split("/")
    if len(parts) not in (2, 3) or not parts[0]:
        raise SdpError(f"Bad a=rtpmap: {value!r}")
    rate = _parse_int(parts[1], "clock rate in a=rtpmap", 1, 10_000_000)
    channels = _parse_int(parts[2], "channels in a=rtpmap", 1, 255) if len(parts) == 3 else None
    return parts[0], rate, channels


def _parse(data: bytes) -> SessionDescription:
    if len(data) > MAX_SDP_BYTES:
        raise SdpError(f"SDP too large ({len(data)} bytes)")
    text = data.decode("utf-8", "surrogateescape")
    raw_lines = text.split("\n")
    if len(raw_lines) > MAX_LINES:
        raise SdpError(f"SDP has too many lines ({len(raw_lines)})")
    lines: list[tuple[str, str]] = []
    for n, raw in enumerate(raw_lines, 1):
        line = raw.removesuffix("\r")  # RFC 4566 5: accept LF as well as CRLF
        if not line.strip():
            continue
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise SdpError(f"SDP line {n} is not <type>=<value>: {line[:40]!r}")
        lines.append((line[0], line[2:]))
    if not lines or lines[0] != ("v", "0"):
        raise SdpError("SDP does not start with v=0")
    origin: Origin | None = None
    session_name: str | None = None
    connection: str | None = None
    timing: str | None = None
    session_direction: Direction | None = None
    attributes: list[Attribute] = []
    others: list[tuple[str, str]] = []
    builders: list[_MediaBuilder] = []
    for kind, value in lines[1:]:
        m = builders[-1] if builders else None
        where = f" of m={m.media}" if m is not None else ""
        if kind == "m":
            builders.append(_parse_m_line(value))
        elif kind == "a":
            name, sep, val = value.partition(":")
            if not name:
                raise SdpError(f"Empty attribute name{where}: a={value!r}")
            if m is not None:
                m.attribute(name, val if sep else None)
            elif not sep and name in _DIRECTIONS:
                session_direction = Direction(name)
                attributes.append((name, None))
            else:
                attributes.append((name, val if sep else None))
        elif kind == "c":
            address = _parse_connection(value, where)
            if m is not None:
                if m.connection is not None:
                    raise SdpError(f"More than one c= line in m={m.media}")
                m.connection = address
            elif connection is not None:
                raise SdpError("More than one session-level c= line")
            else:
                connection = address
        elif m is not None:
            if kind in "ibk":
                m.lines.append((kind, value))
            else:
                raise SdpError(f"Unexpected {kind}= line{where}")
        elif kind == "o":
            if origin is not None:
                raise SdpError("More than one o= line")
            origin = _parse_origin(value)
        elif kind == "s":
            session_name = value
        elif kind == "t":
            if timing is None:
                timing = value
            else:
                others.append(("t", value))  # further t= lines are rare; kept but unused
        elif kind in "iuepbrzk":
            others.append((kind, value))
        elif kind == "v":
            raise SdpError("More than one v= line")
        else:
            raise SdpError(f"Unknown SDP line type {kind}=")
    if origin is None:
        raise SdpError("SDP has no o= line")
    media = tuple(b.build(session_direction) for b in builders)
    return SessionDescription(origin, session_name if session_name is not None else "-",
                              connection, media, timing or "0 0", tuple(attributes),
                              tuple(others))


def _parse_origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6:
        raise SdpError(f"Bad o= line: {value!r}")
    username, sid, version, nettype, addrtype, address = parts
    return Origin(username, sid, version, address, nettype, addrtype)


def _parse_m_line(value: str) -> _MediaBuilder:
    parts = value.split()
    if len(parts) < 4:
        raise SdpError(f"Bad m= line (needs media, port, proto and formats): {value!r}")
    media, port_text, proto, *tokens = parts
    port_part, slash, count_part = port_text.partition("/")
    port = _parse_int(port_part, f"port in m={media}", 0, 65535)
    count = _parse_int(count_part, f"port count in m={media}", 1, 65535) if slash else None
    return _MediaBuilder(media, port, count, proto, tokens)


# --- offer / answer ----------------------------------------------------------------------


def _media_address(host: str | None, side: str) -> str:
    if host is None:
        raise SdpError(f"No c= line for m=audio in the {side} (nor at session level)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # RFC 4566 allows a domain name here; no phone sends one, and RTP needs an address.
        raise SdpError(f"c= address {host!r} in the {side} is not an IP address") from None
    return host


def _telephone_event_of(m: MediaDescription) -> MediaFormat | None:
    for f in m.formats:
        if f.encoding.lower() == TELEPHONE_EVENT and f.clock_rate == 8000:
            return f
    return None


def _choose_codec(m: MediaDescription, codecs: tuple[str, ...]) -> MediaFormat | None:
    wanted = {c.upper() for c in codecs}
    for f in m.formats:
        if f.encoding.upper() in wanted and f.clock_rate == 8000 and f.channels in (None, 1):
            return f
    return None


def _no_common_codec(m: MediaDescription, codecs: tuple[str, ...]) -> SdpError:
    offered = [f.name for f in m.formats if f.encoding.lower() != TELEPHONE_EVENT]
    return SdpError(f"No common codec: offered {'/'.join(offered) or 'none'}, "
                    f"we support {', '.join(codecs)}")


def _answer_event_fmtp(offered: MediaFormat) -> str:
    # RFC 4733 2.4.1: no fmtp means 0-15; we receive 16 (flash) too when offered.
    fmtp = (offered.fmtp or "").replace(" ", "")
    return "0-16" if ("0-16" in fmtp or "16" in fmtp.split(",")) else "0-15"


def _audio_media(local_port: int, proto: str, formats: tuple[MediaFormat, ...],
                 direction: Direction) -> MediaDescription:
    return MediaDescription("audio", local_port, proto, formats, None, direction, 20)


def _session(local_ip: str, session_id: int, version: int,
             media: tuple[MediaDescription, ...]) -> SessionDescription:
    origin = Origin("acdgate", str(session_id), str(version), local_ip,
                    addrtype="IP6" if ":" in local_ip else "IP4")
    return SessionDescription(origin, "acdgate", local_ip, media)


def negotiate_answer(offer: bytes, local_ip: str, local_port: int, session_id: int,
                     *, codecs: tuple[str, ...] = ("PCMU", "PCMA"),
                     version: int = 1) -> Negotiated:
    """Answer an offer (RFC 3264 6): raises `SdpError` when it cannot be answered."""
    unknown = [c for c in codecs if c.upper() not in SUPPORTED_CODECS]
    if unknown:
        raise ValueError(f"unsupported codec(s) {unknown}; we have {list(SUPPORTED_CODECS)}")
    sdp = SessionDescription.parse(offer)
    found = sdp.audio()
    if found is None:
        raise SdpError("No audio stream offered (m=audio over RTP/AVP with a port)")
    index, audio = found
    codec = _choose_codec(audio, codecs)
    if codec is None:
        raise _no_common_codec(audio, codecs)
    host = _media_address(sdp.connection_of(audio), "offer")
    event = _telephone_event_of(audio)
    formats: tuple[MediaFormat, ...] = (codec,)
    if event is not None:
        formats += (replace(event, encoding=TELEPHONE_EVENT, fmtp=_answer_event_fmtp(event)),)
    direction = audio.direction.mirror()
    if host in _HOLD_ADDRESSES:
        direction = direction.without_send()  # RFC 3264 8.4: old-style hold
    media: list[MediaDescription] = []
    for i, m in enumerate(sdp.media):
        if i == index:
            media.append(_audio_media(local_port, audio.proto, formats, direction))
        else:
            # RFC 3264 6: a rejected stream keeps its place with port 0 and the offered formats.
            tokens = tuple(MediaFormat(f.payload_type, "") for f in m.formats)
            media.append(MediaDescription(m.media, 0, m.proto, tokens, None, Direction.INACTIVE,
                                          other_formats=m.other_formats))
    local = _session(local_ip, session_id, version, tuple(media))
    return Negotiated(codec, formats[1] if event is not None else None, (host, audio.port),
                      direction, local, sdp, audio.ptime or 20)


def build_offer(local_ip: str, local_port: int, session_id: int, version: int = 1,
                *, codecs: tuple[str, ...] = ("PCMU", "PCMA"),
                telephone_event: int | None = 101,
                direction: Direction = Direction.SENDRECV) -> SessionDescription:
    """Our offer: one audio stream with `codecs` (in preference order) and telephone-event."""
    formats = []
    for c in codecs:
        pt = SUPPORTED_CODECS.get(c.upper())
        if pt is None:
            raise ValueError(f"unsupported codec {c!r}")
        formats.append(MediaFormat(pt, c.upper()))
    if telephone_event is not None:
        if not 96 <= telephone_event <= 127:
            raise ValueError("telephone-event needs a dynamic payload type (96-127)")
        formats.append(MediaFormat(telephone_event, TELEPHONE_EVENT, fmtp="0-16"))
    media = _audio_media(local_port, "RTP/AVP", tuple(formats), direction)
    return _session(local_ip, session_id, version, (media,))


def parse_answer(answer: bytes, offer: SessionDescription) -> Negotiated:
    """Check an answer against our offer (RFC 3264 6, 7) and say what was agreed."""
    sdp = SessionDescription.parse(answer)
    if len(sdp.media) != len(offer.media):
        raise SdpError(f"Answer has {len(sdp.media)} m-lines, the offer had {len(offer.media)}")
    for i, (a, o) in enumerate(zip(sdp.media, offer.media, strict=True)):
        if a.media != o.media:
            raise SdpError(f"Answer m-line {i + 1} is {a.media}, the offer's is {o.media}")
    found = offer.audio()
    if found is None:
        raise SdpError("Our offer has no audio stream")
    index, ours = found
    theirs = sdp.media[index]
    if theirs.port == 0:
        raise SdpError("Answer rejected the audio stream (port 0)")
    offered = {f.payload_type: f for f in ours.formats}
    codec: MediaFormat | None = None
    event: MediaFormat | None = None
    for f in theirs.formats:
        mine = offered.get(f.payload_type)
        if mine is None or (f.encoding and f.encoding.upper() != mine.encoding.upper()):
            continue  # RFC 3264 6.1: only formats from the offer, with its payload types
        if codec is None and mine.encoding.upper() in SUPPORTED_CODECS:
            codec = mine
        elif event is None and mine.encoding.lower() == TELEPHONE_EVENT:
            event = replace(mine, fmtp=f.fmtp or mine.fmtp)
    if codec is None:
        raise _no_common_codec(theirs, tuple(f.encoding for f in ours.formats
                                             if f.encoding.upper() in SUPPORTED_CODECS))
    host = _media_address(sdp.connection_of(theirs), "answer")
    # RFC 3264 6.1: the answer may only narrow the offered direction.
    allowed = ours.direction.mirror()
    if (theirs.direction.sends and not allowed.sends) or (
            theirs.direction.receives and not allowed.receives):
        raise SdpError(f"Answer direction {theirs.direction} does not fit the offered "
                       f"{ours.direction}")
    direction = theirs.direction.mirror()
    if host in _HOLD_ADDRESSES:
        direction = direction.without_send()
    return Negotiated(codec, event, (host, theirs.port), direction, offer, sdp,
                      theirs.ptime or 20)


__all__ = [
    "Direction", "MediaDescription", "MediaFormat", "Negotiated", "Origin", "SdpError",
    "SessionDescription", "build_offer", "negotiate_answer", "parse_answer",
]
