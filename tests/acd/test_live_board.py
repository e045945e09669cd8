"""The live wallboard's snapshot and deltas (acd.live_board), driven through a real engine on a
fake clock (a plain `now`): what a group and an agent row show, which deltas a command makes,
today's figures by the reports' definitions, the resume ring, and the day rolling over."""

from __future__ import annotations

from typing import Any

from acdgate.acd import commands as cmd
from acdgate.acd.engine import Acd
from acdgate.acd.events import event_to_record
from acdgate.acd.live_board import BoardKind, LiveBoard
from acdgate.acd.pin import hash_pin
from acdgate.acd.reports.intervals import DAY_SECONDS
from acdgate.acd.site import Code, Group, GroupMode, Site, Station, User
from acdgate.acd.states import AgentState
from acdgate.acd.station_calls import CallDirection

ACD_TEST_PIN = "1234"

DAY = 20_000 * DAY_SECONDS  # 00:00 UTC of some day
T0 = DAY + 9 * 3600.0


def board_site() -> Site:
    """Users u1, u2 at stations 201, 202; group 600 (both) and 601 (u2); codes of each family."""
    pin = hash_pin(ACD_TEST_PIN, salt=b"board")
    return Site(
        name="board",
        stations=(Station("201", "s201", "pw"), Station("202", "s202", "pw"), Station("2105", "s2105", "pw")),
        users=(User("u1", "U1", pin), User("u2", "U2", pin)),
        groups=(Group("600", "G600", GroupMode.LINEAR, ("u1", "u2")), Group("601", "G601", GroupMode.LINEAR, ("u2",))),
        not_ready_reasons=(Code(1, "Break"), Code(2, "Paperwork")),
        logout_reasons=(Code(10, "End of shift"),),
        wrapup_codes=(Code(20, "Update customer record"),),
    )


def world() -> tuple[Site, Acd, LiveBoard]:
    site = board_site()
    acd = Acd(site)
    return site, acd, LiveBoard(site, acd, T0, ring_size=8)


def run(acd: Acd, board: LiveBoard, command: cmd.Command, now: float) -> list[Any]:
    return board.apply(acd.handle(command, now), now)


def kinds(deltas: list[Any]) -> list[tuple[str, str]]:
    key = {BoardKind.AGENT: "user", BoardKind.GROUP: "number", BoardKind.CALL: "outcome"}
    return [(d.kind, d.data[key[d.kind]]) for d in deltas]


def test_snapshot_of_an_idle_site() -> None:
    _, _, board = world()
    snap = board.snapshot(T0 + 1)
    assert snap.kind == BoardKind.SNAPSHOT and snap.id == board.last_id
    assert snap.data["agents"] == []
    g = snap.data["groups"][0]
    assert g["number"] == "600" and g["waiting"] == 0 and g["oldest_enqueued_at"] is None
    assert g["agents"] == {"not-ready": 0, "ready": 0, "reserved": 0, "talking": 0, "work-ready": 0,
                           "work-not-ready": 0}
    assert (g["offered"], g["answered"], g["abandoned"], g["service_level"]) == (0, 0, 0, None)
    assert g["service_level_threshold_seconds"] == 20


def test_logon_and_not_ready_with_a_reason_make_agent_and_group_deltas() -> None:
    _, acd, board = world()
    deltas = run(acd, board, cmd.Login("u2", ACD_TEST_PIN, "202"), T0 + 5)
    assert kinds(deltas) == [("agent", "u2"), ("group", "600"), ("group", "601")]
    assert [d.id for d in deltas] == list(range(deltas[0].id, deltas[0].id + 3))
    agent = deltas[0].data
    assert agent == {"user": "u2", "name": "U2", "station": "202", "state": "not-ready", "reason_code": None,
                     "reason": "", "since": T0 + 5, "calls_handled_today": 0, "call": None}
    assert deltas[1].data["agents"]["not-ready"] == 1
    deltas = run(acd, board, cmd.SetState("u2", AgentState.NOT_READY, reason_code=2), T0 + 9)
    assert deltas[0].data["reason_code"] == 2 and deltas[0].data["reason"] == "Paperwork"
    assert deltas[0].data["since"] == T0 + 9


def test_a_queued_call_then_answered_shows_waiting_lqt_caller_and_today_figures() -> None:
    _, acd, board = world()
    run(acd, board, cmd.Login("u1", ACD_TEST_PIN, "201"), T0)
    deltas = run(acd, board, cmd.CallArrived("c1", "600", ani="2105"), T0 + 10)
    group = [d.data for d in deltas if d.kind == BoardKind.GROUP][-1]
    assert group["waiting"] == 1 and group["oldest_enqueued_at"] == T0 + 10 and group["offered"] == 1
    # the call keeps its arrival time: LQT counts from it, whatever the snapshot's moment
    assert board.snapshot(T0 + 40).data["groups"][0]["oldest_enqueued_at"] == T0 + 10
    deltas = run(acd, board, cmd.SetState("u1", AgentState.READY), T0 + 30)  # offered at once
    agent = [d.data for d in deltas if d.kind == BoardKind.AGENT][-1]
    assert agent["state"] == "reserved" and agent["call"] == {"number": "2105", "name": "", "direction": "routed"}
    group = next(d.data for d in deltas if d.kind == BoardKind.GROUP)
    assert group["waiting"] == 0 and group["oldest_enqueued_at"] is None
    deltas = run(acd, board, cmd.CallAnswered("c1", "u1"), T0 + 35)
    assert ("call", "answered") in kinds(deltas)
    answered = next(d.data for d in deltas if d.kind == BoardKind.CALL)
    assert answered == {"outcome": "answered", "call_id": "c1", "group": "600", "waited": 25.0, "user": "u1"}
    group = next(d.data for d in deltas if d.kind == BoardKind.GROUP and d.data["number"] == "600")
    # waited 25 s > the 20 s threshold: answered, but not within the service level
    assert (group["answered"], group["service_level"]) == (1, 0.0)
    deltas = run(acd, board, cmd.CallEnded("c1"), T0 + 95)
    agent = next(d.data for d in deltas if d.kind == BoardKind.AGENT)
    assert agent["calls_handled_today"] == 1 and agent["call"] is None


def test_a_direct_call_shows_the_other_party() -> None:
    _, acd, board = world()
    run(acd, board, cmd.Login("u1", ACD_TEST_PIN, "201"), T0)
    run(acd, board, cmd.Login("u2", ACD_TEST_PIN, "202"), T0)
    # 202 (u2) dials 201 (u1): one call id with a part at each station
    run(acd, board, cmd.DirectCallStarted("d1", "202", ani="202", dnis="201", direction=CallDirection.OUTGOING), T0 + 1)
    deltas = run(acd, board, cmd.DirectCallStarted("d1", "201", ani="202", dnis="201"), T0 + 1)
    rows = {d.data["user"]: d.data for d in deltas if d.kind == BoardKind.AGENT}
    assert rows["u1"]["state"] == "reserved"
    assert rows["u1"]["call"] == {"number": "202", "name": "U2", "direction": "incoming"}
    deltas = run(acd, board, cmd.DirectCallAnswered("d1"), T0 + 3)
    rows = {d.data["user"]: d.data for d in deltas if d.kind == BoardKind.AGENT}
    assert rows["u2"]["call"] == {"number": "201", "name": "U1", "direction": "outgoing"}
    deltas = run(acd, board, cmd.DirectCallEnded("d1"), T0 + 30)
    assert all(d.data["call"] is None for d in deltas if d.kind == BoardKind.AGENT)


def test_abandoned_and_short_abandoned_calls_follow_the_report_definitions() -> None:
    _, acd, board = world()
    run(acd, board, cmd.CallArrived("c1", "600"), T0)
    deltas = run(acd, board, cmd.CallEnded("c1"), T0 + 2)  # < 5 s: a short abandon
    assert ("call", "abandoned") in kinds(deltas)
    run(acd, board, cmd.CallArrived("c2", "600"), T0 + 10)
    run(acd, board, cmd.CallEnded("c2"), T0 + 40)
    g = board.snapshot(T0 + 50).data["groups"][0]
    assert (g["offered"], g["answered"], g["abandoned"], g["service_level"]) == (2, 0, 2, 0.0)


def test_history_gives_the_figures_of_the_day_so_far() -> None:
    site, acd, _ = world()
    records = [event_to_record(e) for e in acd.handle(cmd.Login("u1", ACD_TEST_PIN, "201"), T0)]
    records += [event_to_record(e) for e in acd.handle(cmd.SetState("u1", AgentState.READY), T0)]
    for call, at in (("y1", DAY - 100), ("c1", T0 + 1)):  # yesterday's call is not today's
        records += [event_to_record(e) for e in acd.handle(cmd.CallArrived(call, "600"), at)]
        records += [event_to_record(e) for e in acd.handle(cmd.CallAnswered(call, "u1"), at + 3)]
        records += [event_to_record(e) for e in acd.handle(cmd.CallEnded(call), at + 60)]
    board = LiveBoard(site, acd, T0 + 100, records)
    snap = board.snapshot(T0 + 100).data
    assert (snap["groups"][0]["answered"], snap["groups"][0]["service_level"]) == (1, 100.0)
    assert snap["agents"][0]["calls_handled_today"] == 1


def test_resume_from_the_ring_or_a_fresh_snapshot() -> None:
    _, acd, board = world()
    start = board.last_id
    assert board.since(start) == []
    first = run(acd, board, cmd.Login("u1", ACD_TEST_PIN, "201"), T0 + 1)  # 2 deltas
    second = run(acd, board, cmd.SetState("u1", AgentState.READY), T0 + 2)  # 2 deltas
    assert board.since(first[-1].id) == second
    assert board.since(start) == first + second
    run(acd, board, cmd.Login("u2", ACD_TEST_PIN, "202"), T0 + 3)  # 3 more: 7 of 8 kept
    run(acd, board, cmd.SetState("u2", AgentState.READY), T0 + 4)  # 3 more: the first two are gone
    assert board.since(start) is None  # too old: a snapshot
    assert board.since(first[-1].id) is not None
    assert board.since(board.last_id + 5) is None  # not ours (another run of the gateway)
    assert board.snapshot(T0 + 5).id == board.last_id


def test_a_logout_removes_the_agent_with_its_logout_reason() -> None:
    _, acd, board = world()
    run(acd, board, cmd.Login("u1", ACD_TEST_PIN, "201"), T0)
    deltas = run(acd, board, cmd.Logout("u1", reason_code=10), T0 + 60)
    agent = next(d.data for d in deltas if d.kind == BoardKind.AGENT)
    assert (agent["state"], agent["reason"]) == ("logged-out", "End of shift")
    assert board.snapshot(T0 + 61).data["agents"] == []


def test_the_figures_start_again_at_midnight_utc() -> None:
    _, acd, board = world()
    run(acd, board, cmd.CallArrived("c1", "600"), DAY + DAY_SECONDS - 30)
    run(acd, board, cmd.CallEnded("c1"), DAY + DAY_SECONDS - 1)
    assert board.snapshot(DAY + DAY_SECONDS - 1).data["groups"][0]["abandoned"] == 1
    deltas = run(acd, board, cmd.Login("u1", ACD_TEST_PIN, "201"), DAY + DAY_SECONDS + 5)
    assert {d.data["number"] for d in deltas if d.kind == BoardKind.GROUP} == {"600", "601"}
    assert all(d.data["abandoned"] == 0 for d in deltas if d.kind == BoardKind.GROUP)
    assert board.snapshot(DAY + DAY_SECONDS + 6).data["day_start"] == DAY + DAY_SECONDS
