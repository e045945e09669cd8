"""Yealink XML browser objects: a `phone_screens.Screen` as a Yealink document.

YealinkIPPhoneInputScreen, YealinkIPPhoneTextMenu and YealinkIPPhoneTextScreen with
`<SoftKey index="n">` keys, as the Yealink XML browser accepts them (the Aastra-derived
dialect: `<URI>` and `<Prompt>` where Cisco has `<URL>` and `<Name>`). Yealink menus have no
bottom prompt line, so the guide's status line goes into the menu title, and under the text
of a text screen.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

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

MEDIA_TYPE = "text/xml"
MENU_ITEMS_MAX = 30  # the XML browser shows at most 30 menu items

SOFT_KEY_URIS: dict[Key, str] = {
    Key.SUBMIT: "SoftKey:Submit",
    Key.BACKSPACE: "SoftKey:BackSpace",
    Key.EXIT: "SoftKey:Exit",
    Key.SELECT: "SoftKey:Select",
}

# InputField type and password attributes.
FIELD_TYPES: dict[FieldKind, tuple[str, str]] = {
    FieldKind.TEXT: ("string", "no"),
    FieldKind.DIGITS: ("number", "no"),
    FieldKind.PIN: ("number", "yes"),
}

_SCREEN_ATTRIBUTES = {"destroyOnExit": "yes", "Beep": "no"}


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _title(root: ET.Element, text: str) -> None:
    _add(root, "Title", text).set("wrap", "yes")


def _soft_keys(root: ET.Element, keys: tuple[SoftKey, ...]) -> None:
    for index, key in enumerate(keys, start=1):
        item = ET.SubElement(root, "SoftKey", index=str(index))
        _add(item, "Label", key.label)
        target = key.target
        _add(item, "URI", SOFT_KEY_URIS[target] if isinstance(target, Key) else target)


def render(screen: Screen, charset: str = UTF8) -> bytes:
    """The Yealink XML document for `screen`, in `charset` (characters it lacks folded,
    `charsets.fold`) with an XML declaration naming it."""
    if isinstance(screen, InputScreen):
        root = ET.Element(
            "YealinkIPPhoneInputScreen",
            {"type": "string", "displayMode": "normal", **_SCREEN_ATTRIBUTES},
        )
        _title(root, screen.title)
        _add(root, "URL", screen.url)
        for field in screen.fields:
            kind, password = FIELD_TYPES[field.kind]
            item = ET.SubElement(root, "InputField", type=kind, password=password)
            _add(item, "Prompt", f"{field.label}:")
            _add(item, "Parameter", field.param)
            _add(item, "Default", field.default)
    elif isinstance(screen, MenuScreen):
        root = ET.Element("YealinkIPPhoneTextMenu", {"style": "numbered", **_SCREEN_ATTRIBUTES})
        _title(root, f"{screen.title} - {screen.status}" if screen.status else screen.title)
        for entry in screen.items[:MENU_ITEMS_MAX]:
            item = ET.SubElement(root, "MenuItem")
            _add(item, "Prompt", entry.label)
            _add(item, "URI", entry.url)
    else:
        assert isinstance(screen, TextScreen)
        root = ET.Element("YealinkIPPhoneTextScreen", dict(_SCREEN_ATTRIBUTES))
        _title(root, screen.title)
        lines = list(screen.lines)
        if screen.status:
            lines += ["", screen.status]
        _add(root, "Text", "\n".join(lines))
    _soft_keys(root, screen.soft_keys)
    body = ET.tostring(root, encoding="unicode")
    declaration = f'<?xml version="1.0" encoding="{charset}"?>\n'
    return encode(declaration + body + "\n", charset)


def content_type(charset: str) -> bytes:
    """The HTTP `Content-Type` of a document in `charset`."""
    return f"{MEDIA_TYPE}; charset={charset}".encode("ascii")
