"""Polycom microbrowser pages: a `phone_screens.Screen` as an XHTML document.

Polycom phones (SoundPoint IP, VVX, UC Software) have no Cisco/Yealink XML objects; their
microbrowser shows a subset of XHTML 1.0. What this module relies on, from Polycom's
"Web Application Developer's Guide for the SoundPoint IP/SoundStation IP Family" (SIP 3.1,
ch. 1 "What is the Microbrowser", ch. 2 "Programmable Soft Keys") and the later
"Web Application for Polycom Phones" guide (UC Software 5.0.0):

- XHTML 1.0 subset, strictly well-formed (a syntax error shows an error, nothing of the
  page); no scripting; forms are sent with GET or POST and processed by the server;
  `<html> <head> <title> <body> <p> <br/> <a href> <form> <input>` are supported, and the
  `<title>` is the microbrowser's title bar.
- `<softkey index="1..8" label="<= 9 chars" action="..."/>`: a Polycom extension for the
  interactive microbrowser. `SoftKey:Submit` must sit inside the `<form>` it submits;
  `SoftKey:Exit` leaves the browser; `SoftKey:Fetch;<URL>` fetches a page (also used by
  Polycom::App::URI and deployed Polycom XHTML services). The phone's own soft key groups
  can override custom soft keys, so every page soft key is also a plain link on the page.
- The HTML refresh `<meta>` is not supported; the HTTP `Refresh` header is (Administrator's
  Guide, `mb.idleDisplay.refresh`), which `phone_xml` sends for Skill Stats.

Phone-local keys: Select and << have no soft key here (the phone's OK/Select key opens the
highlighted link and its edit soft keys delete characters); Exit and Submit do. A menu is a
list of links, one per line, selected with the arrow keys and OK. The documents are built
with ElementTree, so all text and URLs are escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from acdgate.gateway.web.charsets import UTF8, encode
from acdgate.gateway.web.phone_screens import (
    FieldKind,
    InputScreen,
    Key,
    MenuScreen,
    Screen,
    SoftKey,
    TextScreen,
)

# The XHTML media type (RFC 3236); the guides name no content type of their own.
MEDIA_TYPE = "application/xhtml+xml"
XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"

SOFT_KEYS_MAX = 8  # guide: an index greater than eight is ignored
SOFT_KEY_LABEL_MAX = 9  # guide: the maximum label length is 9 characters

# The phone-local actions the microbrowser has; Key.SELECT and Key.BACKSPACE are the
# phone's own OK and edit keys, so they get no <softkey>.
LOCAL_ACTIONS: dict[Key, str] = {
    Key.SUBMIT: "SoftKey:Submit",
    Key.EXIT: "SoftKey:Exit",
}

INPUT_TYPES: dict[FieldKind, str] = {
    FieldKind.TEXT: "text",
    FieldKind.DIGITS: "text",  # XHTML 1.0 has no numeric input; the keypad types digits
    FieldKind.PIN: "password",  # shown masked
}


def _lines(parent: ET.Element, lines: Iterable[str]) -> ET.Element:
    """One `<p>` holding `lines` separated by `<br/>` (ElementTree escapes the text)."""
    p = ET.SubElement(parent, "p")
    for n, line in enumerate(lines):
        if n == 0:
            p.text = line
        else:
            ET.SubElement(p, "br").tail = line
    return p


def _links(parent: ET.Element, links: Iterable[tuple[str, str]]) -> ET.Element | None:
    """One `<p>` of `<a href>` links, one per line; None when there are none."""
    pairs = list(links)
    if not pairs:
        return None
    p = ET.SubElement(parent, "p")
    for n, (label, url) in enumerate(pairs):
        if n:
            ET.SubElement(p, "br")
        ET.SubElement(p, "a", href=url).text = label
    return p


def _soft_keys(
    body: ET.Element, keys: Iterable[SoftKey], form: ET.Element | None = None
) -> None:
    """Polycom `<softkey>` elements, numbered in screen order: page keys fetch their URL,
    local keys act on the phone; Submit goes inside `form` (the guide requires it there)."""
    index = 0
    for key in keys:
        target = key.target
        if isinstance(target, Key) and target not in LOCAL_ACTIONS:
            continue
        index += 1
        if index > SOFT_KEYS_MAX:
            return
        action = LOCAL_ACTIONS[target] if isinstance(target, Key) else f"SoftKey:Fetch;{target}"
        parent = form if form is not None and target is Key.SUBMIT else body
        label = key.label[:SOFT_KEY_LABEL_MAX]
        ET.SubElement(parent, "softkey", index=str(index), label=label, action=action)


def _page_keys(keys: Iterable[SoftKey]) -> list[tuple[str, str]]:
    """The soft keys that open a page, as (label, URL) links."""
    return [(k.label, k.target) for k in keys if not isinstance(k.target, Key)]


def _input_body(body: ET.Element, screen: InputScreen) -> None:
    # A GET form: the phone sends `url?<param>=<value>&...`, as the Cisco/Yealink Submit does.
    form = ET.SubElement(body, "form", method="get", action=screen.url)
    if screen.prompt:
        _lines(form, [screen.prompt])
    for field in screen.fields:
        p = _lines(form, [field.label])
        ET.SubElement(p, "br")
        ET.SubElement(
            p, "input", type=INPUT_TYPES[field.kind], name=field.param, value=field.default
        )
    for key in screen.soft_keys:
        if key.target is Key.SUBMIT:  # also a button, for phones whose keys hide ours
            ET.SubElement(ET.SubElement(form, "p"), "input", type="submit", value=key.label)
    _links(body, _page_keys(screen.soft_keys))
    _soft_keys(body, screen.soft_keys, form)


def _menu_body(body: ET.Element, screen: MenuScreen) -> None:
    _links(body, [(item.label, item.url) for item in screen.items])
    if screen.status:
        _lines(body, [screen.status])
    _links(body, _page_keys(screen.soft_keys))
    _soft_keys(body, screen.soft_keys)


def _text_body(body: ET.Element, screen: TextScreen) -> None:
    _lines(body, screen.lines)
    if screen.status:
        _lines(body, [screen.status])
    _links(body, _page_keys(screen.soft_keys))
    _soft_keys(body, screen.soft_keys)


def render(screen: Screen, charset: str = UTF8) -> bytes:
    """The XHTML page for `screen`, in `charset` (characters it lacks folded,
    `charsets.fold`) with an XML declaration naming it."""
    html = ET.Element("html", xmlns=XHTML_NAMESPACE)
    ET.SubElement(ET.SubElement(html, "head"), "title").text = screen.title
    body = ET.SubElement(html, "body")
    match screen:
        case InputScreen():
            _input_body(body, screen)
        case MenuScreen():
            _menu_body(body, screen)
        case TextScreen():
            _text_body(body, screen)
    page = ET.tostring(html, encoding="unicode", short_empty_elements=True)
    declaration = f'<?xml version="1.0" encoding="{charset}"?>\n'
    return encode(declaration + page + "\n", charset)


def content_type(charset: str) -> bytes:
    """The HTTP `Content-Type` of a document in `charset`."""
    return f"{MEDIA_TYPE}; charset={charset}".encode("ascii")
