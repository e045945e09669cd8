"""Caller data: the enterprise data of a routed call and how the Caller Data screen lays it out.

The guide's Caller Data screen ("Layout: Default", ANI, DNIS and the site's own fields) shows
what the site file's `[caller_data]` section configures: which SIP headers of the incoming
call become data, the named layouts (a label for each key, per group or the site default),
and the stations whose phones accept a pushed screen. Data arrives from two places, the
incoming call and the HTTP API; both are bounded here so junk never grows a call's record.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

MAX_FIELDS = 32  # data fields a call keeps; more are dropped (the API refuses them)
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 256

DataFields = tuple[tuple[str, str], ...]


class BuiltinKey(StrEnum):
    """Keys a layout may name beside the call's enterprise data."""

    ANI = "ANI"  # the caller's number
    DNIS = "DNIS"  # the number dialled (the group)
    CALLER_NAME = "CallerName"  # the caller's display name, when the call carried one
    GROUP = "Group"  # the group's name


class DataSource(StrEnum):
    """Where a call's enterprise data came from (the journal says)."""

    SIP = "sip"  # the incoming call's headers
    API = "api"  # POST /api/calls/<id>/data


class PushKind(StrEnum):
    """How a station's phone takes a pushed screen."""

    CISCO = "cisco"  # POST /CGI/Execute, form field XML = CiscoIPPhoneExecute
    YEALINK = "yealink"  # POST /servlet?push=xml, a YealinkIPPhone document naming the URL
    POLYCOM = "polycom"  # POST /push, a PolycomIPPhone URL push (digest authenticated)


@dataclass(frozen=True, slots=True)
class LayoutField:
    """One line of the Caller Data screen: `label: <value of key>`."""

    label: str
    key: str


@dataclass(frozen=True, slots=True)
class Layout:
    """A named layout (guide "Layout: Default"); `groups` it is the layout of."""

    name: str
    fields: tuple[LayoutField, ...]
    groups: tuple[str, ...] = ()
    rest: bool = False  # also show the data fields no field names (`key: value`)


@dataclass(frozen=True, slots=True)
class PushTarget:
    """A station whose phone is pushed the Caller Data screen when a routed call rings it."""

    station: str
    kind: PushKind
    url: str  # the phone's push address: http://10.0.0.5/CGI/Execute
    username: str = ""
    password: str = ""


DEFAULT_LAYOUT = Layout("Default", (LayoutField("ANI", BuiltinKey.ANI.value),
                                    LayoutField("DNIS", BuiltinKey.DNIS.value)), rest=True)


@dataclass(frozen=True, slots=True)
class CallerDataSettings:
    """The site's `[caller_data]`: captured headers, layouts, pushed stations."""

    headers: tuple[str, ...] = ()  # SIP header names whose values become data (X-Account, User-to-User)
    layouts: tuple[Layout, ...] = ()
    default_layout: str | None = None  # the name of the layout for groups without one of their own
    push: tuple[PushTarget, ...] = ()

    def layout_for(self, group: str) -> Layout:
        """The group's layout, else the site default, else ANI and DNIS ("Default")."""
        for layout in self.layouts:
            if group in layout.groups:
                return layout
        for layout in self.layouts:
            if layout.name == self.default_layout:
                return layout
        return DEFAULT_LAYOUT

    def push_target(self, station: str) -> PushTarget | None:
        return next((p for p in self.push if p.station == station), None)


def printable(text: str, limit: int) -> str:
    """`text` with control characters dropped, at most `limit` characters (a phone's screen)."""
    return "".join(c for c in text if c.isprintable())[:limit]


def merge(old: DataFields, new: DataFields) -> DataFields:
    """`old` with `new`'s keys set (a key given again replaces its value), at most MAX_FIELDS."""
    merged = dict(old)
    for key, value in new:
        if key in merged or len(merged) < MAX_FIELDS:
            merged[key] = value
    return tuple(merged.items())


def fields_from_json(body: object) -> DataFields | str:
    """The fields of an API body (a JSON object of strings), or why it is refused."""
    if not isinstance(body, Mapping):
        return "the body must be a JSON object of string fields"
    if not body:
        return "no fields given"
    if len(body) > MAX_FIELDS:
        return f"at most {MAX_FIELDS} fields"
    out = []
    for key, value in body.items():
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS or printable(key, MAX_KEY_CHARS) != key:
            return f"field names are 1-{MAX_KEY_CHARS} printable characters"
        if not isinstance(value, str):
            return f"field {key!r} must be a string"
        if len(value) > MAX_VALUE_CHARS:
            return f"field {key!r}: at most {MAX_VALUE_CHARS} characters"
        out.append((key, printable(value, MAX_VALUE_CHARS)))
    return tuple(out)


def screen_lines(layout: Layout, builtins: Mapping[str, str], data: DataFields) -> tuple[str, ...]:
    """The Caller Data screen's lines: `Layout: <name>`, then each field of the layout that
    has a value (a key the call does not carry is left out, as an empty line says nothing)."""
    values = dict(data)
    values.update({k: v for k, v in builtins.items() if v})
    lines = [f"Layout: {layout.name}"]
    for f in layout.fields:
        value = values.get(f.key)
        if value:
            lines.append(f"{f.label}: {value}")
    if layout.rest:
        named = {f.key for f in layout.fields}
        lines.extend(f"{key}: {value}" for key, value in data if key not in named)
    return tuple(lines)
