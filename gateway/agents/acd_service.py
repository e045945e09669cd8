"""The ACD engine with its journal and timers, on the reactor.

Every command goes through `execute`: the engine's events and its session snapshot are
committed to the state store in one transaction before `execute` returns, so whatever the
caller then tells a phone (a confirmation tone, a 200) is already durable. The gateway's own
records (a short code's outcome, a call's RTP statistics) go through `journal`: typed
records, one transaction per call, serialised in `_commit` like the events. The engine's
timers (wrap-up end, no-answer, overflow, lockout end) run as one `callLater` at
`next_deadline()`, re-armed after every change: no polling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from acdgate.acd.commands import Command
from acdgate.acd.engine import Acd
from acdgate.acd.events import (
    Event,
    LoggedIn,
    LoginRejected,
    MembershipChanged,
    UserLocked,
    event_to_record,
)
from acdgate.acd.site import Site
from acdgate.gateway.agents.journal import JournalRecord, to_record
from acdgate.gateway.storage.contract import Store
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

log = Logger(namespace="acdgate.acd")

EventListener = Callable[[list[Event]], None]

_PINS = "acd.pins"
_MEMBERSHIPS = "acd.memberships"
_PIN_EVENTS = (LoggedIn, LoginRejected, UserLocked)


class AcdService:
    """Runs commands through the engine, journals the outcome, and fires the engine's timers."""

    def __init__(self, reactor: Any, site: Site, store: Store) -> None:
        self.reactor = reactor
        self.store = store
        now = reactor.seconds()
        snapshot = self._stored_snapshot(store)
        self.acd = Acd.restore(site, snapshot, now) if snapshot else Acd(site)
        self.listeners: list[EventListener] = []
        self._timer: IDelayedCall | None = None
        self._arm()

    def execute(self, command: Command) -> list[Event]:
        """Run one command; its events are committed when this returns."""
        events = self.acd.handle(command, self.reactor.seconds())
        self._commit(events)
        return events

    def journal(self, records: Sequence[JournalRecord]) -> None:
        """Append the gateway's own records in one transaction, committed when this returns."""
        if records:
            self.store.append([to_record(r) for r in records])

    def stop(self) -> None:
        """Cancel the engine timer (the state is already on disk)."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    @staticmethod
    def _stored_snapshot(store: Store) -> dict[str, object] | None:
        """The engine's state as `Acd.restore` takes it, from the per-agent session rows."""
        sessions = store.load_sessions()
        pins = store.load_snapshot(_PINS)
        memberships = store.load_snapshot(_MEMBERSHIPS)
        if not sessions and pins is None and memberships is None:
            return store.load_snapshot("acd")  # a state directory from before per-agent rows
        return {"version": 1, "sessions": sessions, "disabled": memberships or {}, "pins": pins or {}}

    def _commit(self, events: list[Event]) -> None:
        # Only what the events touched is rewritten: the agents they name, and the PIN and
        # membership tables when a login or a membership change was among them.
        touched = {uid for e in events if isinstance(uid := getattr(e, "user_id", None), str)}
        sessions = {uid: self.acd.session_record(uid) for uid in touched}
        snapshots: dict[str, dict[str, object]] = {}
        if any(isinstance(e, _PIN_EVENTS) for e in events):
            snapshots[_PINS] = dict(self.acd.pins_record())
        if any(isinstance(e, MembershipChanged) for e in events):
            snapshots[_MEMBERSHIPS] = dict(self.acd.memberships_record())
        self.store.append([event_to_record(e) for e in events], sessions=sessions, snapshots=snapshots)
        self._arm()
        for event in events:
            log.info("{event}", event=event)
        for listener in list(self.listeners):
            try:
                listener(events)
            except Exception:  # a listener's bug must not undo a committed command
                log.failure("event listener {listener} failed", listener=listener)

    def _arm(self) -> None:
        deadline = self.acd.next_deadline()
        if self._timer is not None and self._timer.active():
            if deadline is not None and abs(self._timer.getTime() - deadline) < 1e-6:
                return
            self._timer.cancel()
        self._timer = None
        if deadline is not None:
            self._timer = self.reactor.callLater(max(0.0, deadline - self.reactor.seconds()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        events = self.acd.advance(self.reactor.seconds())
        if events:
            self._commit(events)
        else:
            self._arm()
