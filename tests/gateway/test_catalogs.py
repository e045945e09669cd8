"""The message catalogs: every language has every message of the code, translated, with the
same placeholders, in a set its phones can show, short enough for their screens; the
committed template and compiled catalogs are those the sources give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from string import Formatter

import pytest
from acdgate.acd.languages import SINGLE_BYTE_CHARSETS, Language
from acdgate.gateway.i18n.catalogs import translations
from acdgate.gateway.web.cisco_xml import MENU_NAME_MAX, PROMPT_MAX
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "gateway" / "i18n" / "locale"
SOFT_KEYS = ("Select", "Update", "Stats", "CData", "State", "Option", "Submit", "Exit", "OK")
SCREEN_TITLES = ("Skill Stats", "Caller Data", "Change State", "Wrap-up Data", "Reason Code", "Options")
SOFT_KEY_MAX = 9  # Polycom's label limit, the shortest of the three vendors
TITLE_MAX = 32 - len(" - ID:3000")  # Cisco's <Title> holds 32 characters, ID included


def read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(message) if name is not None}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The messages `pybabel extract` finds in the code now (babel.cfg), in order."""
    pot = tmp_path_factory.mktemp("pot") / "acdgate.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "extract", "-F", "babel.cfg", "--no-location", "-k", "N_", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )
    ids = [str(m.id) for m in read(pot) if m.id]
    assert "Agent Login" in ids and "Not Ready" in ids and "Rec" in ids
    return ids


def test_the_committed_template_is_the_codes(extracted: list[str]) -> None:
    assert [str(m.id) for m in read(LOCALE / "acdgate.pot") if m.id] == extracted


@pytest.mark.parametrize("language", list(Language), ids=str)
def test_every_message_is_translated_with_its_placeholders(language: Language, extracted: list[str]) -> None:
    catalog = read(LOCALE / language.value / "LC_MESSAGES" / "acdgate.po")
    assert not catalog.fuzzy
    for msgid in extracted:
        message = catalog.get(msgid)
        assert message is not None, f"{language}: {msgid!r} is missing"
        assert isinstance(message.string, str) and message.string, f"{language}: {msgid!r} is untranslated"
        assert not message.fuzzy, f"{language}: {msgid!r} is fuzzy"
        assert placeholders(message.string) == placeholders(msgid), f"{language}: {msgid!r}"
    obsolete = {str(m.id) for m in catalog if m.id} - set(extracted)
    assert not obsolete, f"{language}: messages the code no longer has: {obsolete}"


@pytest.mark.parametrize("language", list(Language), ids=str)
def test_the_compiled_catalog_is_the_source(language: Language) -> None:
    """The committed .mo says what the .po says (run `pybabel compile` after editing one)."""
    catalog = read(LOCALE / language.value / "LC_MESSAGES" / "acdgate.po")
    tr = translations(language)
    for message in catalog:
        if message.id:
            assert tr.gettext(str(message.id)) == message.string


@pytest.mark.parametrize("language", list(Language), ids=str)
def test_translations_fit_the_single_byte_set_and_the_screen(language: Language) -> None:
    """Guide "Language Support": single-byte characters only; Japanese in half-width Katakana."""
    catalog = read(LOCALE / language.value / "LC_MESSAGES" / "acdgate.po")
    charset = SINGLE_BYTE_CHARSETS[language]
    for message in catalog:
        if not message.id:
            continue
        text = str(message.string)
        for char in text:
            assert len(char.encode(charset)) == 1, f"{language}: {char!r} in {text!r} is not single-byte"
        if language is Language.JAPANESE_KATAKANA:
            assert all(c.isascii() or "\uff61" <= c <= "\uff9f" for c in text), text
        if message.id in SOFT_KEYS:
            assert len(text) <= SOFT_KEY_MAX, f"{language}: soft key {text!r}"
        if message.id in SCREEN_TITLES:
            assert len(text) <= TITLE_MAX, f"{language}: title {text!r}"


# Cisco menu items (<Name>, 64 characters) with 4-digit ids, and the <Prompt> lines (32).
MENU_ITEMS = ("{user_id} or ext {ext} in use. Press '1' to log other agent out.",
              "Press '2' to log in with another name or extension.", "Start recording", "Stop recording")
STATES = ("Ready", "Not Ready", "Reserved", "Talking", "Work Ready", "Work Not Ready", "Logout")


@pytest.mark.parametrize("language", list(Language), ids=str)
def test_menu_items_and_prompts_fit_cisco_fields(language: Language) -> None:
    _ = translations(language).gettext
    for msgid in MENU_ITEMS:
        text = _(msgid).format(user_id="3000", ext="2101")
        assert len(text) <= MENU_NAME_MAX, f"{language}: {text!r}"
    assert len(_("Enter agent information.")) <= PROMPT_MAX
    for state in STATES:
        status = f"{_(state)} : {_('Rec')}/{_('Mon')}"
        assert len(status) <= PROMPT_MAX, f"{language}: {status!r}"


def test_languages_really_differ() -> None:
    """No catalog is English in disguise (the English one is the messages themselves)."""
    logins = {lang: translations(lang).gettext("Agent Login") for lang in Language}
    assert logins[Language.ENGLISH] == "Agent Login"
    assert len(set(logins.values())) == len(Language)
    assert translations(Language.JAPANESE_KATAKANA).gettext("Not Ready") == "ｳｹﾂｹﾌｶ"
    assert translations(Language.RUSSIAN).gettext("Password") == "Пароль"
