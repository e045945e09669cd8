"""The guide's feature level table and the site file's `feature_level` keys."""

from __future__ import annotations

import pytest
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.feature_levels import LEVELS, FeatureLevel, LevelFeature, allows, refusal
from acdgate.acd.site_format import format_site

SITE = """\
name = "levels"

[policy]
feature_level = "standard"

[[stations]]
extension = "2101"
sip_password = "pw2101"

[[users]]
id = "3000"
name = "Alice"
pin = "1234"

[[users]]
id = "3001"
name = "Bob"
pin = "1234"
feature_level = "enhanced"
"""


def test_recording_needs_enhanced_or_premium_the_rest_is_in_every_level() -> None:
    recording = {LevelFeature.AGENT_RECORDING, LevelFeature.SUPERVISOR_RECORDING}
    for feature in LevelFeature:
        assert allows(FeatureLevel.PREMIUM, feature) and allows(FeatureLevel.ENHANCED, feature)
        assert allows(FeatureLevel.STANDARD, feature) is (feature not in recording)
    assert set(LEVELS) == set(LevelFeature)


def test_the_refusal_names_feature_and_level() -> None:
    assert refusal(FeatureLevel.PREMIUM, LevelFeature.AGENT_RECORDING) is None
    assert (refusal(FeatureLevel.STANDARD, LevelFeature.SUPERVISOR_RECORDING)
            == "Supervisor-initiated recording is not in the Standard feature level")


def test_site_wide_or_per_agent() -> None:
    site = parse_site(SITE, "site.toml")
    assert site.feature_level_of("3000") is FeatureLevel.STANDARD
    assert site.feature_level_of("3001") is FeatureLevel.ENHANCED
    assert site.feature_level_of("9999") is FeatureLevel.STANDARD
    assert parse_site(format_site(site), "site.toml") == site


def test_premium_by_default() -> None:
    site = parse_site(SITE.replace('feature_level = "standard"\n', ""), "site.toml")
    assert site.feature_level_of("3000") is FeatureLevel.PREMIUM


def test_unknown_levels_name_key_and_reason() -> None:
    text = SITE.replace('"standard"', '"gold"').replace('"enhanced"', '"Premium"')
    with pytest.raises(ConfigError) as info:
        parse_site(text, "site.toml")
    assert sorted(info.value.problems) == [
        ("policy.feature_level", "must be one of standard, enhanced, premium, not 'gold'"),
        ("users[1].feature_level", "must be one of standard, enhanced, premium, not 'Premium'"),
    ]
