"""Login by agent ID or by name (guide "Logging In": "enter your agent ID or name").

A user may have a `login_name` (letters and digits, beginning with a letter). The XML login
screens take the ID or the name, the name in any case. A short code carries digits only, so
when the site enables it (`policy.login_by_keypad_name`) the digits of `*35*N#` may also be
a name spelled on the keypad (ITU-T E.161: `alice` -> 25427). Keypad spellings must then be
unique (`keypad_clashes`, checked by the site file reader).
"""

from __future__ import annotations

from collections.abc import Iterable

from acdgate.acd.site import Site

# ITU-T E.161 letter groups on the 12-key pad.
_KEYPAD = {
    letter: digit
    for digit, letters in (("2", "abc"), ("3", "def"), ("4", "ghi"), ("5", "jkl"), ("6", "mno"),
                           ("7", "pqrs"), ("8", "tuv"), ("9", "wxyz"))
    for letter in letters
}


def login_name_problem(name: str) -> str | None:
    """Why `name` cannot be a login name, or None when it can."""
    if not name or not name.isascii() or not name.isalnum():
        return "must be ASCII letters and digits"
    if not name[0].isalpha():
        return "must begin with a letter (an agent ID is all digits)"
    return None


def keypad_digits(name: str) -> str:
    """The digits that spell `name` on a phone's keypad: `alice` -> `25427` (digits stay)."""
    return "".join(_KEYPAD.get(c, c) for c in name.lower())


def keypad_clashes(users: Iterable[tuple[str, str | None]]) -> list[tuple[str, str, str]]:
    """(user id, other user id, digits) for each user whose name's keypad digits are also
    another user's id or an earlier user's name's digits; `users` is (id, login name)."""
    pairs = list(users)
    taken: dict[str, str] = {user_id: user_id for user_id, _ in pairs}
    out: list[tuple[str, str, str]] = []
    for user_id, name in pairs:
        if name is None:
            continue
        digits = keypad_digits(name)
        other = taken.get(digits)
        if other is not None and other != user_id:
            out.append((user_id, other, digits))
        else:
            taken[digits] = user_id
    return out


class LoginDirectory:
    """Who an agent ID or name entered at login is: built once per site."""

    def __init__(self, site: Site) -> None:
        self._ids = {u.user_id for u in site.users}
        self._names = {u.login_name.lower(): u.user_id for u in site.users if u.login_name}
        self._keypad = site.policy.login_by_keypad_name
        self._digits = {keypad_digits(u.login_name): u.user_id for u in site.users if u.login_name}

    def by_text(self, entered: str) -> str:
        """The user id for what a login screen sent: an ID, or a name in any case; else
        `entered` unchanged (the ACD then answers "unknown user")."""
        text = entered.strip()
        if text in self._ids:
            return text
        return self._names.get(text.lower(), text)

    def by_digits(self, dialled: str) -> str:
        """The user id for the digits of a login short code: an ID, or, when the site enables
        it, a name's keypad digits; else `dialled` unchanged."""
        if dialled in self._ids or not self._keypad:
            return dialled
        return self._digits.get(dialled, dialled)
