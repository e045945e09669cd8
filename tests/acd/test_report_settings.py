"""Site file keys of the archived reports: `[reports] short_abandon_seconds`,
`[reports] service_level_seconds` and `[[groups]] service_level_seconds` (docs/site-file.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.site import ReportSettings
from acdgate.acd.site_format import format_site

DEMO = (Path(__file__).resolve().parents[2] / "gateway" / "demo_site.toml").read_text()


def test_defaults_without_the_keys() -> None:
    site = parse_site(DEMO, "demo.toml")
    assert site.reports == ReportSettings(short_abandon_seconds=5, service_level_seconds=20)
    assert all(g.service_level_seconds is None for g in site.groups)


def test_keys_are_read_and_written_back() -> None:
    text = DEMO.replace('name = "Sales"', 'name = "Sales"\nservice_level_seconds = 15', 1)
    text += "\n[reports]\nshort_abandon_seconds = 8\nservice_level_seconds = 30\n"
    site = parse_site(text, "s.toml")
    assert site.reports == ReportSettings(short_abandon_seconds=8, service_level_seconds=30)
    assert [g.service_level_seconds for g in site.groups if g.number == "6000"] == [15]
    assert parse_site(format_site(site), "s.toml") == site


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ("[reports]\nshort_abandon_seconds = -1\n", "reports.short_abandon_seconds", "must be 0-3600, not -1"),
        ("[reports]\nservice_level_seconds = 0\n", "reports.service_level_seconds", "must be 1-3600, not 0"),
        ('[reports]\nservice_level_seconds = "20"\n', "reports.service_level_seconds", "must be an integer, not a string"),
        ("[reports]\nshort_abandon = 5\n", "reports.short_abandon", "unknown key (did you mean 'short_abandon_seconds'?)"),
    ],
)
def test_bad_values_name_file_key_and_reason(extra: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_site(DEMO + "\n" + extra, "site.toml")
    assert info.value.problems == [(key, reason)]
    assert str(info.value) == f"site.toml: {key}: {reason}"


def test_a_groups_threshold_out_of_range() -> None:
    text = DEMO.replace('name = "Sales"', 'name = "Sales"\nservice_level_seconds = 7200', 1)
    with pytest.raises(ConfigError) as info:
        parse_site(text, "site.toml")
    assert info.value.problems == [("groups[0].service_level_seconds", "must be 1-3600, not 7200")]
