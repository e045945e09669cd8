"""Availability (issue 16): an agent whose station has any call is never offered a routed one.

The guide's Table 2: a non-routed call (incoming or outgoing) makes the agent Reserved, then
Talking, then puts it back in the state it had; wrap-up that ends during the call sends the
agent to Ready only when the call is over. A hypothesis test drives random command sequences
and checks every OfferCall against its own record of the stations' calls.
"""

from __future__ import annotations

from typing import Any

import pytest
from acdgate.acd import commands as c
from acdgate.acd.engine import Acd
from acdgate.acd.events import CommandRejected, Event, OfferCall, StateChanged
from acdgate.acd.routing import CallStatus
from acdgate.acd.site import GroupMode
from acdgate.acd.states import ON_CALL, AgentState
from acdgate.acd.station_calls import CallDirection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

S = AgentState
OUT = CallDirection.OUTGOING


def changes(events: list[Event]) -> list[tuple[AgentState, AgentState]]:
    return [(e.old, e.new) for e in events if isinstance(e, StateChanged)]


def offers(events: list[Event]) -> list[OfferCall]:
    return [e for e in events if isinstance(e, OfferCall)]


def state_of(acd: Acd, user_id: str) -> AgentState:
    view = acd.agent(user_id)
    assert view is not None
    return view.state


# -- Table 2, one rule at a time ------------------------------------------------------------


def test_an_outgoing_call_from_ready_is_reserved_then_talking_then_ready(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    events = acd.handle(c.DirectCallStarted("d1", "201", dnis="299", direction=OUT), 1)
    assert changes(events) == [(S.READY, S.RESERVED)]
    assert changes(acd.handle(c.DirectCallAnswered("d1"), 2)) == [(S.RESERVED, S.TALKING)]
    # a call queued meanwhile waits for the agent
    assert offers(acd.handle(c.CallArrived("c1", "500"), 3)) == []
    assert acd.waiting("500") == ["c1"]
    events = acd.handle(c.DirectCallEnded("d1"), 4)
    assert changes(events) == [(S.TALKING, S.READY), (S.READY, S.RESERVED)]
    [offer] = offers(events)
    assert (offer.call_id, offer.user_id, offer.at) == ("c1", "u1", 4)


def test_a_direct_call_during_wrap_up_keeps_the_agent_off_routed_calls_until_it_ends(
    acd_kit: Any,
) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=10)])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(c.CallArrived("c1", "500"), 1)
    acd.handle(c.CallAnswered("c1", "u1"), 2)
    assert changes(acd.handle(c.CallEnded("c1"), 3)) == [(S.TALKING, S.WORK_READY)]
    assert acd.next_deadline() == 13
    # a direct call rings during wrap-up: Reserved, then Talking (Table 2)
    assert changes(acd.handle(c.DirectCallStarted("d1", "201"), 5)) == [
        (S.WORK_READY, S.RESERVED)
    ]
    assert changes(acd.handle(c.DirectCallAnswered("d1"), 6)) == [(S.RESERVED, S.TALKING)]
    acd.handle(c.CallArrived("c2", "500"), 7)
    # wrap-up ends during the call: no state change, no offer
    assert acd.advance(13) == []
    assert state_of(acd, "u1") is S.TALKING and acd.waiting("500") == ["c2"]
    # the call ends: wrap-up is over, so Ready, and the queued call is offered at once
    events = acd.handle(c.DirectCallEnded("d1"), 20)
    assert changes(events) == [(S.TALKING, S.READY), (S.READY, S.RESERVED)]
    assert [o.call_id for o in offers(events)] == ["c2"]


def test_a_direct_call_shorter_than_wrap_up_goes_back_to_wrap_up_with_the_time_left(
    acd_kit: Any,
) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=10)])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(c.CallArrived("c1", "500"), 1)
    acd.handle(c.CallAnswered("c1", "u1"), 2)
    acd.handle(c.CallEnded("c1"), 3)
    acd.handle(c.DirectCallStarted("d1", "201", direction=OUT), 4)
    acd.handle(c.DirectCallAnswered("d1"), 5)
    assert changes(acd.handle(c.DirectCallEnded("d1"), 6)) == [(S.TALKING, S.WORK_READY)]
    assert acd.next_deadline() == 13  # the wrap-up time that was left, not a new one
    assert changes(acd.advance(13)) == [(S.WORK_READY, S.READY)]


def test_not_ready_chosen_ready_during_a_call_becomes_ready_only_after_it(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0, ready=False)
    acd.handle(c.CallArrived("c1", "500"), 1)
    acd.handle(c.DirectCallStarted("d1", "201", direction=OUT), 2)
    acd.handle(c.DirectCallAnswered("d1"), 3)
    [pending] = acd.handle(c.SetState("u1", S.READY), 4)
    assert type(pending).__name__ == "StatePending"
    assert acd.waiting("500") == ["c1"]
    events = acd.handle(c.DirectCallEnded("d1"), 5)
    assert changes(events) == [(S.TALKING, S.READY), (S.READY, S.RESERVED)]
    assert [o.call_id for o in offers(events)] == ["c1"]


def test_a_routed_call_ending_while_the_station_has_another_call_keeps_the_agent_on_it(
    acd_kit: Any,
) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(c.CallArrived("c1", "500"), 1)
    acd.handle(c.CallAnswered("c1", "u1"), 2)
    # a second line rings while the agent talks: tracked, the state stays with the routed call
    assert acd.handle(c.DirectCallStarted("d1", "201"), 3) == []
    assert acd.handle(c.DirectCallAnswered("d1"), 4) == []
    acd.handle(c.CallArrived("c2", "500"), 5)
    events = acd.handle(c.CallEnded("c1"), 6)
    assert changes(events) == [(S.TALKING, S.TALKING)]  # now on d1, back to Ready after it
    assert offers(events) == [] and acd.agent("u1").call_id == "d1"  # type: ignore[union-attr]
    events = acd.handle(c.DirectCallEnded("d1"), 7)
    assert changes(events) == [(S.TALKING, S.READY), (S.READY, S.RESERVED)]
    assert [o.call_id for o in offers(events)] == ["c2"]


def test_two_calls_at_a_station_the_agent_goes_back_after_the_last(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(c.DirectCallStarted("d1", "201"), 1)
    acd.handle(c.DirectCallAnswered("d1"), 2)
    acd.handle(c.DirectCallStarted("d2", "201", direction=OUT), 3)  # consult call on line 2
    acd.handle(c.CallArrived("c1", "500"), 4)
    events = acd.handle(c.DirectCallEnded("d1"), 5)
    assert changes(events) == [(S.TALKING, S.RESERVED)]  # d2 still rings
    assert changes(acd.handle(c.DirectCallAnswered("d2"), 6)) == [(S.RESERVED, S.TALKING)]
    events = acd.handle(c.DirectCallEnded("d2"), 7)
    assert changes(events) == [(S.TALKING, S.READY), (S.READY, S.RESERVED)]


def test_a_station_to_station_call_has_a_part_at_each_station(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2"])])
    acd_kit.login_ready(acd, ["u1", "u2"], 0)
    acd.handle(c.DirectCallStarted("d1", "202"), 1)
    acd.handle(c.DirectCallStarted("d1", "201", direction=OUT), 1)
    assert state_of(acd, "u1") is S.RESERVED and state_of(acd, "u2") is S.RESERVED
    acd.handle(c.DirectCallAnswered("d1"), 2)
    assert state_of(acd, "u1") is S.TALKING and state_of(acd, "u2") is S.TALKING
    assert offers(acd.handle(c.CallArrived("c1", "500"), 3)) == []
    # a blind transfer hands the caller on: only the callee's part ends
    events = acd.handle(c.DirectCallEnded("d1", station="202"), 4)
    assert [o.user_id for o in offers(events)] == ["u2"]
    assert state_of(acd, "u1") is S.TALKING
    assert [v.call_id for v in acd.station_calls("201")] == ["d1"]
    acd.handle(c.DirectCallEnded("d1"), 5)
    assert state_of(acd, "u1") is S.READY and acd.station_calls("201") == []


# The HIL scenario test_a_phones_tone_ends_with_its_call, command by command as the gateway
# sends them: a phone at a station with nobody logged on (299) dials the group, so the routed
# call is also that station's own outgoing call, under the same call id.
CALLER_ENDS = {
    # the agent hangs up: the gateway ends the routed call, then the caller's part
    "agent hangs up": ["CallEnded", "DirectCallEnded", "wrap-up"],
    # the caller's part is reported only after the wrap-up is over
    "caller's part after wrap-up": ["CallEnded", "wrap-up", "DirectCallEnded"],
    # the caller's part first (the caller's station lets go before the routed call ends)
    "caller's part first": ["DirectCallEnded", "CallEnded", "wrap-up"],
}


@pytest.mark.parametrize("order", CALLER_ENDS.values(), ids=list(CALLER_ENDS))
def test_an_agent_is_ready_after_wrap_up_whenever_the_callers_station_lets_go(
    acd_kit: Any, order: list[str]
) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=1)])
    acd_kit.login_ready(acd, ["u1"], 0)
    now = 1.0
    for n in (1, 2):  # twice, as the scenario does: the second call finds the agent Ready
        call = f"c{n}"
        seen: list[Event] = []
        dialled = c.DirectCallStarted(call, "299", ani="299", dnis="500", direction=OUT)
        assert acd.handle(dialled, now) == []
        seen += acd.handle(c.CallArrived(call, "500", ani="299", dnis="500"), now)
        assert [o.user_id for o in offers(seen)] == ["u1"]
        assert acd.handle(c.DirectCallAnswered(call), now) == []  # the caller hears ringback
        seen += acd.handle(c.CallAnswered(call, "u1"), now + 1)
        now += 2.5
        for step in order:
            if step == "wrap-up":
                now += 1.0
                seen += acd.advance(now)
                continue
            if step == "CallEnded":
                events = acd.handle(c.CallEnded(call), now)
            else:
                events = acd.handle(c.DirectCallEnded(call, station="299"), now)
                assert events == []  # nobody at 299: nothing changes for the agent at 201
            seen += events
            now += 0.1
        assert not [e for e in seen if isinstance(e, CommandRejected)]
        assert changes(seen) == [
            (S.READY, S.RESERVED),
            (S.RESERVED, S.TALKING),
            (S.TALKING, S.WORK_READY),
            (S.WORK_READY, S.READY),
        ]
        now += 5.0
        assert acd.advance(now) == [] and acd.next_deadline() is None
        view = acd.agent("u1")
        assert view is not None and (view.state, view.calls_handled) == (S.READY, n)
        assert acd.station_calls("299") == [] and acd.station_calls("201") == []


def test_logging_on_at_a_station_that_has_a_call_lands_on_the_call(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    assert acd.handle(c.DirectCallStarted("d1", "201", direction=OUT), 0) == []
    acd.handle(c.DirectCallAnswered("d1"), 1)
    acd.handle(c.CallArrived("c1", "500"), 1)
    events = acd.handle(c.Login("u1", acd_kit.pin, "201"), 2)
    assert changes(events) == [(S.LOGGED_OUT, S.TALKING)]
    acd.handle(c.SetState("u1", S.READY), 3)  # pends while talking
    events = acd.handle(c.DirectCallEnded("d1"), 4)
    assert changes(events) == [(S.TALKING, S.READY), (S.READY, S.RESERVED)]


def test_an_offer_cancelled_while_the_agent_dialled_out_leaves_it_on_that_call(
    acd_kit: Any,
) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(c.CallArrived("c1", "500"), 1)  # rings u1
    acd.handle(c.DirectCallStarted("d1", "201", direction=OUT), 2)  # u1 dials out on line 2
    assert acd.agent("u1").call_id == "c1"  # type: ignore[union-attr]
    acd.handle(c.CallArrived("c2", "500"), 3)
    events = acd.handle(c.CallEnded("c1"), 4)  # the caller gives up
    assert changes(events) == [(S.RESERVED, S.RESERVED)]  # now on d1
    assert offers(events) == []
    events = acd.handle(c.DirectCallEnded("d1"), 5)
    assert [o.call_id for o in offers(events)] == ["c2"]


def test_duplicate_parts_and_unknown_calls_are_rejected(acd_kit: Any) -> None:
    acd = acd_kit.acd([])
    assert acd.handle(c.DirectCallStarted("d1", "201"), 0) == []
    [e] = acd.handle(c.DirectCallStarted("d1", "201"), 0)
    assert isinstance(e, CommandRejected) and "duplicate" in e.reason
    [e] = acd.handle(c.DirectCallStarted("d2", "999"), 0)
    assert isinstance(e, CommandRejected) and "unknown station" in e.reason
    [e] = acd.handle(c.DirectCallEnded("d1", station="202"), 0)
    assert isinstance(e, CommandRejected)
    assert acd.handle(c.DirectCallEnded("d1"), 0) == []
    [e] = acd.handle(c.DirectCallAnswered("d1"), 0)
    assert isinstance(e, CommandRejected)


# -- the property ------------------------------------------------------------------------------

USERS = ["u1", "u2", "u3"]
STATIONS = ["201", "202", "203", "299"]
STEPS = [0.0, 1.0, 4.0, 11.0, 30.0]
# kinds of operation (see Model.apply), weighted towards logons, answers and station calls so
# that agents often reach wrap-up and station calls often meet waiting calls
KINDS = [0, 0, 1, 1, 2, 3, 3, 3, 4, 4, 5, 6, 6, 7, 7, 7, 8, 8, 9, 10, 10]
op = st.tuples(st.sampled_from(KINDS), st.integers(0, 99), st.integers(0, 99))


def availability_site(acd_kit: Any) -> Any:
    return acd_kit.site(
        [
            acd_kit.group("500", USERS, wrapup_seconds=10, no_answer_seconds=15),
            acd_kit.group("501", ["u2", "u3"], GroupMode.COLLECTIVE, monitored=False),
        ],
        users=3,
    )


class Model:
    """Drives the engine and keeps its own record of each station's calls."""

    def __init__(self, acd: Acd) -> None:
        self.acd = acd
        self.now = 0.0
        self.n = 0
        self.station_calls: dict[str, set[str]] = {s: set() for s in STATIONS}

    def station_of(self, user_id: str) -> str | None:
        view = self.acd.agent(user_id)
        return view.station if view is not None else None

    def run(self, command: c.Command | None) -> list[Event]:
        events = self.acd.handle(command, self.now) if command else self.acd.advance(self.now)
        for e in events:
            if isinstance(e, OfferCall):
                assert not self.station_calls[e.station], (
                    f"{e.user_id} offered {e.call_id} while {e.station} has "
                    f"{self.station_calls[e.station]}"
                )
        return events

    def apply(self, kind: int, a: int, b: int) -> None:
        user = USERS[a % len(USERS)]
        station = STATIONS[b % len(STATIONS)]
        # mostly where the chosen user is logged on (or would log on): that is where it matters
        at = self.station_of(user) or STATIONS[USERS.index(user)]
        home = at if b % 5 else station
        live = self.acd.calls()
        offered = [v for v in live if v.status is CallStatus.OFFERED]
        busy = sorted((s, d) for s, ids in self.station_calls.items() for d in ids)
        command: c.Command | None = None
        if kind == 0:
            command = c.Login(user, "1234", home, force=b % 2 == 0)
        elif kind == 1:
            command = c.SetState(user, S.READY)
        elif kind == 2:
            command = c.SetState(user, S.NOT_READY if b % 2 else S.WORK_NOT_READY)
        elif kind == 3:
            self.n += 1
            call_id = f"d{self.n}"
            idle = [v.station for v in self.acd.agents() if v.state not in ON_CALL]
            if idle and b % 2:  # often a phone whose agent is off a call (Ready, in wrap-up, ...)
                home = idle[a % len(idle)]
            direction = CallDirection.OUTGOING if a % 2 else CallDirection.INCOMING
            self.station_calls[home].add(call_id)
            self.run(c.DirectCallStarted(call_id, home, direction=direction))
            if b % 3 == 0:  # station to station: a part at a second station
                other = STATIONS[(STATIONS.index(home) + 1) % len(STATIONS)]
                self.station_calls[other].add(call_id)
                self.run(c.DirectCallStarted(call_id, other))
            return
        elif kind == 4 and busy:
            command = c.DirectCallAnswered(busy[a % len(busy)][1])
        elif kind == 5 and busy:
            s, call_id = busy[a % len(busy)]
            if b % 2:  # every part of it
                command = c.DirectCallEnded(call_id)
                for ids in self.station_calls.values():
                    ids.discard(call_id)
            else:  # only this station's (a blind transfer)
                command = c.DirectCallEnded(call_id, station=s)
                self.station_calls[s].discard(call_id)
        elif kind == 6:
            self.n += 1
            command = c.CallArrived(f"c{self.n}", "500" if b % 3 else "501")
        elif kind == 7 and offered:
            call = offered[a % len(offered)]
            command = c.CallAnswered(call.call_id, call.offered_to[b % len(call.offered_to)])
        elif kind == 8 and live:
            connected = [v for v in live if v.status is CallStatus.CONNECTED]
            ending = connected if connected and b % 3 else live  # mostly a talk that ends
            command = c.CallEnded(ending[a % len(ending)].call_id)
        elif kind == 9:  # seldom a logout (most of the rules need agents logged on)
            command = c.Logout(user) if b % 4 == 0 else c.SetState(user, S.READY)
        else:
            self.now += STEPS[b % len(STEPS)]
        self.run(command)

    def check(self) -> None:
        acd = self.acd
        routed = {u for v in acd.calls() for u in (*v.offered_to, v.user_id) if u is not None}
        for user in USERS:
            view = acd.agent(user)
            assert view is not None
            if view.station is None:
                continue
            calls = self.station_calls[view.station]
            assert [v.call_id for v in acd.station_calls(view.station)] == sorted(
                calls, key=lambda x: int(x[1:])
            )
            if calls or user in routed:
                # on a call: Reserved or Talking, never offered another
                assert view.state in ON_CALL, (user, view, calls)
            else:
                assert view.state not in ON_CALL, (user, view)
        # Liveness: a Ready agent with no call never sits beside a waiting call of its group.
        for g in acd.site.groups:
            if acd.waiting(g.number):
                assert all(state_of(acd, m) is not S.READY for m in g.members), g.number

    def drain(self) -> None:
        """End every call and wrap-up; a Ready agent is then offered the next call."""
        for call in self.acd.calls():
            self.run(c.CallEnded(call.call_id))
        for ids in self.station_calls.values():
            for call_id in sorted(ids):
                self.run(c.DirectCallEnded(call_id))
            ids.clear()
        self.now += 100.0
        self.run(None)
        on = [u for u in USERS if self.station_of(u) is not None]
        for user in on:
            self.run(c.SetState(user, S.READY))
            assert state_of(self.acd, user) is S.READY
        self.n += 1
        events = self.run(c.CallArrived(f"c{self.n}", "500"))
        if on:
            assert [o.user_id for o in offers(events)] == [on[0]]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(op, min_size=10, max_size=70))
def test_no_offer_ever_reaches_an_agent_whose_station_has_a_call(
    acd_kit: Any, ops: list[tuple[int, int, int]]
) -> None:
    model = Model(Acd(availability_site(acd_kit)))
    for user, station in zip(USERS, STATIONS, strict=False):  # everyone starts Ready at home
        model.run(c.Login(user, "1234", station))
        model.run(c.SetState(user, S.READY))
    for kind, a, b in ops:
        model.apply(kind, a, b)
        model.check()
    model.drain()
