"""The character sets of the phones' XML browsers: choosing one and encoding into it.

Cisco phones parse an XML object in the encoding its declaration names, which must be one
the phone lists in its `Accept-Charset` request header; the older models (7940, 7960, ...)
show only what the single-byte set of their user locale holds (Cisco Unified IP Phone
Services Application Development Notes, "XML Encoding" and "HTTP Encoding Header Setting").
So a Cisco screen goes out in its language's single-byte set (`acd.languages`) unless the
phone's header leaves that set out and takes UTF-8. Yealink's XML browser and Polycom's
microbrowser take UTF-8. A character the chosen set lacks never raises: it becomes its base
letter when it has one (`é` -> `e`, `ё` -> `е`), else `?`.
"""

from __future__ import annotations

import re
import unicodedata

from acdgate.acd.languages import SINGLE_BYTE_CHARSETS, Language

UTF8 = "utf-8"
REPLACEMENT = "?"
# XML 1.0 2.2 Char: what a document may hold; anything else (C0 controls but tab, LF and CR,
# surrogates, U+FFFE, U+FFFF) makes the phone's parser refuse the whole screen
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _has(charset: str, char: str) -> bool:
    try:
        char.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def fold(text: str, charset: str) -> str:
    """`text` with each character `charset` lacks replaced, predictably: by the characters of
    its compatibility decomposition the set has, without combining marks, else by `?`."""
    try:
        text.encode(charset)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        if _has(charset, char):
            out.append(char)
            continue
        base = "".join(
            c
            for c in unicodedata.normalize("NFKD", char)
            if not unicodedata.combining(c) and _has(charset, c)
        )
        out.append(base or REPLACEMENT)
    return "".join(out)


def encode(text: str, charset: str) -> bytes:
    """`text` (an XML document) in `charset`, folded first so that it never fails; a character
    XML does not allow (a control character a query string carried) becomes `?`."""
    return fold(_NOT_XML_CHAR.sub(REPLACEMENT, text), charset).encode(charset)


def accepted(accept_charset: str | None, charset: str) -> bool:
    """Whether an `Accept-Charset` header (RFC 9110 12.5.2; None: no header, anything goes)
    takes `charset`: named (or `*`) with a q-value above 0."""
    if accept_charset is None:
        return True
    for part in accept_charset.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name.strip().lower() in (charset.lower(), "*") and q > 0:
            return True
    return False


def cisco_charset(language: Language, accept_charset: str | None) -> str:
    """The set a Cisco screen in `language` goes out in: the language's single-byte set,
    or UTF-8 when the phone's `Accept-Charset` leaves that set out and takes UTF-8."""
    single = SINGLE_BYTE_CHARSETS[language]
    if not accepted(accept_charset, single) and accepted(accept_charset, UTF8):
        return UTF8
    return single


def utf8_charset(language: Language, accept_charset: str | None) -> str:
    """Yealink and Polycom browsers: UTF-8 whatever the language."""
    return UTF8
