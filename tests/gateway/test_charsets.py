"""Character sets of the phones' browsers: a Cisco screen goes out in its language's
single-byte set (unless the phone's Accept-Charset says otherwise), Yealink and Polycom in
UTF-8; characters a set lacks are folded predictably, never raising."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from acdgate.acd.agents import AgentView
from acdgate.acd.languages import Language
from acdgate.acd.states import AgentState
from acdgate.gateway.i18n.catalogs import translations
from acdgate.gateway.web import cisco_xml, polycom_xhtml, yealink_xml
from acdgate.gateway.web.charsets import accepted, cisco_charset, encode, fold, utf8_charset
from acdgate.gateway.web.phone_screens import (
    AgentScreenState,
    CallerData,
    Links,
    Page,
    caller_data,
    login_screen,
    message_screen,
    status_line,
)

LINKS = Links("http://gw:8080/xml", "2101")
DECLARATION = re.compile(rb'<\?xml version="1.0" encoding="([^"]+)"\?>\n')


def declared(body: bytes) -> str:
    match = DECLARATION.match(body)
    assert match is not None, body[:60]
    return match.group(1).decode("ascii")


def test_fold_keeps_what_the_set_has_and_replaces_the_rest_predictably() -> None:
    assert fold("Gespräch", "iso-8859-1") == "Gespräch"
    assert fold("Gespräch", "windows-1251") == "Gesprach"  # base letter
    assert fold("Ёлка ŧ €", "iso-8859-1") == "???? ? ?"  # no base letter in the set: '?'
    assert fold("Łódź", "iso-8859-1") == "?ódz"
    assert fold("Пётр", "windows-1251") == "Пётр"
    assert fold("漢字ｶﾞ", "ascii") == "????"
    assert encode("Привет, 日本", "iso-8859-1") == b"??????, ??"


def test_half_width_katakana_is_single_byte_in_shift_jis() -> None:
    text = translations(Language.JAPANESE_KATAKANA).gettext("Agent Login")
    assert len(encode(text, "shift_jis")) == len(text)


@pytest.mark.parametrize(
    ("header", "charset", "ok"),
    [(None, "iso-8859-1", True), ("iso-8859-1, utf-8;q=0.8", "ISO-8859-1", True),
     ("utf-8", "iso-8859-1", False), ("*", "shift_jis", True), ("windows-1251;q=0", "windows-1251", False),
     ("utf-8; q=0.5, windows-1251", "windows-1251", True), ("windows-1251;q=x", "windows-1251", False)],
)
def test_accept_charset(header: str | None, charset: str, ok: bool) -> None:
    assert accepted(header, charset) is ok


def test_cisco_uses_the_locales_set_unless_the_phone_takes_only_utf8() -> None:
    assert cisco_charset(Language.GERMAN, None) == "iso-8859-1"
    assert cisco_charset(Language.RUSSIAN, "windows-1251, utf-8;q=0.8") == "windows-1251"
    assert cisco_charset(Language.JAPANESE_KATAKANA, None) == "Shift_JIS"
    assert cisco_charset(Language.RUSSIAN, "utf-8") == "utf-8"  # a 7970-style phone
    assert cisco_charset(Language.RUSSIAN, "iso-8859-1") == "windows-1251"  # nothing better
    assert utf8_charset(Language.RUSSIAN, "windows-1251") == "utf-8"


@pytest.mark.parametrize(
    ("language", "charset"),
    [(Language.GERMAN, "iso-8859-1"), (Language.RUSSIAN, "windows-1251"),
     (Language.JAPANESE_KATAKANA, "Shift_JIS"), (Language.ENGLISH, "iso-8859-1")],
)
def test_every_renderer_declares_and_uses_the_charset(language: Language, charset: str) -> None:
    tr = translations(language)
    screen = login_screen(LINKS, tr=tr)
    for module, wanted in ((cisco_xml, charset), (yealink_xml, "utf-8"), (polycom_xhtml, "utf-8")):
        body = module.render(screen, wanted)
        assert declared(body) == wanted
        assert module.content_type(wanted).endswith(f"; charset={wanted}".encode())
        text = body.decode(wanted)
        assert tr.gettext("Agent Login") in text and tr.gettext("Password") in text
        # expat reads single-byte declarations itself, not Shift_JIS: parse the decoded text
        ET.fromstring(body if wanted != "Shift_JIS" else DECLARATION.sub(b"", body).decode(wanted))


def test_a_name_the_set_lacks_is_folded_in_the_screen() -> None:
    """Caller data is the caller's, not ours: a Russian agent's Latin-1 caller name and a
    German agent's Cyrillic one are shown as well as the set allows, never an error."""
    view = AgentView("3000", "2101", AgentState.TALKING, None, None, 0.0, 0, "c1")
    tr = translations(Language.RUSSIAN)
    s = AgentScreenState(view, status_line(view.state, {"Rec", "Mon"}, tr), False, tr)
    call = CallerData("c1", "2301", "2101", (("Name", "Renée Łukasz"), ("Город", "Москва")))
    body = cisco_xml.render(caller_data(LINKS, s, call), "windows-1251")
    text = body.decode("windows-1251")
    assert "Name: Renee ?ukasz" in text and "Город: Москва" in text
    assert "Разговор : Зап/Мон" in text  # the guide's Talking : Rec/Mon, in Russian
    latin = cisco_xml.render(caller_data(LINKS, s, call), "iso-8859-1").decode("iso-8859-1")
    assert "Name: Renée ?ukasz" in latin and "?????: ??????" in latin


def test_a_control_character_from_the_query_is_replaced_and_the_screen_stays_xml() -> None:
    """Found by fuzz/fuzz_phone_xml_query.py (fuzz/corpus/phone_xml_query/crash-control-
    character-in-ext.bin): `/xml/stats?ext=%10` echoed U+0010 into "Extension ... is not a
    station", and a document with a character XML 1.0 does not allow is refused whole."""
    assert encode("a\x10b\x00c\x7f\td\ufffe", "utf-8") == b"a?b?c\x7f\td?"
    screen = message_screen("ACD", ["Extension \x10\x1b[0m is not a station."], "", "http://gw/")
    for module, charset in ((cisco_xml, "iso-8859-1"), (yealink_xml, "utf-8"),
                            (polycom_xhtml, "utf-8")):
        body = module.render(screen, charset)
        ET.fromstring(body)
        assert b"Extension ??[0m is not a station." in body


def test_english_is_the_default_and_unchanged() -> None:
    assert login_screen(LINKS) == login_screen(LINKS, tr=translations(Language.ENGLISH))
    screen = message_screen("Agent Login", ["Login failed."], "", LINKS.url(Page.LOGIN))
    assert [k.label for k in screen.soft_keys] == ["OK", "Exit"]
