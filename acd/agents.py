"""Agents: the mutable per-user session record the engine keeps, its frozen view, PIN guard.

The engine owns one `Agent` per site user (LOGGED_OUT until a login). Outside the engine
only `AgentView` snapshots are seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from acdgate.acd.site import Policy, User
from acdgate.acd.states import AgentState


@dataclass(frozen=True, slots=True)
class PendingState:
    """A state chosen while TALKING, applied when the call ends."""

    state: AgentState
    reason_code: int | None = None
    wrapup_code: int | None = None
    # Work (Not) Ready chosen on a routed call without the wrap-up code the site requires:
    # the code is owed once the call ends, and asked for then.
    wrapup_owed: bool = False


@dataclass(frozen=True, slots=True)
class AgentView:
    """A frozen snapshot of one agent, for phones, the HTTP API and tests."""

    user_id: str
    station: str | None
    state: AgentState
    reason_code: int | None
    pending_state: AgentState | None
    since: float
    calls_handled: int
    call_id: str | None
    wrapup_code: int | None = None
    disabled_groups: tuple[str, ...] = ()
    wrapup_owed: str | None = None  # the routed call whose wrap-up code is owed ("" unknown)


class Agent:
    """One user's session state; mutated only by the engine."""

    __slots__ = (
        "call_id",
        "calls_handled",
        "disabled",
        "groups",
        "idle_since",
        "last_group",
        "pending",
        "reason_code",
        "return_reason",
        "return_state",
        "return_wrapup",
        "serves",
        "since",
        "state",
        "station",
        "time_in_state",
        "user",
        "user_id",
        "wrapup_code",
        "wrapup_owed",
    )

    def __init__(self, user: User, groups: tuple[str, ...]) -> None:
        self.user = user
        self.user_id = user.user_id
        self.groups = groups  # every group the user is a member of, in site order
        self.serves = groups  # those whose calls it may take (skills groups need the skill)
        self.disabled: set[str] = set()  # memberships switched off (Hunt Group Disable)
        self.station: str | None = None
        self.state = AgentState.LOGGED_OUT
        self.reason_code: int | None = None
        self.wrapup_code: int | None = None
        self.wrapup_owed: str | None = None  # call id a wrap-up code is owed for ("": unknown)
        self.since = 0.0
        self.pending: PendingState | None = None
        self.call_id: str | None = None
        self.calls_handled = 0
        self.return_state = AgentState.NOT_READY  # where a cancelled/direct call returns to
        self.return_reason: int | None = None
        self.return_wrapup: int | None = None
        self.idle_since = 0.0  # when the agent last entered READY (most-idle key)
        self.last_group: str | None = None  # group of the last routed call (wrap-up time)
        # seconds spent per (state, reason code) over closed intervals of this session
        self.time_in_state: dict[tuple[AgentState, int | None], float] = {}

    def enabled_groups(self) -> list[str]:
        """Groups whose membership is switched on."""
        return [g for g in self.groups if g not in self.disabled]

    def view(self) -> AgentView:
        """A frozen snapshot."""
        return AgentView(
            user_id=self.user_id,
            station=self.station,
            state=self.state,
            reason_code=self.reason_code,
            pending_state=self.pending.state if self.pending else None,
            since=self.since,
            calls_handled=self.calls_handled,
            call_id=self.call_id,
            wrapup_code=self.wrapup_code,
            disabled_groups=tuple(g for g in self.groups if g in self.disabled),
            wrapup_owed=self.wrapup_owed,
        )


class PinGuard:
    """Counts wrong PINs per user and per source, and locks either after too many of them.

    IP Office locks a user for 90 s after 4 wrong login codes; both numbers come from the
    site policy. A successful login resets the count. Issue 19: each further lockout without a
    success in between lasts longer (`policy.pin_lockout_escalation`: 4 guesses per 90 s forever
    found a 4-digit PIN in about 31 hours), and a source (the HTTP client's host) that gives
    `policy.pin_source_attempts` wrong PINs or unknown users, whoever they are for, is locked
    the same way. Sources are kept under `SOURCE_PREFIX` keys in the snapshot.
    """

    __slots__ = ("_attempts", "_escalation", "_failures", "_locked_until", "_lockout", "_locks",
                 "_source_attempts")

    SOURCE_PREFIX = "source:"

    def __init__(self, policy: Policy) -> None:
        self._attempts = policy.pin_attempts
        self._source_attempts = policy.pin_source_attempts
        self._lockout = float(policy.pin_lockout_seconds)
        self._escalation = tuple(float(s) for s in policy.pin_lockout_escalation)
        # by user id, or SOURCE_PREFIX + source
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self._locks: dict[str, int] = {}  # lockouts since the last success

    def locked_until(self, user_id: str, now: float) -> float | None:
        """When the user's lockout ends, or None when the user is not locked at `now`."""
        until = self._locked_until.get(user_id)
        if until is None or until <= now:
            return None
        return until

    def source_locked_until(self, source: str, now: float) -> float | None:
        """When the source's lockout ends, or None when it is not locked at `now`."""
        return self.locked_until(self.SOURCE_PREFIX + source, now)

    def _lockout_for(self, key: str) -> float:
        """This lockout's length: the first is `pin_lockout_seconds`, then the escalation's
        steps (its last one repeats)."""
        steps = (self._lockout, *self._escalation)
        locks = self._locks.get(key, 0)
        self._locks[key] = locks + 1
        return steps[min(locks, len(steps) - 1)]

    def _count(self, key: str, attempts: int, now: float) -> float | None:
        count = self._failures.get(key, 0) + 1
        if count >= attempts:
            self._failures.pop(key, None)
            until = now + self._lockout_for(key)
            self._locked_until[key] = until
            return until
        self._failures[key] = count
        return None

    def failure(self, user_id: str, now: float, source: str = "") -> float | None:
        """Count a wrong PIN (from `source`, when known); the lockout end when this one locks
        the user, else None."""
        if source:
            self.source_failure(source, now)
        return self._count(user_id, self._attempts, now)

    def source_failure(self, source: str, now: float) -> float | None:
        """Count a wrong PIN or unknown user from `source`; the lockout end when it locks it."""
        for key, until in list(self._locked_until.items()):  # ended source lockouts go
            if key.startswith(self.SOURCE_PREFIX) and until <= now:
                del self._locked_until[key]
        return self._count(self.SOURCE_PREFIX + source, self._source_attempts, now)

    def success(self, user_id: str, source: str = "") -> None:
        """A correct PIN: forget earlier failures and lockouts of the user and the source."""
        for key in (user_id, self.SOURCE_PREFIX + source if source else ""):
            self._failures.pop(key, None)
            self._locks.pop(key, None)

    def expire(self, user_id: str, now: float) -> None:
        """Drop a lockout that has ended (its count of lockouts stays until a success)."""
        until = self._locked_until.get(user_id)
        if until is not None and until <= now:
            del self._locked_until[user_id]

    def failures(self, user_id: str) -> int:
        """Wrong PINs counted since the last success or lockout."""
        return self._failures.get(user_id, 0)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """JSON-able counters, lockouts and lockout counts."""
        out: dict[str, dict[str, float]] = {}
        for user_id, count in self._failures.items():
            out.setdefault(user_id, {})["failures"] = count
        for user_id, until in self._locked_until.items():
            out.setdefault(user_id, {})["locked_until"] = until
        for user_id, locks in self._locks.items():
            out.setdefault(user_id, {})["locks"] = locks
        return out

    def restore(self, data: dict[str, dict[str, float]]) -> None:
        """Load what `snapshot` returned."""
        for user_id, entry in data.items():
            if "failures" in entry:
                self._failures[user_id] = int(entry["failures"])
            if "locked_until" in entry:
                self._locked_until[user_id] = float(entry["locked_until"])
            if "locks" in entry:
                self._locks[user_id] = int(entry["locks"])

    def lockouts(self) -> dict[str, float]:
        """Current lockout ends by user (some may have passed); sources' are not here."""
        return {k: v for k, v in self._locked_until.items() if not k.startswith(self.SOURCE_PREFIX)}
