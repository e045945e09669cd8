"""Site file keys of the wallboard: `[wallboard]` amber/red thresholds and `[http] token_holder`
(docs/site-file.md); errors name the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.site import HttpSettings, WallboardSettings
from acdgate.acd.site_format import format_site

DEMO = (Path(__file__).resolve().parents[2] / "gateway" / "demo_site.toml").read_text()
TOKEN = "a-long-enough-token-1234"


def test_defaults_without_the_table() -> None:
    assert parse_site(DEMO, "demo.toml").wallboard == WallboardSettings(3, 6, 30, 60, 80, 60)


def test_keys_are_read_and_written_back() -> None:
    text = DEMO + ("\n[wallboard]\nwaiting_amber = 2\nwaiting_red = 4\nlqt_amber_seconds = 20\n"
                   "lqt_red_seconds = 45\nservice_level_amber = 90\nservice_level_red = 75\n"
                   f'\n[http]\ntoken = "{TOKEN}"\ntoken_holder = "Sam Supervisor"\n')
    site = parse_site(text, "s.toml")
    assert site.wallboard == WallboardSettings(2, 4, 20, 45, 90, 75)
    assert site.http == HttpSettings(token=TOKEN, token_holder="Sam Supervisor")
    assert "Sam Supervisor" in repr(site.http) and TOKEN not in repr(site.http)
    assert parse_site(format_site(site), "s.toml") == site


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ("waiting_amber = 0\n", "wallboard.waiting_amber", "must be 1-10000, not 0"),
        ("lqt_red_seconds = \"60\"\n", "wallboard.lqt_red_seconds", "must be an integer, not a string"),
        ("service_level_red = 101\n", "wallboard.service_level_red", "must be 0-100, not 101"),
        ("waiting_amber = 5\nwaiting_red = 4\n", "wallboard.waiting_red", "must be at least waiting_amber (5), not 4"),
        ("lqt_amber_seconds = 90\n", "wallboard.lqt_red_seconds", "must be at least lqt_amber_seconds (90), not 60"),
        ("service_level_red = 85\n", "wallboard.service_level_red", "must be at most service_level_amber (80), not 85"),
        ("waiting_yellow = 3\n", "wallboard.waiting_yellow", "unknown key (did you mean 'waiting_red'?)"),
    ],
)  # fmt: skip
def test_bad_values_name_file_key_and_reason(extra: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_site(DEMO + "\n[wallboard]\n" + extra, "site.toml")
    assert info.value.problems == [(key, reason)]
    assert str(info.value) == f"site.toml: {key}: {reason}"
