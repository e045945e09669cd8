"""One gettext `Translations` object per language, from the catalogs in `locale/`.

The sources are `locale/<language>/LC_MESSAGES/acdgate.po`, made from the template
`locale/acdgate.pot` (`pybabel extract`, see docs/phone-services.md); the `.mo` files beside
them are compiled with `pybabel compile` and committed, so a wheel carries them as package
data and the gateway needs no Babel at run time. Nothing is installed globally (no
`gettext.install`): every screen builder is handed the user's `Translations`.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib.resources import files

from acdgate.acd.events import CommandRejected
from acdgate.acd.languages import Language

DOMAIN = "acdgate"


def N_(message: str) -> str:
    """Marks `message` for `pybabel extract` where it is translated later (label tables)."""
    return message


@cache
def translations(language: Language) -> gettext.GNUTranslations:
    """The compiled catalog of `language` (read once; a missing one is a packaging bug)."""
    mo = files("acdgate.gateway.i18n") / "locale" / language.value / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with mo.open("rb") as f:
        return gettext.GNUTranslations(f)


def rejection_text(tr: gettext.NullTranslations, rejected: CommandRejected) -> str:
    """The ACD's reason for `rejected` in `tr`'s language (its English reason when it carries
    no message id: one no phone was meant to show)."""
    if not rejected.message:
        return rejected.reason
    return tr.gettext(rejected.message).format(**dict(rejected.params))
