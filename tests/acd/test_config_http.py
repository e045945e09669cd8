"""The site file's `[http]` table: the HTTP control API's bearer token (docs/site-file.md)."""

from __future__ import annotations

import pytest
from acdgate.acd.config import HTTP_TOKEN_MIN_CHARS, ConfigError, parse_site
from acdgate.acd.site import HttpSettings, Site
from acdgate.acd.site_format import format_site

BASE = """\
name = "test"

[[stations]]
extension = "2101"
sip_password = "pw2101"

[[users]]
id = "3000"
name = "Alice"
pin = "1234"
"""

TOKEN = "k3Y-9_x.~+/Zq0wLmN7rT2=="  # every character class RFC 6750 2.1 allows


def site_with(http: str) -> Site:
    return parse_site(BASE + "\n[http]\n" + http, "site.toml")


def problems_with(http: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        site_with(http)
    assert info.value.source == "site.toml"
    return info.value.problems


def test_no_http_table_means_no_token() -> None:
    site = parse_site(BASE, "site.toml")
    assert site.http == HttpSettings() and site.http.token is None


def test_empty_http_table_means_no_token() -> None:
    assert site_with("").http.token is None


def test_token_is_read() -> None:
    assert site_with(f'token = "{TOKEN}"\n').http.token == TOKEN


def test_token_of_exactly_the_minimum_length_is_accepted() -> None:
    token = "a" * HTTP_TOKEN_MIN_CHARS
    assert site_with(f'token = "{token}"\n').http.token == token


@pytest.mark.parametrize(
    ("http", "reason"),
    [
        ('token = "short-token"', f"must be at least {HTTP_TOKEN_MIN_CHARS} characters, not 11"),
        ('token = "' + "a" * (HTTP_TOKEN_MIN_CHARS - 1) + '"',
         f"must be at least {HTTP_TOKEN_MIN_CHARS} characters, not {HTTP_TOKEN_MIN_CHARS - 1}"),
        ('token = ""', "must not be empty"),
        ("token = 12345678901234567890", "must be a string, not an integer"),
        ("token = true", "must be a string, not a boolean"),
        ('token = ["abcdefghijklmnopq"]', "must be a string, not an array"),
        ('token = "has a space in the middle"', "may hold only letters, digits and - . _ ~ + /"),
        ('token = "abcdefghijklmnop\\"q"', "may hold only letters, digits and - . _ ~ + /"),
        ('token = "abcdefgh=ijklmnopq"', "may hold only letters, digits and - . _ ~ + /"),
        ('token = "abcdefghijklmnopé"', "may hold only letters, digits and - . _ ~ + /"),
    ],
)
def test_bad_token_names_file_key_and_reason(http: str, reason: str) -> None:
    problems = problems_with(http + "\n")
    assert len(problems) == 1, problems
    key, why = problems[0]
    assert key == "http.token"
    assert why.startswith(reason), why


def test_error_never_quotes_the_token() -> None:
    secret = "sekrit secret!!!"
    with pytest.raises(ConfigError) as info:
        site_with(f'token = "{secret}"\n')
    assert str(info.value).startswith("site.toml: http.token: ")
    assert secret not in str(info.value)


def test_unknown_key_in_http_table() -> None:
    assert problems_with('tokn = "abcdefghijklmnopq"\n') == [("http.tokn", "unknown key (did you mean 'token'?)")]


def test_http_must_be_a_table() -> None:
    with pytest.raises(ConfigError) as info:
        parse_site('http = "x"\n' + BASE, "site.toml")
    assert info.value.problems == [("http", "must be a table, not a string")]


def test_token_stays_out_of_reprs() -> None:
    site = site_with(f'token = "{TOKEN}"\n')
    assert TOKEN not in repr(site) and "token=<set>" in repr(site.http)


@pytest.mark.parametrize("http", ["", f'token = "{TOKEN}"\n'])
def test_round_trip(http: str) -> None:
    site = site_with(http)
    text = format_site(site)
    assert ("[http]" in text) == (site.http.token is not None)
    assert parse_site(text, "site.toml") == site
