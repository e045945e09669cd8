"""A wrap-up code given after the call (owed, `WrapupCodeGiven`) counts in the archived report:
one use of the code, timed by the wrap-up it was owed for, whether the code comes while the
wrap-up still runs or after it is over. Events from the real engine, figures by hand."""

from __future__ import annotations

from typing import Any

from acdgate.acd.commands import CallAnswered, CallArrived, CallEnded, GiveWrapupCode, SetState
from acdgate.acd.events import Event, event_to_record
from acdgate.acd.reports import build_report
from acdgate.acd.reports.intervals import Granularity
from acdgate.acd.site import Policy
from acdgate.acd.states import AgentState

S = AgentState
REQUIRED = Policy(wrapup_code_required=True)


def _records(events: list[Event]) -> list[dict[str, Any]]:
    return [dict(event_to_record(e)) for e in events]


def _run(acd_kit: Any, state: AgentState, steps: list[tuple[float, Any]]) -> tuple[Any, list[Event]]:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)], policy=REQUIRED)
    events: list[Event] = list(acd_kit.login_ready(acd, ["u1"], 0) or [])
    for at, command in [(1.0, CallArrived("c1", "500")), (2.0, CallAnswered("c1", "u1")),
                        (3.0, SetState("u1", state)),  # no code: owed when the call ends
                        (9.0, CallEnded("c1")), *steps, (3000.0, None)]:
        while (deadline := acd.next_deadline()) is not None and deadline <= at:
            events += acd.advance(deadline)  # the wrap-up timer, on time
        if command is not None:
            events += acd.handle(command, at)
    return acd, events


def test_code_given_during_the_wrap_up_times_the_whole_wrap_up(acd_kit: Any) -> None:
    acd, events = _run(acd_kit, S.WORK_READY, [(11.0, GiveWrapupCode("u1", 21))])
    assert any(type(e).__name__ == "WrapupCodeGiven" for e in events)
    report = build_report(_records(events), 0.0, 3600.0, acd.site, Granularity.MINUTES_60)
    # WORK_READY from 9 (call end) to 39 (9 + 30 s wrap-up), all of it under code 21
    [use] = report.wrapups
    assert (use.user_id, use.code, use.label, use.count, use.seconds) == (
        "u1", 21, "Log customer call", 1, 30.0)


def test_code_given_after_the_wrap_up_ended_times_that_wrap_up(acd_kit: Any) -> None:
    acd, events = _run(acd_kit, S.WORK_NOT_READY, [
        (20.0, SetState("u1", S.READY)),  # left wrap-up after 11 s, the code still owed
        (50.0, GiveWrapupCode("u1", 20)),
    ])
    assert [type(e).__name__ for e in events].count("WrapupCodeGiven") == 1
    report = build_report(_records(events), 0.0, 3600.0, acd.site, Granularity.MINUTES_60)
    # WORK_NOT_READY 9 -> 20 = 11 s, owed; the code given at 50 is for that stretch
    [use] = report.wrapups
    assert (use.code, use.label, use.count, use.seconds) == (20, "Update customer record", 1, 11.0)


def test_no_code_given_leaves_no_wrap_up_use(acd_kit: Any) -> None:
    acd, events = _run(acd_kit, S.WORK_READY, [])
    report = build_report(_records(events), 0.0, 3600.0, acd.site, Granularity.MINUTES_60)
    assert report.wrapups == ()
