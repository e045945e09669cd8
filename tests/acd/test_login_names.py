"""Login by agent ID or name: keypad spelling, the directory, and the site file checks
(unique names ignoring case; keypad clashes when short codes may log on by name)."""

from __future__ import annotations

import dataclasses

import pytest
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.login_names import (
    LoginDirectory,
    keypad_clashes,
    keypad_digits,
    login_name_problem,
)
from acdgate.acd.site_format import format_site

BASE = """
name = "test"

[[stations]]
extension = "2101"
sip_password = "pw2101"

[[users]]
id = "3000"
name = "Alice"
pin = "1234"
login_name = "alice"

[[users]]
id = "3001"
name = "Bob"
pin = "1234"
login_name = "Bob"
"""
KEYPAD = "\n[policy]\nlogin_by_keypad_name = true\n"


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_site(text, "site.toml")
    return info.value.problems


def test_keypad_digits_follow_e161() -> None:
    # e is on 3 (E.161): issue 16's example "*35*25427*1234# for alice" has a typo; 25423 it is
    assert keypad_digits("alice") == "25423"
    assert keypad_digits("ALICE") == "25423"
    assert keypad_digits("Sophie2") == "7674432"
    assert keypad_digits("pqrs") == "7777" and keypad_digits("wxyz") == "9999"


@pytest.mark.parametrize("name", ["", "3000", "al ice", "al-ice", "élise", "2pac"])
def test_bad_login_names(name: str) -> None:
    assert login_name_problem(name) is not None


def test_keypad_clashes() -> None:
    assert keypad_clashes([("3000", "alice"), ("3001", "bob")]) == []
    assert keypad_clashes([("3000", "alice"), ("3001", "alibe")]) == [("3001", "3000", "25423")]
    assert keypad_clashes([("262", None), ("3001", "bob")]) == [("3001", "262", "262")]


def test_directory_resolves_ids_names_and_keypad_digits() -> None:
    site = parse_site(BASE)
    logins = LoginDirectory(site)
    assert logins.by_text("3000") == "3000"
    assert logins.by_text("ALICE") == "3000" and logins.by_text(" bob ") == "3001"
    assert logins.by_text("carol") == "carol"  # unknown: the ACD says so
    assert logins.by_digits("25423") == "25423"  # the site did not enable it
    keypad = LoginDirectory(parse_site(BASE + KEYPAD))
    assert keypad.by_digits("25423") == "3000" and keypad.by_digits("262") == "3001"
    assert keypad.by_digits("3001") == "3001" and keypad.by_digits("999") == "999"


def test_site_file_round_trip_keeps_names_and_the_option() -> None:
    site = parse_site(BASE + KEYPAD, "s.toml")
    assert [u.login_name for u in site.users] == ["alice", "Bob"] and site.policy.login_by_keypad_name
    assert dataclasses.replace(parse_site(format_site(site)), source="s.toml") == site


def test_login_names_are_unique_ignoring_case() -> None:
    text = BASE.replace('login_name = "Bob"', 'login_name = "ALICE"')
    assert problems(text) == [
        ("users[1].login_name", "'ALICE' is already used by users[0].login_name (case does not count)")
    ]


def test_a_bad_login_name_names_file_key_and_reason() -> None:
    assert problems(BASE.replace('login_name = "Bob"', 'login_name = "B b"')) == [
        ("users[1].login_name", "must be ASCII letters and digits")
    ]


def test_keypad_ambiguity_is_an_error_only_with_the_option_on() -> None:
    clash = BASE.replace('login_name = "Bob"', 'login_name = "alibe"')  # a-l-i-b-e: 25423 too
    parse_site(clash)  # option off: both names are fine (the screens tell them apart)
    assert problems(clash + KEYPAD) == [
        ("users[1].login_name",
         "keys as 25423 on the keypad, like the login name of user 3000 (policy.login_by_keypad_name is on)")
    ]
    # a name that keys as another user's id is ambiguous too
    assert keypad_digits("dppp") == "3777"
    by_id = BASE.replace('id = "3001"', 'id = "3777"').replace('login_name = "Bob"', "")
    by_id = by_id.replace('login_name = "alice"', 'login_name = "dppp"')
    assert problems(by_id + KEYPAD) == [
        ("users[0].login_name",
         "keys as 3777 on the keypad, like user 3777's id (policy.login_by_keypad_name is on)")
    ]
