"""Event records (journal round trip) and the reports built from them."""

from __future__ import annotations

import json
from typing import Any

from acdgate.acd.commands import CallAnswered, CallArrived, CallEnded, Login, SetState
from acdgate.acd.engine import Acd
from acdgate.acd.events import (
    EVENT_TYPES,
    CallQueued,
    LoginRejected,
    LoginRejectReason,
    OfferCall,
    StateChanged,
    event_to_record,
    record_to_event,
)
from acdgate.acd.reports import AgentInterval, build_report, render_csv, render_table
from acdgate.acd.site import GroupMode
from acdgate.acd.states import AgentState

S = AgentState


def test_records_are_flat_json_and_round_trip() -> None:
    samples = [
        StateChanged(
            at=1.5, user_id="u1", station="201", old=S.READY, new=S.NOT_READY, reason_code=1
        ),
        LoginRejected(at=2, user_id="u1", station="201", reason=LoginRejectReason.IN_USE),
        OfferCall(
            at=3.0, call_id="c", user_id="u1", station="201", group="500", data=(("acct", "42"),)
        ),
        CallQueued(at=4.0, call_id="c", group="500", position=3),
    ]
    for event in samples:
        record = json.loads(json.dumps(event_to_record(event)))
        assert record["type"] == type(event).__name__
        assert all(not isinstance(v, dict) for v in record.values())
        assert record_to_event(record) == event
    assert event_to_record(samples[0])["new"] == "not-ready"


def test_every_event_emitted_in_a_scenario_round_trips(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2"], wrapup_seconds=5)])
    events = []
    events += acd.handle(Login("u1", "0000", "201"), 0)
    events += acd.handle(Login("u1", "1234", "201"), 0)
    events += acd.handle(SetState("u1", S.READY), 1)
    events += acd.handle(CallArrived("c1", "500", ani="300", data=(("k", "v"),)), 2)
    events += acd.handle(CallAnswered("c1", "u1"), 3)
    events += acd.handle(SetState("u1", S.NOT_READY, reason_code=1), 4)
    events += acd.handle(CallEnded("c1"), 5)
    seen = set()
    for event in events:
        seen.add(type(event).__name__)
        assert record_to_event(json.loads(json.dumps(event_to_record(event)))) == event
    assert seen <= set(EVENT_TYPES)
    assert {"LoginRejected", "LoggedIn", "OfferCall", "CallConnected", "StatePending"} <= seen


def scenario_records(acd_kit: Any) -> tuple[Any, list[dict[str, object]]]:
    groups = [
        acd_kit.group("500", ["u1", "u2"]),
        acd_kit.group("501", ["u1", "u2"], GroupMode.COLLECTIVE, monitored=False),
        acd_kit.group("502", ["u2"], monitored=False),
    ]
    site = acd_kit.site(groups)
    acd = Acd(site)
    records: list[dict[str, object]] = []

    def run(command: Any, now: float) -> None:
        records.extend(json.loads(json.dumps(event_to_record(e))) for e in acd.handle(command, now))

    run(Login("u1", "1234", "201"), 0)
    run(SetState("u1", S.NOT_READY, reason_code=1), 10)
    run(SetState("u1", S.NOT_READY, reason_code=2), 40)
    run(SetState("u1", S.READY), 100)
    run(CallArrived("c1", "500"), 110)  # offered to u1 at once
    run(CallAnswered("c1", "u1"), 114)
    run(CallArrived("c2", "500"), 120)  # waits
    run(CallEnded("c2"), 130)  # abandoned
    run(CallArrived("c3", "501"), 135)
    run(CallEnded("c1"), 150)  # u1 READY again: takes c3, waiting in 501
    run(CallArrived("c4", "502"), 160)
    return site, records


def test_report_keeps_back_to_back_not_ready_apart_and_skips_unmonitored(acd_kit: Any) -> None:
    site, records = scenario_records(acd_kit)
    report = build_report(records, 0, 200, site)
    u1 = [iv for iv in report.intervals if iv.user_id == "u1"]
    assert u1[:4] == [
        AgentInterval("u1", S.NOT_READY, None, 0, 10),
        AgentInterval("u1", S.NOT_READY, 1, 10, 40),
        AgentInterval("u1", S.NOT_READY, 2, 40, 100),
        AgentInterval("u1", S.READY, None, 100, 110),
    ]
    rows = {(r.state, r.reason_code): (r.seconds, r.intervals, r.reason) for r in report.agent_rows}
    assert rows[(S.NOT_READY, 1)] == (30, 1, "Break")
    assert rows[(S.NOT_READY, 2)] == (60, 1, "Paperwork")
    assert rows[(S.TALKING, None)] == (36, 1, "")
    assert [g.number for g in report.group_rows] == ["500"]
    [g] = report.group_rows
    assert (g.offered, g.answered, g.abandoned, g.asa_seconds) == (2, 1, 1, 4)


def test_report_interval_clips_states_and_counts(acd_kit: Any) -> None:
    site, records = scenario_records(acd_kit)
    report = build_report(records, 30, 112, site)
    rows = {(r.state, r.reason_code): r.seconds for r in report.agent_rows}
    assert rows == {
        (S.NOT_READY, 1): 10,
        (S.NOT_READY, 2): 60,
        (S.READY, None): 10,
        (S.RESERVED, None): 2,
    }
    [g] = report.group_rows
    assert (g.offered, g.answered) == (1, 0)


def test_renderers(acd_kit: Any) -> None:
    site, records = scenario_records(acd_kit)
    report = build_report(records, 0, 200, site)
    table = render_table(report)
    assert "Paperwork" in table and "G500" in table and "G501" not in table
    lines = render_csv(report).splitlines()
    assert lines[0].split(",")[:3] == ["section", "agent", "state"]
    assert sum(1 for line in lines if line.startswith("agent,")) == len(report.agent_rows)
    assert sum(1 for line in lines if line.startswith("group,")) == 1
