"""Routing through the Acd engine: modes, queue order, ring-no-answer, overflow, limits."""

from __future__ import annotations

from typing import Any

from acdgate.acd.commands import (
    CallAnswered,
    CallArrived,
    CallEnded,
    Login,
    OfferFailed,
    SetState,
)
from acdgate.acd.events import (
    CallAbandoned,
    CallConnected,
    CallOverflowed,
    CallQueued,
    CallRefused,
    CommandRejected,
    Event,
    OfferCall,
    OfferCancelled,
    RingNoAnswer,
    StateChanged,
)
from acdgate.acd.site import GroupMode
from acdgate.acd.states import AgentState, SystemReason

S = AgentState


def offers(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.call_id, e.user_id) for e in events if isinstance(e, OfferCall)]


def serve(acd: Any, call_id: str, user_id: str, now: float) -> list[Event]:
    """Answer and hang up the call; the agent goes back to READY (no wrap-up time)."""
    acd.handle(CallAnswered(call_id, user_id), now)
    return list(acd.handle(CallEnded(call_id), now + 1))


def test_linear_always_offers_the_first_ready_member(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u3", "u1", "u2"])])
    acd_kit.login_ready(acd, ["u1", "u2", "u3"], 0)
    assert offers(acd.handle(CallArrived("c1", "500"), 1)) == [("c1", "u3")]
    assert offers(acd.handle(CallArrived("c2", "500"), 2)) == [("c2", "u1")]
    serve(acd, "c1", "u3", 3)
    assert offers(acd.handle(CallArrived("c3", "500"), 5)) == [("c3", "u3")]
    assert offers(acd.handle(CallArrived("c4", "500"), 6)) == [("c4", "u2")]


def test_circular_offers_the_next_member_after_the_last_offered(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2", "u3"], GroupMode.CIRCULAR)])
    acd_kit.login_ready(acd, ["u1", "u2", "u3"], 0)
    got = []
    for i in range(7):
        [(call_id, user_id)] = offers(acd.handle(CallArrived(f"c{i}", "500"), 10 * i))
        got.append(user_id)
        serve(acd, call_id, user_id, 10 * i + 1)
    assert got == ["u1", "u2", "u3", "u1", "u2", "u3", "u1"]
    # u2 not ready: skipped, the rotation continues after the last offered member.
    acd.handle(SetState("u2", S.NOT_READY), 100)
    assert offers(acd.handle(CallArrived("x1", "500"), 101)) == [("x1", "u3")]
    assert offers(acd.handle(CallArrived("x2", "500"), 102)) == [("x2", "u1")]


def test_most_idle_offers_the_member_ready_longest(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2", "u3"], GroupMode.MOST_IDLE)])
    acd_kit.login_ready(acd, ["u1", "u2", "u3"], 0, ready=False)
    acd.handle(SetState("u3", S.READY), 1)
    acd.handle(SetState("u1", S.READY), 2)
    acd.handle(SetState("u2", S.READY), 3)
    assert offers(acd.handle(CallArrived("c1", "500"), 5)) == [("c1", "u3")]
    serve(acd, "c1", "u3", 6)  # u3 READY again at 7: now the least idle
    assert offers(acd.handle(CallArrived("c2", "500"), 8)) == [("c2", "u1")]
    assert offers(acd.handle(CallArrived("c3", "500"), 9)) == [("c3", "u2")]
    assert offers(acd.handle(CallArrived("c4", "500"), 10)) == [("c4", "u3")]


def test_skills_offers_highest_level_then_most_idle(acd_kit: Any) -> None:
    skills = {
        "u1": (("fr", 3),),
        "u2": (("fr", 7),),
        "u3": (("fr", 7), ("de", 9)),
        "u4": (("de", 9),),
    }
    group = acd_kit.group("500", ["u1", "u2", "u3", "u4"], GroupMode.SKILLS, skill="fr")
    acd = acd_kit.acd([group], skills=skills)
    acd_kit.login_ready(acd, ["u1", "u2", "u3", "u4"], 0, ready=False)
    for t, user_id in enumerate(["u4", "u1", "u3", "u2"]):
        acd.handle(SetState(user_id, S.READY), t)
    got = [offers(acd.handle(CallArrived(f"c{i}", "500"), 10 + i)) for i in range(4)]
    assert got == [[("c0", "u3")], [("c1", "u2")], [("c2", "u1")], []]  # u4 lacks "fr"
    assert acd.waiting("500") == ["c3"]


def test_member_without_the_skill_never_takes_a_skills_call(acd_kit: Any) -> None:
    skills = {"u1": (("fr", 0),), "u2": (("fr", 4),)}
    groups = [
        acd_kit.group("500", ["u1", "u2"], GroupMode.SKILLS, skill="fr"),
        acd_kit.group("501", ["u1"]),
    ]
    acd = acd_kit.acd(groups, skills=skills)
    acd_kit.login_ready(acd, ["u1", "u2"], 0, ready=False)
    acd.handle(CallArrived("c1", "500"), 1)
    assert offers(acd.handle(SetState("u1", S.READY), 2)) == []
    acd.handle(CallArrived("c2", "501"), 3)  # u1 still takes calls of its other group
    assert acd.call("c2").offered_to == ("u1",)
    assert offers(acd.handle(SetState("u2", S.READY), 4)) == [("c1", "u2")]


def test_collective_rings_all_and_the_first_answer_wins(acd_kit: Any) -> None:
    acd = acd_kit.acd(
        [acd_kit.group("500", ["u1", "u2", "u3"], GroupMode.COLLECTIVE, monitored=False)]
    )
    acd_kit.login_ready(acd, ["u1", "u2", "u3"], 0)
    acd.handle(SetState("u3", S.NOT_READY), 0)
    assert sorted(offers(acd.handle(CallArrived("c1", "500"), 1))) == [("c1", "u1"), ("c1", "u2")]
    events = acd.handle(CallAnswered("c1", "u2"), 2)
    cancelled = [e for e in events if isinstance(e, OfferCancelled)]
    assert [(e.user_id, e.reason) for e in cancelled] == [("u1", "answered elsewhere")]
    assert acd.agent("u1").state is S.READY and acd.agent("u2").state is S.TALKING
    [e] = acd.handle(CallAnswered("c1", "u1"), 3)
    assert isinstance(e, CommandRejected)


def test_no_eligible_agent_queues_and_served_by_priority_then_arrival(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd.handle(Login("u1", "1234", "201"), 0)
    [_, q] = acd.handle(CallArrived("c1", "500"), 1)
    assert q == CallQueued(at=1, call_id="c1", group="500", position=1)
    acd.handle(CallArrived("c2", "500", priority=5), 2)
    acd.handle(CallArrived("c3", "500"), 3)
    acd.handle(CallArrived("c4", "500", priority=5), 4)
    assert acd.waiting("500") == ["c2", "c4", "c1", "c3"]
    stats = acd.group_stats("500", 11)
    assert (stats.ciq, stats.lqt_seconds) == (4, 10)
    got = []
    acd.handle(SetState("u1", S.READY), 12)
    for _ in range(4):
        [call_id] = [c.call_id for c in acd.calls() if c.status.value == "offered"]
        got.append(call_id)
        serve(acd, call_id, "u1", 20)
    assert got == ["c2", "c4", "c1", "c3"]


def test_ring_no_answer_requeues_at_the_head_with_its_original_arrival(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2"], no_answer_seconds=15)])
    acd_kit.login_ready(acd, ["u1", "u2"], 0, ready=False)
    acd.handle(SetState("u1", S.READY), 0)
    assert offers(acd.handle(CallArrived("c1", "500"), 1)) == [("c1", "u1")]
    acd.handle(CallArrived("c2", "500"), 5)
    assert acd.next_deadline() == 16
    events = acd.advance(16)
    assert events[0] == RingNoAnswer(at=16, call_id="c1", user_id="u1", station="201")
    assert events[1] == StateChanged(
        at=16,
        user_id="u1",
        station="201",
        old=S.RESERVED,
        new=S.NOT_READY,
        reason_code=SystemReason.RING_NO_ANSWER,
    )
    assert acd.waiting("500") == ["c1", "c2"]
    assert acd.call("c1").arrived == 1
    assert acd.group_stats("500", 16).lqt_seconds == 15
    events = acd.handle(SetState("u2", S.READY), 20)
    assert offers(events) == [("c1", "u2")]
    [e] = [e for e in acd.handle(CallAnswered("c1", "u2"), 21) if isinstance(e, CallConnected)]
    assert e.waited == 20


def test_offer_failed_makes_the_agent_not_ready_and_reroutes(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1", "u2"])])
    acd_kit.login_ready(acd, ["u1", "u2"], 0)
    acd.handle(CallArrived("c1", "500"), 1)
    events = acd.handle(OfferFailed("c1", "u1"), 2)
    assert events[0].new is S.NOT_READY and events[0].reason_code == SystemReason.OFFER_FAILED
    assert offers(events) == [("c1", "u2")]
    [e] = acd.handle(OfferFailed("c1", "u1"), 3)
    assert isinstance(e, CommandRejected)


def test_overflow_after_its_time(acd_kit: Any) -> None:
    groups = [
        acd_kit.group("500", ["u1"], overflow_group="501", overflow_seconds=30),
        acd_kit.group("501", ["u2"]),
    ]
    acd = acd_kit.acd(groups)
    acd_kit.login_ready(acd, ["u1", "u2"], 0, ready=False)
    acd.handle(CallArrived("c1", "500"), 10)
    assert acd.next_deadline() == 40
    events = acd.advance(40)
    assert events[0] == CallOverflowed(at=40, call_id="c1", from_group="500", to_group="501")
    assert acd.waiting("500") == [] and acd.waiting("501") == ["c1"]
    assert acd.group_stats("501", 45).lqt_seconds == 35  # queue time counts from arrival
    assert offers(acd.handle(SetState("u2", S.READY), 50)) == [("c1", "u2")]


def test_overflow_due_while_ringing_happens_on_ring_no_answer(acd_kit: Any) -> None:
    groups = [
        acd_kit.group(
            "500", ["u1"], overflow_group="501", overflow_seconds=10, no_answer_seconds=15
        ),
        acd_kit.group("501", ["u2"]),
    ]
    acd = acd_kit.acd(groups)
    acd_kit.login_ready(acd, ["u1", "u2"], 0)
    acd.handle(SetState("u2", S.NOT_READY), 0)
    acd.handle(CallArrived("c1", "500"), 0)
    assert acd.advance(10) == []  # ringing u1: stays
    events = acd.advance(15)
    assert any(isinstance(e, CallOverflowed) for e in events)
    assert acd.waiting("501") == ["c1"]


def test_full_queue_and_unknown_group_refuse(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], max_queue=2)])
    acd.handle(CallArrived("c1", "500"), 0)
    acd.handle(CallArrived("c2", "500"), 0)
    [e] = acd.handle(CallArrived("c3", "500"), 0)
    assert e == CallRefused(at=0, call_id="c3", group="500", reason="queue full")
    [e] = acd.handle(CallArrived("c4", "999"), 0)
    assert e == CallRefused(at=0, call_id="c4", group="999", reason="no such group")
    assert acd.group_stats("500", 0).ciq == 2


def test_agent_ready_takes_the_best_call_across_its_groups(acd_kit: Any) -> None:
    groups = [
        acd_kit.group("500", ["u1"]),
        acd_kit.group("501", ["u1"]),
        acd_kit.group("502", ["u2"]),
    ]
    acd = acd_kit.acd(groups)
    acd.handle(Login("u1", "1234", "201"), 0)
    acd.handle(CallArrived("x", "502", priority=9), 0)  # not u1's group
    acd.handle(CallArrived("a", "500"), 1)
    acd.handle(CallArrived("b", "501"), 2)
    acd.handle(CallArrived("c", "500", priority=1), 3)
    got = []
    acd.handle(SetState("u1", S.READY), 4)
    for t in range(3):
        [call] = [c for c in acd.calls() if c.offered_to == ("u1",)]
        got.append(call.call_id)
        serve(acd, call.call_id, "u1", 10 + t * 2)
    assert got == ["c", "a", "b"]


def test_abandon_while_waiting_and_while_ringing(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"])])
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(CallArrived("c1", "500"), 1)
    acd.handle(CallArrived("c2", "500"), 2)
    [e] = acd.handle(CallEnded("c2"), 5)
    assert e == CallAbandoned(at=5, call_id="c2", group="500", waited=3)
    assert acd.group_stats("500", 5).ciq == 0
    events = acd.handle(CallEnded("c1"), 6)
    assert isinstance(events[0], CallAbandoned)
    assert isinstance(events[1], OfferCancelled) and events[1].reason == "caller hung up"
    assert acd.agent("u1").state is S.READY
    assert acd.calls() == []
    [e] = acd.handle(CallEnded("c1"), 7)
    assert isinstance(e, CommandRejected)
