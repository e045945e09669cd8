"""The ACD's saved state as plain dicts: agent sessions, membership switches and PIN counters.

`Acd.snapshot`/`session_record` write these JSON-able records (the gateway's store keeps them)
and `Acd.restore` reads them back after a restart. Calls are not part of it: they die with
their legs. This module owns the record format; the engine applies what it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from acdgate.acd.agents import Agent, PendingState
from acdgate.acd.states import ON_CALL, AgentState

SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class SavedSession:
    """One logged-on agent as `record_session` wrote it, read back into typed values."""

    user_id: str
    station: str
    state: AgentState
    reason_code: int | None
    wrapup_code: int | None
    since: float
    pending: PendingState | None
    calls_handled: int
    last_group: str | None
    wrapup_until: float | None
    time_in_state: dict[tuple[AgentState, int | None], float]
    wrapup_owed: str | None = None  # the call a wrap-up code is owed for (older snapshots: none)

    def resumed(self) -> tuple[AgentState, int | None, int | None, PendingState | None]:
        """(state, reason code, wrap-up code, pending choice still held) to come back in.

        Calls are not restored, so an agent that was on one (RESERVED/TALKING) takes its
        pending state at once, or NOT_READY.
        """
        if self.state not in ON_CALL:
            return self.state, self.reason_code, self.wrapup_code, self.pending
        p = self.pending
        if p is None:
            return AgentState.NOT_READY, None, None, None
        return p.state, p.reason_code, p.wrapup_code, None


@dataclass(frozen=True, slots=True)
class SavedState:
    """What `read_snapshot` found: disabled memberships, PIN counters, sessions."""

    disabled: dict[str, list[str]]
    pins: dict[str, dict[str, float]]
    sessions: list[SavedSession]


def record_session(agent: Agent, wrapup_until: float | None) -> dict[str, Any] | None:
    """The agent's session record; None when it is logged out (nothing to keep)."""
    if agent.state is AgentState.LOGGED_OUT:
        return None
    pending = agent.pending
    return {
        "user_id": agent.user_id,
        "station": agent.station,
        "state": agent.state.value,
        "reason_code": agent.reason_code,
        "wrapup_code": agent.wrapup_code,
        "since": agent.since,
        "pending": None
        if pending is None
        else [pending.state.value, pending.reason_code, pending.wrapup_code, pending.wrapup_owed],
        "calls_handled": agent.calls_handled,
        "last_group": agent.last_group,
        "wrapup_until": wrapup_until,
        "time_in_state": [[st.value, r, t] for (st, r), t in agent.time_in_state.items()],
        "wrapup_owed": agent.wrapup_owed,
    }


def record_memberships(agents: Iterable[Agent]) -> dict[str, list[str]]:
    """The groups each user has disabled (IP Office Hunt Group Disable), sorted per user."""
    return {a.user_id: sorted(a.disabled) for a in agents if a.disabled}


def record_snapshot(
    sessions: list[dict[str, Any]],
    disabled: dict[str, list[str]],
    pins: dict[str, dict[str, float]],
) -> dict[str, object]:
    """The whole saved state in one versioned dict."""
    return {"version": SNAPSHOT_VERSION, "sessions": sessions, "disabled": disabled, "pins": pins}


def read_session(s: Mapping[str, Any]) -> SavedSession:
    """A session record back in typed values (KeyError/ValueError when malformed)."""
    pending = s["pending"]
    return SavedSession(
        user_id=s["user_id"],
        station=s["station"],
        state=AgentState(s["state"]),
        reason_code=s["reason_code"],
        wrapup_code=s["wrapup_code"],
        since=float(s["since"]),
        pending=None
        if pending is None
        else PendingState(AgentState(pending[0]), pending[1], pending[2], bool(pending[3:4] and pending[3])),
        calls_handled=int(s["calls_handled"]),
        last_group=s["last_group"],
        wrapup_until=None if s["wrapup_until"] is None else float(s["wrapup_until"]),
        time_in_state={(AgentState(st), r): float(t) for st, r, t in s["time_in_state"]},
        wrapup_owed=s.get("wrapup_owed"),
    )


def read_snapshot(snapshot: Mapping[str, object]) -> SavedState:
    """A `record_snapshot` dict (or one assembled from its parts) back in typed values."""
    disabled = snapshot.get("disabled", {})
    assert isinstance(disabled, dict)
    pins = snapshot.get("pins", {})
    assert isinstance(pins, dict)
    sessions = snapshot.get("sessions", [])
    assert isinstance(sessions, list)
    return SavedState(disabled, pins, [read_session(s) for s in sessions])
