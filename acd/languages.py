"""The languages of the IP Phone Agent screens, and which one a user at a station gets.

The guide ("Language Support") localizes IP Phone Agent in 13 languages, all written in
single-byte character sets (Japanese in half-width Katakana). A site chooses per user, per
station and site-wide (`[policy] language`); the user's choice wins over the station's,
which wins over the site's. Codes are gettext locale names (`de`, `fr_CA`, `pt_BR`); the site
file may also write them with a hyphen (`fr-CA`).
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """The guide's 13 languages, by gettext locale name."""

    DANISH = "da"
    GERMAN = "de"
    ENGLISH = "en"
    SPANISH = "es"
    FRENCH = "fr"
    FRENCH_CANADIAN = "fr_CA"
    ITALIAN = "it"
    JAPANESE_KATAKANA = "ja"
    DUTCH = "nl"
    NORWEGIAN = "no"
    PORTUGUESE_BRAZILIAN = "pt_BR"
    RUSSIAN = "ru"
    SWEDISH = "sv"


DEFAULT_LANGUAGE = Language.ENGLISH

# The guide's single-byte sets: Latin-1 for the Western European languages, the Windows
# Cyrillic set for Russian (the set of the Russian user locale of the phones), and JIS X 0201
# half-width Katakana for Japanese, carried in Shift_JIS (whose single bytes it is).
SINGLE_BYTE_CHARSETS: dict[Language, str] = {
    **{language: "iso-8859-1" for language in Language},
    Language.RUSSIAN: "windows-1251",
    Language.JAPANESE_KATAKANA: "Shift_JIS",
}


def parse_language(text: str) -> Language | None:
    """The language a site file names (`de`, `fr_CA`, `fr-CA`, `pt-br`); None if not one."""
    head, sep, tail = text.replace("-", "_").partition("_")
    code = f"{head.lower()}{sep}{tail.upper()}"
    try:
        return Language(code)
    except ValueError:
        return None


def choose_language(
    user: Language | None, station: Language | None, site: Language
) -> Language:
    """The language shown: the user's over the station's over the site default's."""
    if user is not None:
        return user
    if station is not None:
        return station
    return site
