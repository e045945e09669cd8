"""What the gateway itself writes into the journal, beside the ACD's events.

A short code's outcome (`FeatureUsed`), a finished call's RTP statistics per leg
(`CallMediaStats`), a routed call's enterprise data (`CallDataAdded`), a blind transfer
(`CallTransferred`), a recording's start (`RecordingStarted`, both read by the reports of
acd/reports) an action the agent's feature level lacks (`FeatureLevelRefused`) and a phone-service request
refused for coming from elsewhere (`PhoneRequestRefused`) are typed
records here; `AcdService.journal` commits them, serialised
by `to_record` into the same flat JSON shape as the ACD's events:
`{"type": <class name>, "at": ..., field: value, ...}`, enums as their values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from acdgate.acd.caller_data import DataFields, DataSource
from acdgate.acd.feature_levels import FeatureLevel, LevelFeature
from acdgate.acd.site import Feature


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRecord:
    """Base of the gateway's journal records: `at` is the reactor time it happened."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureUsed(JournalRecord):
    """A short code call's outcome (PINs already masked in `dialled`)."""

    station: str | None
    dialled: str
    feature: Feature
    ok: bool
    reason: str
    status: int  # the SIP status the outcome maps to (200, 403, 487, 500 ...)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallMediaStats(JournalRecord):
    """One leg's RTP statistics when its call ended (issue 6)."""

    call_id: str  # the caller leg's Call-ID: the call's identity
    leg: str  # caller | callee | agent | transfer-target
    leg_call_id: str
    station: str | None
    codec: str
    packets_sent: int
    packets_received: int
    packets_lost: int
    jitter_ms: float
    octets_sent: int
    invalid_packets: int
    remote: str | None  # "host:port" the RTP came from


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTransferred(JournalRecord):
    """A blind transfer (REFER) accepted: the call left `station` for `target` (issue 17:
    transfers per agent; the report credits whoever is logged on at `station`)."""

    call_id: str  # the transferred party's Call-ID
    station: str  # the station that sent REFER
    target: str  # the station rung
    dialled: str  # the Refer-To user part


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(JournalRecord):
    """A recording of a routed call began (issue 17: recordings per agent)."""

    call_id: str
    user_id: str  # the agent on the call
    group: str
    by: str  # who asked: the agent, or a supervisor's user id
    supervisor: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDataAdded(JournalRecord):
    """Enterprise data for a routed call (issue 16): from the incoming call's headers (`sip`)
    or from `POST /api/calls/<id>/data` (`api`); later fields of the same key replace earlier."""

    call_id: str
    source: DataSource
    fields: DataFields


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorActed(JournalRecord):
    """A supervisor action on an agent through the HTTP API (issue 17): who asked (`by`), what,
    and the answer given (`status` 200/202, or 409 when the ACD refused it)."""

    by: str  # the [http] token's holder, or "api"
    user_id: str
    action: str  # logout | not-ready | ready | group-enable | group-disable
    reason_code: int | None
    group: str | None
    status: int
    result: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureLevelRefused(JournalRecord):
    """An action refused because the agent's feature level lacks it (guide "IP Phone Agent
    Feature Levels": recording in Standard)."""

    user_id: str  # the agent whose level it is
    by: str  # who asked: the agent, or a supervisor's user id
    feature: LevelFeature
    level: FeatureLevel
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneRequestRefused(JournalRecord):
    """An `/xml/` request that would have acted for `station` (logged on or off, recorded,
    changed state) refused: it came from `source`, not the station's registered address, and
    carried no valid session token (issue 19)."""

    station: str
    source: str  # the HTTP client's host
    page: str
    reason: str


def to_record(record: JournalRecord) -> dict[str, Any]:
    """The flat JSON-able dict the store keeps: `{"type": "FeatureUsed", "at": ..., ...}`."""
    flat: dict[str, Any] = {"type": type(record).__name__}
    for f in fields(record):
        value = getattr(record, f.name)
        flat[f.name] = value.value if isinstance(value, Enum) else value
    return flat


__all__ = ["CallDataAdded", "CallMediaStats", "CallTransferred", "FeatureLevelRefused", "FeatureUsed", "JournalRecord",
           "RecordingStarted", "SupervisorActed", "to_record"]
