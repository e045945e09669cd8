"""The golden journal of the report tests: a real ACD engine driven through a scenario that
crosses midnight, with code numbers that collide across families, plus the gateway's own
transfer and recording records. Times are seconds relative to midnight M (2026-12-07 00:00
UTC); the scenario is spelled out in `golden_journal`'s comments, and the tests compute every
figure from it by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from acdgate.acd.commands import CallAnswered, CallArrived, CallEnded, Login, Logout, SetState
from acdgate.acd.engine import Acd
from acdgate.acd.events import event_to_record
from acdgate.acd.pin import hash_pin
from acdgate.acd.site import Code, Group, GroupMode, ReportSettings, Site, Station, User
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.journal import CallTransferred, RecordingStarted, to_record

M = datetime(2026, 12, 7, tzinfo=UTC).timestamp()  # midnight between the two days
PIN = "1234"
_HASH = hash_pin(PIN, salt=b"report-test")
S = AgentState


def golden_site() -> Site:
    """u1, u2 in group 500 (SL 20 s, overflow to 501 after 60 s), u3 in 501 (the site's SL
    30 s); code 1 exists in all three families with three different labels."""
    users = ("u1", "u2", "u3")
    return Site(
        name="golden",
        stations=tuple(Station(f"20{u[1]}", f"sip{u}", "pw") for u in users),
        users=tuple(User(u, u.upper(), _HASH) for u in users),
        groups=(
            Group("500", "Sales", GroupMode.LINEAR, ("u1", "u2"), no_answer_seconds=15,
                  overflow_group="501", overflow_seconds=60, service_level_seconds=20),
            Group("501", "Backup", GroupMode.LINEAR, ("u3",)),
            Group("502", "Everyone", GroupMode.COLLECTIVE, ("u1", "u2", "u3"), monitored=False),
        ),
        not_ready_reasons=(Code(1, "Break"), Code(2, "Paperwork")),
        logout_reasons=(Code(1, "End of shift"),),
        wrapup_codes=(Code(1, "Update customer record"), Code(2, "Log customer call")),
        reports=ReportSettings(short_abandon_seconds=5, service_level_seconds=30),
    )


def golden_journal() -> tuple[Site, list[dict[str, Any]]]:
    """The scenario's journal records, in order, as the store gives them back (JSON)."""
    site = golden_site()
    acd = Acd(site)
    records: list[dict[str, Any]] = []

    def at(t: float) -> float:
        now = M + t
        records.extend(event_to_record(e) for e in acd.advance(now))  # timers due by then
        return now

    def run(t: float, command: Any) -> None:
        now = at(t)
        records.extend(event_to_record(e) for e in acd.handle(command, now))

    run(-1200, Login("u1", PIN, "201"))  # 23:40 u1 Not Ready (no reason)
    run(-1100, SetState("u1", S.NOT_READY, reason_code=1))  # Break
    run(-1000, Login("u3", PIN, "203"))
    run(-950, SetState("u3", S.READY))
    run(-900, SetState("u1", S.NOT_READY, reason_code=2))  # Paperwork, back to back
    run(-600, SetState("u1", S.READY))
    run(-500, Login("u2", PIN, "202"))
    run(-400, SetState("u2", S.READY))
    run(-300, CallArrived("c1", "500"))  # rings u1 (linear: first Ready member)
    run(-290, CallAnswered("c1", "u1"))  # waited 10
    records.append(to_record(RecordingStarted(at=M - 280, call_id="c1", user_id="u1", group="500",
                                              by="u1", supervisor=False)))
    run(-250, CallArrived("c2", "500"))  # rings u2
    at(-235)  # u2's 15 s no-answer: Not Ready (ring no answer), c2 back in 500's queue
    at(-190)  # c2's 60 s in 500 are up: it overflows to 501 and rings u3
    run(-180, CallAnswered("c2", "u3"))  # waited 70 since it arrived
    records.append(to_record(CallTransferred(at=M - 100, call_id="c2", station="203", target="299",
                                             dialled="299")))
    run(-100, CallEnded("c2"))  # u3 talked 80; 501 has no wrap-up: Ready
    run(-50, SetState("u1", S.WORK_NOT_READY, wrapup_code=1))  # chosen on the call: pending
    run(100, CallEnded("c1"))  # 00:01:40 u1 talked 390, then Work Not Ready (wrap-up 1)
    run(160, SetState("u1", S.READY))
    run(170, SetState("u1", S.NOT_READY, reason_code=1))  # Break again
    run(200, CallArrived("c3", "500"))  # nobody Ready in 500: queued
    run(203, CallEnded("c3"))  # abandoned after 3 s: short
    run(210, CallArrived("c4", "500"))
    run(250, CallEnded("c4"))  # abandoned after 40 s
    run(400, Logout("u1", reason_code=1))  # End of shift
    at(4000)
    return site, [json.loads(json.dumps(r)) for r in records]
