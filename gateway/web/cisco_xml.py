"""Cisco IP Phone Services XML objects: a `phone_screens.Screen` as a Cisco document.

CiscoIPPhoneInput, CiscoIPPhoneMenu and CiscoIPPhoneText with their SoftKeyItems, as the
Cisco Unified IP Phone Services Application Development Notes describe them. The documents
are built with ElementTree, so every text and URL is escaped; long fields are cut to the
lengths the phones accept. The refresh of Skill Stats is not part of the document: Cisco
phones take it from the HTTP `Refresh` header, which `phone_xml` sets.
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

# Field limits of the Cisco XML objects (development notes, "XML Object Types").
TITLE_MAX = 32
PROMPT_MAX = 32
MENU_NAME_MAX = 64
MENU_ITEMS_MAX = 100
TEXT_MAX = 4000
SOFT_KEYS_MAX = 8
INPUT_ITEMS_MAX = 5

# URIs of the phone's own soft key functions.
SOFT_KEY_URIS: dict[Key, str] = {
    Key.SUBMIT: "SoftKey:Submit",
    Key.BACKSPACE: "SoftKey:<<",
    Key.EXIT: "SoftKey:Exit",
    Key.SELECT: "SoftKey:Select",
}

# InputFlags: A = ASCII text, N = numeric, P = masked password entry (combined: "NP").
INPUT_FLAGS: dict[FieldKind, str] = {
    FieldKind.TEXT: "A",
    FieldKind.DIGITS: "N",
    FieldKind.PIN: "NP",
}


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _header(root: ET.Element, title: str, prompt: str) -> None:
    _add(root, "Title", title[:TITLE_MAX])
    if prompt:
        _add(root, "Prompt", prompt[:PROMPT_MAX])


def _soft_keys(root: ET.Element, keys: tuple[SoftKey, ...]) -> None:
    for position, key in enumerate(keys[:SOFT_KEYS_MAX], start=1):
        item = ET.SubElement(root, "SoftKeyItem")
        _add(item, "Name", key.label)
        target = key.target
        _add(item, "URL", SOFT_KEY_URIS[target] if isinstance(target, Key) else target)
        _add(item, "Position", str(position))


def render(screen: Screen, charset: str = UTF8) -> bytes:
    """The Cisco XML document for `screen`, in `charset` (characters it lacks folded,
    `charsets.fold`) with an XML declaration naming it."""
    if isinstance(screen, InputScreen):
        root = ET.Element("CiscoIPPhoneInput")
        _header(root, screen.title, screen.prompt)
        _add(root, "URL", screen.url)
        for field in screen.fields[:INPUT_ITEMS_MAX]:
            item = ET.SubElement(root, "InputItem")
            _add(item, "DisplayName", field.label)
            _add(item, "QueryStringParam", field.param)
            _add(item, "DefaultValue", field.default)
            _add(item, "InputFlags", INPUT_FLAGS[field.kind])
    elif isinstance(screen, MenuScreen):
        root = ET.Element("CiscoIPPhoneMenu")
        _header(root, screen.title, screen.status)
        for entry in screen.items[:MENU_ITEMS_MAX]:
            item = ET.SubElement(root, "MenuItem")
            _add(item, "Name", entry.label[:MENU_NAME_MAX])
            _add(item, "URL", entry.url)
    else:
        assert isinstance(screen, TextScreen)
        root = ET.Element("CiscoIPPhoneText")
        _header(root, screen.title, screen.status)
        _add(root, "Text", "\n".join(screen.lines)[:TEXT_MAX])
    _soft_keys(root, screen.soft_keys)
    body = ET.tostring(root, encoding="unicode")
    declaration = f'<?xml version="1.0" encoding="{charset}"?>\n'
    return encode(declaration + body + "\n", charset)


def content_type(charset: str) -> bytes:
    """The HTTP `Content-Type` of a document in `charset`."""
    return f"{MEDIA_TYPE}; charset={charset}".encode("ascii")
