"""The phone screens' language: the guide's 13 codes, user over station over site, and the
site file's errors for a code that is none of them."""

from __future__ import annotations

import pytest
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.languages import (
    SINGLE_BYTE_CHARSETS,
    Language,
    choose_language,
    parse_language,
)
from acdgate.acd.site_format import format_site

SITE = """\
name = "languages"

[policy]
language = "fr_CA"

[[stations]]
extension = "2101"
sip_password = "pw2101"
language = "ru"

[[stations]]
extension = "2102"
sip_password = "pw2102"

[[users]]
id = "3000"
name = "Alice"
pin = "1234"
language = "de"

[[users]]
id = "3001"
name = "Bob"
pin = "1234"
"""


def test_the_guides_thirteen_languages() -> None:
    assert {lang.value for lang in Language} == {
        "da", "de", "en", "es", "fr", "fr_CA", "it", "ja", "nl", "no", "pt_BR", "ru", "sv"
    }
    assert SINGLE_BYTE_CHARSETS[Language.GERMAN] == "iso-8859-1"
    assert SINGLE_BYTE_CHARSETS[Language.RUSSIAN] == "windows-1251"
    assert SINGLE_BYTE_CHARSETS[Language.JAPANESE_KATAKANA] == "Shift_JIS"


@pytest.mark.parametrize(
    ("text", "language"),
    [("de", Language.GERMAN), ("fr_CA", Language.FRENCH_CANADIAN), ("fr-ca", Language.FRENCH_CANADIAN),
     ("pt-BR", Language.PORTUGUESE_BRAZILIAN), ("JA", Language.JAPANESE_KATAKANA), ("no", Language.NORWEGIAN)],
)
def test_codes_are_read_with_either_separator_and_any_case(text: str, language: Language) -> None:
    assert parse_language(text) is language


@pytest.mark.parametrize("text", ["", "zh", "ko", "german", "fr_FR", "pt", "de_"])
def test_other_codes_are_none(text: str) -> None:
    assert parse_language(text) is None


def test_user_wins_over_station_over_site() -> None:
    de, ru, fr = Language.GERMAN, Language.RUSSIAN, Language.FRENCH
    assert choose_language(de, ru, fr) is de
    assert choose_language(None, ru, fr) is ru
    assert choose_language(None, None, fr) is fr


def test_the_site_chooses_by_user_then_station_then_policy() -> None:
    site = parse_site(SITE, "site.toml")
    assert site.language_for("3000", "2101") is Language.GERMAN  # the user's own
    assert site.language_for("3001", "2101") is Language.RUSSIAN  # the station's
    assert site.language_for(None, "2101") is Language.RUSSIAN  # nobody logged on yet
    assert site.language_for("3001", "2102") is Language.FRENCH_CANADIAN  # [policy] language
    assert site.language_for(None, None) is Language.FRENCH_CANADIAN
    assert site.language_for("9999", "9999") is Language.FRENCH_CANADIAN  # unknown: the site's


def test_english_by_default() -> None:
    site = parse_site(SITE.replace('language = "fr_CA"\n', ""), "site.toml")
    assert site.language_for(None, "2102") is Language.ENGLISH


def test_unknown_codes_name_file_key_and_reason() -> None:
    text = (SITE.replace('language = "fr_CA"', 'language = "zh"')
            .replace('language = "ru"', 'language = "Russian"')
            .replace('language = "de"', 'language = 7'))
    with pytest.raises(ConfigError) as info:
        parse_site(text, "site.toml")
    assert info.value.source == "site.toml"
    problems = dict(info.value.problems)
    assert set(problems) == {"policy.language", "stations[0].language", "users[0].language"}
    assert problems["policy.language"].startswith("'zh' is not one of da, de, en, es, fr, fr_CA,")
    assert "'Russian' is not one of" in problems["stations[0].language"]
    assert "string" in problems["users[0].language"]


def test_languages_survive_a_round_trip() -> None:
    site = parse_site(SITE, "site.toml")
    assert parse_site(format_site(site), "site.toml") == site
