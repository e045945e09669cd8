"""Agent rules of the Acd engine: login, PIN lockout, forced login, states, codes, direct calls."""

from __future__ import annotations

from typing import Any

from acdgate.acd.commands import (
    CallAnswered,
    CallArrived,
    CallEnded,
    DirectCallAnswered,
    DirectCallEnded,
    DirectCallStarted,
    Login,
    Logout,
    SetMembership,
    SetState,
)
from acdgate.acd.engine import Acd
from acdgate.acd.events import (
    CommandRejected,
    Event,
    LoggedIn,
    LoggedOut,
    LoginRejected,
    LoginRejectReason,
    MembershipChanged,
    OfferCall,
    StateChanged,
    StatePending,
    UserLocked,
)
from acdgate.acd.site import Policy
from acdgate.acd.states import AgentState, MenuChoice

S = AgentState


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def state_of(acd: Any, user_id: str) -> AgentState:
    view = acd.agent(user_id)
    assert view is not None
    return view.state


def test_login_lands_in_not_ready_at_the_station(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    events = acd.handle(Login("u1", "1234", "201"), 10.0)
    assert kinds(events) == ["LoggedIn", "StateChanged"]
    assert events[1] == StateChanged(
        at=10.0, user_id="u1", station="201", old=S.LOGGED_OUT, new=S.NOT_READY
    )
    view = acd.agent_at_station("201")
    assert (
        view is not None
        and view.user_id == "u1"
        and view.state is S.NOT_READY
        and view.since == 10.0
    )
    assert acd.agent_at_station("202") is None  # "No User"
    assert acd.allowed_transitions("u1") == [
        MenuChoice.READY,
        MenuChoice.NOT_READY,
        MenuChoice.LOGOUT,
    ]


def test_unknown_user_and_station(acd_kit: Any) -> None:
    acd = acd_kit.acd([])
    [e] = acd.handle(Login("nobody", "1234", "201"), 0)
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.UNKNOWN_USER
    [e] = acd.handle(Login("u1", "1234", "999"), 0)
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.UNKNOWN_STATION


def test_wrong_pins_lock_the_user_then_the_lockout_expires(acd_kit: Any) -> None:
    acd = acd_kit.acd([], policy=Policy(pin_attempts=4, pin_lockout_seconds=90))
    for i in range(3):
        [e] = acd.handle(Login("u1", "9999", "201"), float(i))
        assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.WRONG_PIN
        assert acd.pin_failures("u1") == i + 1
    events = acd.handle(Login("u1", "9999", "201"), 3.0)
    assert kinds(events) == ["LoginRejected", "UserLocked"]
    assert events[1] == UserLocked(at=3.0, user_id="u1", until=93.0)
    # Even the right PIN is refused while locked, and not counted.
    [e] = acd.handle(Login("u1", "1234", "201"), 50.0)
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.LOCKED
    assert acd.next_deadline() == 93.0
    assert acd.advance(93.0) == []
    assert acd.next_deadline() is None
    assert kinds(acd.handle(Login("u1", "1234", "201"), 93.0)) == ["LoggedIn", "StateChanged"]


def test_success_resets_the_failure_count(acd_kit: Any) -> None:
    acd = acd_kit.acd([])
    for _ in range(3):
        acd.handle(Login("u1", "0000", "201"), 0)
    acd.handle(Login("u1", "1234", "201"), 1)
    assert acd.pin_failures("u1") == 0


def test_in_use_user_or_station_asks_for_forced_login(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2"])])
    acd.handle(Login("u1", "1234", "201"), 0)
    [e] = acd.handle(Login("u1", "1234", "202"), 1)  # user in use elsewhere
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.IN_USE
    [e] = acd.handle(Login("u2", "1234", "201"), 1)  # station in use by u1
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.IN_USE
    assert acd.agent_at_station("201").user_id == "u1"


def test_forced_login_logs_the_other_session_out(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2"])])
    acd.handle(Login("u1", "1234", "201"), 0)
    events = acd.handle(Login("u2", "1234", "201", force=True), 5)
    assert kinds(events) == ["StateChanged", "LoggedOut", "LoggedIn", "StateChanged"]
    assert events[1] == LoggedOut(at=5, user_id="u1", station="201", forced=True)
    assert events[2] == LoggedIn(at=5, user_id="u2", station="201", forced=True)
    assert state_of(acd, "u1") is S.LOGGED_OUT
    assert acd.agent_at_station("201").user_id == "u2"
    # Same user forced onto another station: its old session ends.
    acd.handle(Login("u2", "1234", "202", force=True), 6)
    assert acd.agent_at_station("201") is None
    assert acd.agent_at_station("202").user_id == "u2"


def test_forced_login_refused_while_the_other_is_on_a_call(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(CallArrived("c1", "500"), 1)  # u1 RESERVED
    [e] = acd.handle(Login("u2", "1234", "201", force=True), 2)
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.FORCE_REFUSED_BUSY
    acd.handle(CallAnswered("c1", "u1"), 3)  # TALKING
    [e] = acd.handle(Login("u1", "1234", "202", force=True), 4)
    assert e.reason is LoginRejectReason.FORCE_REFUSED_BUSY
    assert acd.agent_at_station("201").user_id == "u1"


def test_logout_only_from_not_ready_with_reason_when_required(acd_kit: Any) -> None:
    acd = acd_kit.acd([], policy=Policy(logout_reason_required=True))
    acd_kit.login_ready(acd, ["u1"], 0)
    [e] = acd.handle(Logout("u1", 10), 1)
    assert isinstance(e, CommandRejected) and "ready" in e.reason
    acd.handle(SetState("u1", S.NOT_READY), 2)
    [e] = acd.handle(Logout("u1"), 3)
    assert isinstance(e, CommandRejected) and e.reason == "logout reason required"
    [e] = acd.handle(Logout("u1", 99), 3)
    assert isinstance(e, CommandRejected)
    events = acd.handle(Logout("u1", 10), 4)
    assert kinds(events) == ["StateChanged", "LoggedOut"]
    assert events[1] == LoggedOut(at=4, user_id="u1", station="201", reason_code=10)
    assert acd.agent_at_station("201") is None
    assert acd.allowed_transitions("u1") == []


def test_not_ready_again_is_its_own_interval(acd_kit: Any) -> None:
    acd = acd_kit.acd([], policy=Policy(not_ready_reason_required=True))
    acd.handle(Login("u1", "1234", "201"), 0)
    [e] = acd.handle(SetState("u1", S.NOT_READY), 1)
    assert isinstance(e, CommandRejected) and e.reason == "reason code required"
    [e] = acd.handle(SetState("u1", S.NOT_READY, reason_code=1), 10)
    assert e == StateChanged(
        at=10, user_id="u1", station="201", old=S.NOT_READY, new=S.NOT_READY, reason_code=1
    )
    [e] = acd.handle(SetState("u1", S.NOT_READY, reason_code=2), 25)
    assert e.old is S.NOT_READY and e.new is S.NOT_READY and e.reason_code == 2
    stats = acd.agent_stats("u1", 30)
    assert stats.time_in_state == {
        (S.NOT_READY, None): 10,
        (S.NOT_READY, 1): 15,
        (S.NOT_READY, 2): 5,
    }


def test_disallowed_choice_is_rejected_not_ignored(acd_kit: Any) -> None:
    acd = acd_kit.acd([])
    acd.handle(Login("u1", "1234", "201"), 0)
    [e] = acd.handle(SetState("u1", S.WORK_READY), 1)  # not on the Not Ready menu
    assert isinstance(e, CommandRejected) and e.command == "SetState"
    [e] = acd.handle(SetState("u1", S.TALKING), 1)
    assert isinstance(e, CommandRejected)
    [e] = acd.handle(SetState("u2", S.READY), 1)
    assert isinstance(e, CommandRejected) and e.reason == "not logged in"
    acd.handle(SetState("u1", S.READY), 2)
    [e] = acd.handle(SetState("u1", S.READY), 3)
    assert isinstance(e, CommandRejected)
    assert state_of(acd, "u1") is S.READY


def test_state_chosen_while_talking_takes_effect_when_the_call_ends(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])], policy=Policy(wrapup_code_required=True))
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(CallArrived("c1", "500"), 1)
    acd.handle(CallAnswered("c1", "u1"), 2)
    assert acd.allowed_transitions("u1") == [
        MenuChoice.READY,
        MenuChoice.NOT_READY,
        MenuChoice.WORK_READY,
        MenuChoice.WORK_NOT_READY,
    ]
    # without the code the choice is kept too, the code owed when the call ends (see
    # test_code_prompts.py); a choice made again with the code replaces it, nothing owed
    [e] = acd.handle(SetState("u1", S.WORK_NOT_READY), 3)
    assert isinstance(e, StatePending) and e.wrapup_code is None
    [e] = acd.handle(SetState("u1", S.WORK_NOT_READY, wrapup_code=20), 3)
    assert e == StatePending(
        at=3, user_id="u1", station="201", state=S.WORK_NOT_READY, wrapup_code=20
    )
    view = acd.agent("u1")
    assert (
        view.state is S.TALKING and view.pending_state is S.WORK_NOT_READY and view.call_id == "c1"
    )
    events = acd.handle(CallEnded("c1"), 9)
    assert kinds(events) == ["CallCompleted", "StateChanged"]
    assert events[1] == StateChanged(
        at=9, user_id="u1", station="201", old=S.TALKING, new=S.WORK_NOT_READY, wrapup_code=20
    )
    view = acd.agent("u1")
    assert view.pending_state is None and view.calls_handled == 1 and view.call_id is None
    assert view.wrapup_owed is None


def test_wrapup_expiry_returns_to_ready(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(CallArrived("c1", "500"), 1)
    acd.handle(CallAnswered("c1", "u1"), 2)
    [_, e] = acd.handle(CallEnded("c1"), 10)
    assert e.new is S.WORK_READY  # automatic wrap-up after a routed call
    assert acd.next_deadline() == 40
    assert acd.advance(39.9) == []
    [e] = acd.advance(40)
    assert e == StateChanged(at=40, user_id="u1", station="201", old=S.WORK_READY, new=S.READY)


def test_leaving_work_ready_early_cancels_the_wrapup_timer(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(CallArrived("c1", "500"), 1)
    acd.handle(CallAnswered("c1", "u1"), 2)
    acd.handle(CallEnded("c1"), 10)
    acd.handle(SetState("u1", S.NOT_READY, reason_code=1), 12)
    assert acd.next_deadline() is None
    assert acd.advance(100) == []
    assert state_of(acd, "u1") is S.NOT_READY


def test_routed_call_without_wrapup_returns_to_ready_and_takes_the_next_call(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(CallArrived("c1", "500"), 1)
    acd.handle(CallArrived("c2", "500"), 2)
    acd.handle(CallAnswered("c1", "u1"), 3)
    events = acd.handle(CallEnded("c1"), 5)
    assert kinds(events) == ["CallCompleted", "StateChanged", "StateChanged", "OfferCall"]
    assert events[3].call_id == "c2"


def test_direct_call_round_trip_from_ready_and_not_ready(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    [e] = acd.handle(DirectCallStarted("d1", "201", ani="300"), 1)
    assert e.old is S.READY and e.new is S.RESERVED and e.call_id == "d1"
    # A routed call does not reach an agent on a direct call.
    acd.handle(CallArrived("c1", "500"), 1.5)
    assert acd.waiting("500") == ["c1"]
    [e] = acd.handle(DirectCallAnswered("d1"), 2)
    assert e.new is S.TALKING
    events = acd.handle(DirectCallEnded("d1"), 3)
    assert next((e.old, e.new) for e in events if isinstance(e, StateChanged)) == (
        S.TALKING,
        S.READY,
    )
    assert any(isinstance(e, OfferCall) and e.call_id == "c1" for e in events)

    acd2 = acd_kit.acd([])
    acd2.handle(Login("u1", "1234", "201"), 0)
    acd2.handle(SetState("u1", S.NOT_READY, reason_code=2), 1)
    acd2.handle(DirectCallStarted("d1", "201"), 2)
    [e] = acd2.handle(DirectCallEnded("d1"), 3)  # never answered
    assert (e.old, e.new, e.reason_code) == (S.RESERVED, S.NOT_READY, 2)
    acd2.handle(DirectCallStarted("d2", "201"), 4)
    acd2.handle(DirectCallAnswered("d2"), 5)
    [e] = acd2.handle(DirectCallEnded("d2"), 6)
    assert (e.old, e.new, e.reason_code) == (S.TALKING, S.NOT_READY, 2)
    assert acd2.agent("u1").calls_handled == 0  # only routed calls count


def test_direct_call_to_a_station_without_user_is_tracked_quietly(acd_kit: Any) -> None:
    """Issue 16: every call of a station is tracked, so that whoever logs on there during it
    is on the call (test_availability); with nobody there it changes no agent."""
    acd = acd_kit.acd([])
    assert acd.handle(DirectCallStarted("d1", "299"), 0) == []
    assert [v.call_id for v in acd.station_calls("299")] == ["d1"]
    assert acd.handle(DirectCallEnded("d1"), 0) == []
    [e] = acd.handle(DirectCallEnded("d1"), 0)
    assert isinstance(e, CommandRejected)


def test_membership_disable_and_enable(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2"]), acd_kit.group("501", ["u2"])])
    acd_kit.login_ready(acd, ["u1", "u2"], 0)
    [e] = acd.handle(SetMembership("u1", "500", False), 1)
    assert e == MembershipChanged(at=1, user_id="u1", group="500", enabled=False)
    assert acd.group_stats("500", 1).agents[S.READY] == 1
    [offer] = [e for e in acd.handle(CallArrived("c1", "500"), 2) if isinstance(e, OfferCall)]
    assert offer.user_id == "u2"  # u1 is first in order but disabled
    acd.handle(CallArrived("c2", "500"), 3)
    assert acd.waiting("500") == ["c2"]
    events = acd.handle(SetMembership("u1", "500", True), 4)
    assert kinds(events) == ["MembershipChanged", "StateChanged", "OfferCall"]
    [e] = acd.handle(SetMembership("u1", "501", True), 5)
    assert isinstance(e, CommandRejected)
    assert acd.agent("u1").disabled_groups == ()


def test_a_station_vouches_for_its_own_agent_only() -> None:
    """`Login(station_authenticated=True)`: the station's owner needs no PIN, nobody else."""
    import dataclasses

    from acdgate.acd.commands import Login
    from acdgate.acd.engine import Acd
    from acdgate.acd.events import LoggedIn, LoginRejected, LoginRejectReason
    from acdgate.acd.pin import hash_pin
    from acdgate.acd.site import Site, Station, User

    site = Site(
        name="t",
        stations=(Station("2101", "2101", "pw", agent="3000"), Station("2102", "2102", "pw")),
        users=(User("3000", "A", hash_pin("1234")), User("3001", "B", hash_pin("1234"))),
        groups=(),
    )
    acd = Acd(site)
    events = acd.handle(Login("3001", "", "2101", station_authenticated=True), 1.0)
    assert [type(e) for e in events] == [LoginRejected]
    assert events[0].reason is LoginRejectReason.WRONG_PIN  # type: ignore[attr-defined]
    events = acd.handle(Login("3000", "", "2102", station_authenticated=True), 2.0)
    assert [type(e) for e in events] == [LoginRejected]  # 2102 does not belong to 3000
    events = acd.handle(Login("3000", "", "2101", station_authenticated=True), 3.0)
    assert any(isinstance(e, LoggedIn) for e in events)
    assert acd.pin_failures("3000") == 0 and dataclasses.is_dataclass(events[0])


def test_repeated_lockouts_escalate_and_survive_a_restart(acd_kit: Any) -> None:
    """Issue 19: 90 s, then 300 s, then 1800 s (the last step repeats) until a right PIN."""
    policy = Policy(pin_attempts=2, pin_lockout_seconds=90, pin_lockout_escalation=(300, 1800))
    acd = acd_kit.acd([], policy=policy)
    now = 0.0
    lengths = []
    for _ in range(4):
        acd.handle(Login("u1", "9999", "201"), now)
        [_, locked] = acd.handle(Login("u1", "9999", "201"), now)
        assert isinstance(locked, UserLocked)
        lengths.append(locked.until - now)
        now = locked.until
        acd.advance(now)
        if len(lengths) == 2:  # the count of lockouts is kept across a restart
            acd = Acd.restore(acd.site, acd.snapshot(), now)
    assert lengths == [90.0, 300.0, 1800.0, 1800.0]
    assert kinds(acd.handle(Login("u1", "1234", "201"), now)) == ["LoggedIn", "StateChanged"]
    acd.handle(Logout("u1"), now)
    acd.handle(Login("u1", "9999", "201"), now)
    [_, locked] = acd.handle(Login("u1", "9999", "201"), now)
    assert locked.until - now == 90.0  # a right PIN started the scale again


def test_wrong_pins_from_one_source_lock_that_source_not_the_users(acd_kit: Any) -> None:
    """Issue 19: guesses spread over users from one HTTP client lock the client; the users
    and other sources are not locked by them."""
    acd = acd_kit.acd([], policy=Policy(pin_attempts=4, pin_source_attempts=5, pin_lockout_seconds=90))
    for n, user in enumerate(["u1", "u2", "u3", "nobody", "u4"]):
        [e] = acd.handle(Login(user, "9999", "201", source="10.0.0.9"), float(n))
        assert isinstance(e, LoginRejected)
    [e] = acd.handle(Login("u1", "1234", "201", source="10.0.0.9"), 10.0)
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.SOURCE_LOCKED
    assert kinds(acd.handle(Login("u1", "1234", "201", source="10.0.0.1"), 10.0)) == [
        "LoggedIn", "StateChanged"]
    assert acd.pin_failures("u2") == 1  # one wrong PIN each, nobody locked
    restored = Acd.restore(acd.site, acd.snapshot(), 11.0)  # kept across a restart
    [e] = restored.handle(Login("u2", "1234", "202", source="10.0.0.9"), 11.0)
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.SOURCE_LOCKED
    assert kinds(restored.handle(Login("u2", "1234", "202", source="10.0.0.9"), 4.0 + 90.0)) == [
        "LoggedIn", "StateChanged"]
