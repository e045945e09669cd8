"""The guide's feature levels of IP Phone Agent (Standard, Enhanced, Premium) and what each has.

Guide "IP Phone Agent Feature Levels": reason codes, wrap-up data, enterprise data, queue
data, supervisor silent monitoring, barge-in and intercept are in every level; agent-initiated
recording ("Enhanced and Premium versions only") and supervisor-initiated recording are in
the Enhanced and Premium levels, not in Standard. The Option soft key exists only for
agent-initiated recording, so it goes with it. A site sets a level for all (`[policy]
feature_level`) and may give a user another (`[[users]] feature_level`).
"""

from __future__ import annotations

from enum import StrEnum


class FeatureLevel(StrEnum):
    """An IP Phone Agent license level."""

    STANDARD = "standard"
    ENHANCED = "enhanced"
    PREMIUM = "premium"


class LevelFeature(StrEnum):
    """The rows of the guide's feature level table."""

    REASON_CODES = "reason codes"
    WRAPUP_DATA = "wrap-up data"
    ENTERPRISE_DATA = "enterprise data"
    QUEUE_DATA = "contact service queue data"
    AGENT_RECORDING = "agent-initiated recording"
    SUPERVISOR_MONITORING = "supervisor-initiated silent monitoring"
    SUPERVISOR_RECORDING = "supervisor-initiated recording"
    SUPERVISOR_BARGE_IN = "supervisor barge-in"
    SUPERVISOR_INTERCEPT = "supervisor intercept"


_ALL = frozenset(FeatureLevel)
_ENHANCED_AND_PREMIUM = frozenset({FeatureLevel.ENHANCED, FeatureLevel.PREMIUM})

# The guide's table: feature -> the levels that have it.
LEVELS: dict[LevelFeature, frozenset[FeatureLevel]] = {
    LevelFeature.REASON_CODES: _ALL,
    LevelFeature.WRAPUP_DATA: _ALL,
    LevelFeature.ENTERPRISE_DATA: _ALL,
    LevelFeature.QUEUE_DATA: _ALL,
    LevelFeature.AGENT_RECORDING: _ENHANCED_AND_PREMIUM,
    LevelFeature.SUPERVISOR_MONITORING: _ALL,
    LevelFeature.SUPERVISOR_RECORDING: _ENHANCED_AND_PREMIUM,
    LevelFeature.SUPERVISOR_BARGE_IN: _ALL,
    LevelFeature.SUPERVISOR_INTERCEPT: _ALL,
}


def allows(level: FeatureLevel, feature: LevelFeature) -> bool:
    """Whether an agent at `level` has `feature`."""
    return level in LEVELS[feature]


def refusal(level: FeatureLevel, feature: LevelFeature) -> str | None:
    """None when `level` has `feature`, else the reason it is refused (for the journal, the
    SIP reason phrase and the HTTP API; the phone screens say it in the user's language)."""
    if allows(level, feature):
        return None
    return f"{feature.value.capitalize()} is not in the {level.value.capitalize()} feature level"
