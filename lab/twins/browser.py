"""The XML browser of a phone twin: fetches Cisco or Yealink XML objects and acts on them
as the phone's browser does.

Supported objects: CiscoIPPhoneMenu / CiscoIPPhoneInput / CiscoIPPhoneText (Cisco Unified
IP Phone Services Application Development Notes, "CiscoIPPhone XML Objects") and
YealinkIPPhoneTextMenu / YealinkIPPhoneInputScreen / YealinkIPPhoneTextScreen (Yealink XML
Browser Developer's Guide). A menu item is opened by its number (keypad) or by Select on
the highlighted one; an input screen takes keypad digits into the focused field (the
default value stays, digits are appended, `<<`/BackSpace deletes one), Down/Up move the
focus, and Submit sends `URL?param=value&...` as the phone does. Soft keys are pressed by
position (Cisco `<Position>`, Yealink `index`); their URL is either a page to fetch, a
`SoftKey:` action or a `Dial:` URI (handed to the twin). The HTTP `Refresh` header
(`10; url=...`: Cisco development notes, "HTTP Refresh Setting") is kept on the screen and
followed by `refresh()`, which a scenario calls when the phone's timer would fire (the twin
does not wait on its own).
"""

from __future__ import annotations

import enum
import http.client
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

Connect = Callable[[tuple[str, int]], socket.socket]


class Dialect(enum.Enum):
    CISCO = "cisco"
    YEALINK = "yealink"


class ScreenKind(enum.Enum):
    MENU = "menu"
    INPUT = "input"
    TEXT = "text"


@dataclass(slots=True)
class InputItem:
    label: str
    param: str
    value: str


@dataclass(frozen=True, slots=True)
class SoftKeyItem:
    label: str
    url: str


@dataclass(slots=True)
class Screen:
    """One XML object as the browser shows it."""

    kind: ScreenKind
    title: str
    url: str
    items: list[tuple[str, str]] = field(default_factory=list)  # menu: (label, URL)
    fields: list[InputItem] = field(default_factory=list)
    form_url: str = ""
    text: str = ""
    prompt: str = ""
    soft_keys: dict[int, SoftKeyItem] = field(default_factory=dict)
    focus: int = 0
    refresh_seconds: int | None = None  # the HTTP Refresh header: reload after this long
    refresh_url: str = ""  # ... from this URL (the page's own when the header names none)

    def soft_key(self, label: str) -> int:
        """The position of the soft key labelled `label` (for tests and reports)."""
        for position, key in self.soft_keys.items():
            if key.label == label:
                return position
        raise KeyError(label)


def parse_refresh(value: str | None, url: str) -> tuple[int | None, str]:
    """The HTTP `Refresh` header `N; url=U` as (N, U): no header, or N = 0, is manual refresh
    (Cisco development notes); no URL reloads `url`."""
    if value is None:
        return None, ""
    seconds, _, rest = value.partition(";")
    try:
        n = int(seconds.strip())
    except ValueError:
        return None, ""
    key, _, target = rest.strip().partition("=")
    target = target.strip() if key.strip().lower() == "url" else ""
    return (n or None), (target or url)


class BrowserError(Exception):
    """The browser could not do what was asked (no screen, no such item, bad document)."""


def _text(el: ET.Element, tag: str) -> str:
    child = el.find(tag)
    return (child.text or "") if child is not None else ""


def parse_screen(body: bytes, url: str, dialect: Dialect) -> Screen:
    """The screen of an XML object; BrowserError for anything the phone would reject."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BrowserError(f"{url}: XML parse error: {exc}") from None
    tag = root.tag
    if dialect is Dialect.CISCO:
        kinds = {"CiscoIPPhoneMenu": ScreenKind.MENU, "CiscoIPPhoneInput": ScreenKind.INPUT,
                 "CiscoIPPhoneText": ScreenKind.TEXT}
        if tag not in kinds:
            raise BrowserError(f"{url}: not a displayable Cisco object: <{tag}>")
        screen = Screen(kinds[tag], _text(root, "Title"), url, prompt=_text(root, "Prompt"))
        screen.items = [(_text(i, "Name"), _text(i, "URL")) for i in root.findall("MenuItem")]
        screen.form_url = _text(root, "URL")
        screen.fields = [InputItem(_text(i, "DisplayName"), _text(i, "QueryStringParam"), _text(i, "DefaultValue"))
                         for i in root.findall("InputItem")]
        screen.text = _text(root, "Text")
        for n, item in enumerate(root.findall("SoftKeyItem"), start=1):
            position = int(_text(item, "Position") or n)
            screen.soft_keys[position] = SoftKeyItem(_text(item, "Name"), _text(item, "URL"))
    else:
        kinds = {"YealinkIPPhoneTextMenu": ScreenKind.MENU, "YealinkIPPhoneInputScreen": ScreenKind.INPUT,
                 "YealinkIPPhoneTextScreen": ScreenKind.TEXT}
        if tag not in kinds:
            raise BrowserError(f"{url}: not a Yealink XML browser object: <{tag}>")
        screen = Screen(kinds[tag], _text(root, "Title"), url)
        screen.items = [(_text(i, "Prompt"), _text(i, "URI")) for i in root.findall("MenuItem")]
        screen.form_url = _text(root, "URL")
        screen.fields = [InputItem(_text(i, "Prompt").rstrip(":"), _text(i, "Parameter"), _text(i, "Default"))
                         for i in root.findall("InputField")]
        screen.text = _text(root, "Text")
        for n, item in enumerate(root.findall("SoftKey"), start=1):
            position = int(item.get("index") or n)
            screen.soft_keys[position] = SoftKeyItem(_text(item, "Label"), _text(item, "URI"))
    if screen.kind is ScreenKind.MENU and not screen.items:
        raise BrowserError(f"{url}: a menu without items")
    if screen.kind is ScreenKind.INPUT and (not screen.form_url or not screen.fields):
        raise BrowserError(f"{url}: an input object needs a URL and input items")
    return screen


class XmlBrowser:
    """A phone's XML browser; `connect` opens the TCP connection (from the phone's host),
    `on_uri` runs URIs the browser does not handle itself (`Dial:N`)."""

    def __init__(self, dialect: Dialect, connect: Connect, on_uri: Callable[[str], None],
                 user_agent: str = "acdgate-phone-twin") -> None:
        self.dialect = dialect
        self.connect = connect
        self.on_uri = on_uri
        self.user_agent = user_agent
        self.screen: Screen | None = None
        self.history: list[str] = []  # "GET url -> status title"
        self.errors: list[str] = []

    # -- fetching -------------------------------------------------------------------------

    def open(self, url: str) -> Screen | None:
        """GET `url` and show what it answers; an error leaves no screen (as the phone's
        "XML parse error" / "HTTP error" notice does) and is kept in `errors`."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            return self._fail(f"{url}: only http:// URLs")
        port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=10)
            conn.sock = self.connect((parts.hostname, port))
            try:
                conn.request("GET", path, headers={"User-Agent": self.user_agent, "Accept": "text/xml"})
                response = conn.getresponse()
                body = response.read()
            finally:
                conn.close()
        except OSError as exc:
            return self._fail(f"GET {url}: {exc}")
        if response.status != 200:
            self.history.append(f"GET {url} -> {response.status}")
            return self._fail(f"GET {url}: HTTP {response.status}")
        try:
            self.screen = parse_screen(body, url, self.dialect)
        except BrowserError as exc:
            return self._fail(str(exc))
        self.screen.refresh_seconds, self.screen.refresh_url = parse_refresh(
            response.getheader("Refresh"), url
        )
        self.history.append(f"GET {url} -> 200 {self.screen.kind.value} {self.screen.title!r}")
        return self.screen

    def refresh(self) -> Screen | None:
        """The shown screen's refresh timer fires: fetch its Refresh URL again."""
        screen = self._need()
        if screen.refresh_seconds is None:
            raise BrowserError(f"{screen.title!r} has no automatic refresh")
        return self.open(screen.refresh_url)

    def _fail(self, why: str) -> Screen | None:
        self.errors.append(why)
        self.screen = None
        return self.screen

    def _need(self, *kinds: ScreenKind) -> Screen:
        if self.screen is None:
            raise BrowserError("no XML screen is shown")
        if kinds and self.screen.kind not in kinds:
            raise BrowserError(f"the {self.screen.kind.value} screen {self.screen.title!r} has no such action")
        return self.screen

    # -- keys -----------------------------------------------------------------------------

    @property
    def showing(self) -> bool:
        return self.screen is not None

    def digit(self, d: str) -> None:
        """A keypad key: the item with that number in a menu, else a character in the field."""
        screen = self._need()
        if screen.kind is ScreenKind.MENU:
            if not d.isdigit() or not 1 <= int(d) <= len(screen.items):
                raise BrowserError(f"menu {screen.title!r} has no item {d}")
            self.follow(screen.items[int(d) - 1][1])
        elif screen.kind is ScreenKind.INPUT:
            screen.fields[screen.focus].value += d
        else:
            raise BrowserError(f"text screen {screen.title!r} takes no digits")

    def move(self, step: int) -> None:
        screen = self._need(ScreenKind.MENU, ScreenKind.INPUT)
        count = len(screen.items) if screen.kind is ScreenKind.MENU else len(screen.fields)
        screen.focus = max(0, min(count - 1, screen.focus + step))

    def select(self) -> None:
        """Select / OK: open the highlighted menu item, submit an input screen."""
        screen = self._need(ScreenKind.MENU, ScreenKind.INPUT)
        if screen.kind is ScreenKind.MENU:
            self.follow(screen.items[screen.focus][1])
        else:
            self.submit()

    def submit(self) -> None:
        screen = self._need(ScreenKind.INPUT)
        query = urlencode([(f.param, f.value) for f in screen.fields])
        self.open(screen.form_url + ("&" if "?" in screen.form_url else "?") + query)

    def backspace(self) -> None:
        screen = self._need(ScreenKind.INPUT)
        item = screen.fields[screen.focus]
        item.value = item.value[:-1]

    def exit(self) -> None:
        self.screen = None

    def soft(self, position: int) -> None:
        screen = self._need()
        key = screen.soft_keys.get(position)
        if key is None:
            raise BrowserError(f"{screen.title!r} has no soft key {position} (has {sorted(screen.soft_keys)})")
        self.follow(key.url)

    def follow(self, url: str) -> None:
        """A URL from a menu item or soft key: a page, a soft key action, or a URI for the phone."""
        action = url.partition(":")[2] if url.startswith("SoftKey:") else None
        if action is not None:
            handlers: dict[str, Callable[[], None]] = {
                "Submit": self.submit, "<<": self.backspace, "BackSpace": self.backspace,
                "Exit": self.exit, "Select": self.select, "Cancel": self.exit, "Back": self.exit,
            }
            if action not in handlers:
                raise BrowserError(f"soft key action {url!r} not supported")
            handlers[action]()
        elif url.startswith(("http://", "https://")):
            self.open(url)
        else:
            self.on_uri(url)
