"""The rules behind the prompts: which code a short code still needs, and the wrap-up code
owed "after the call ends" (guide: Reason Code menu, wrap-up data) as engine state."""

from __future__ import annotations

from typing import Any

import pytest
from acdgate.acd.code_prompts import CodeKind, code_to_ask, parse_keyed_code, wrapup_owed
from acdgate.acd.commands import (
    CallAnswered,
    CallArrived,
    CallEnded,
    DirectCallAnswered,
    DirectCallStarted,
    GiveWrapupCode,
    Logout,
    SetState,
)
from acdgate.acd.engine import Acd
from acdgate.acd.events import (
    CommandRejected,
    StateChanged,
    StatePending,
    WrapupCodeGiven,
    event_to_record,
    record_to_event,
)
from acdgate.acd.site import Feature, Policy
from acdgate.acd.states import AgentState

S = AgentState
REQUIRED = Policy(not_ready_reason_required=True, logout_reason_required=True, wrapup_code_required=True)


def view(acd: Any, user_id: str = "u1") -> Any:
    v = acd.agent(user_id)
    assert v is not None
    return v


@pytest.mark.parametrize(
    ("feature", "state", "expected"),
    [
        (Feature.NOT_READY, S.READY, CodeKind.NOT_READY_REASON),
        (Feature.NOT_READY, S.NOT_READY, CodeKind.NOT_READY_REASON),  # another reason
        (Feature.LOGOUT, S.NOT_READY, CodeKind.LOGOUT_REASON),
        (Feature.LOGOUT, S.READY, None),  # refused anyway (log out from Not Ready): no prompt
        (Feature.WORK_NOT_READY, S.WORK_READY, CodeKind.WRAPUP),
        (Feature.WORK_READY, S.READY, None),  # not a choice from READY
        (Feature.WORK_READY, S.TALKING, None),  # on a call: owed when it ends, not asked now
        (Feature.READY, S.NOT_READY, None),
    ],
)
def test_code_to_ask_when_required(acd_kit: Any, feature: Feature, state: AgentState,
                                   expected: CodeKind | None) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)], policy=REQUIRED)
    acd_kit.login_ready(acd, ["u1"], 0, ready=state is not S.NOT_READY)
    if state is S.TALKING:
        acd.handle(CallArrived("c1", "500"), 1)
        acd.handle(CallAnswered("c1", "u1"), 2)
    elif state is S.WORK_READY:
        acd.handle(CallArrived("c1", "500"), 1)
        acd.handle(CallAnswered("c1", "u1"), 2)
        acd.handle(CallEnded("c1"), 3)
    assert view(acd).state is state
    assert code_to_ask(REQUIRED, feature, "", view(acd)) is expected
    assert code_to_ask(REQUIRED, feature, "2", view(acd)) is None  # dialled with the code
    assert code_to_ask(Policy(), feature, "", view(acd)) is None  # the site does not require it


def test_parse_keyed_code_takes_only_the_sites_codes(acd_kit: Any) -> None:
    site = acd_kit.site([acd_kit.group("500", ["u1"])])
    assert parse_keyed_code(site, CodeKind.NOT_READY_REASON, "2") == 2
    assert parse_keyed_code(site, CodeKind.NOT_READY_REASON, "02") == 2
    assert parse_keyed_code(site, CodeKind.NOT_READY_REASON, "10") is None  # a logout reason
    assert parse_keyed_code(site, CodeKind.LOGOUT_REASON, "10") == 10
    assert parse_keyed_code(site, CodeKind.WRAPUP, "21") == 21
    for bad in ("", "9", "2*", "１", "1234567"):
        assert parse_keyed_code(site, CodeKind.NOT_READY_REASON, bad) is None


def talk_then_choose(acd: Acd, state: AgentState, code: int | None = None) -> list[Any]:
    acd.handle(CallArrived("c1", "500"), 1)
    acd.handle(CallAnswered("c1", "u1"), 2)
    return acd.handle(SetState("u1", state, wrapup_code=code), 3)


@pytest.mark.parametrize("state", [S.WORK_READY, S.WORK_NOT_READY])
def test_work_state_on_a_routed_call_without_the_code_owes_it_after_the_call(
        acd_kit: Any, state: AgentState) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)], policy=REQUIRED)
    acd_kit.login_ready(acd, ["u1"], 0)
    [e] = talk_then_choose(acd, state)
    assert e == StatePending(at=3, user_id="u1", station="201", state=state)
    assert view(acd).wrapup_owed is None and not wrapup_owed(view(acd))  # not before the call ends
    events = acd.handle(CallEnded("c1"), 9)
    assert events[-1] == StateChanged(at=9, user_id="u1", station="201", old=S.TALKING, new=state)
    assert view(acd).wrapup_owed == "c1" and wrapup_owed(view(acd))
    [e] = acd.handle(GiveWrapupCode("u1", 99), 10)
    assert isinstance(e, CommandRejected) and e.reason == "unknown wrap-up code 99"
    assert view(acd).wrapup_owed == "c1"  # a wrong code leaves it owed
    [e] = acd.handle(GiveWrapupCode("u1", 21), 11)
    assert e == WrapupCodeGiven(at=11, user_id="u1", station="201", wrapup_code=21, call_id="c1")
    assert record_to_event(event_to_record(e)) == e
    v = view(acd)
    assert v.wrapup_owed is None and v.wrapup_code == 21 and v.state is state
    [e] = acd.handle(GiveWrapupCode("u1", 21), 12)
    assert isinstance(e, CommandRejected) and e.reason == "no wrap-up code owed"


def test_a_code_given_on_the_call_owes_nothing(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)], policy=REQUIRED)
    acd_kit.login_ready(acd, ["u1"], 0)
    talk_then_choose(acd, S.WORK_READY)
    acd.handle(SetState("u1", S.WORK_READY, wrapup_code=20), 4)  # chosen again, with the code
    acd.handle(CallEnded("c1"), 9)
    v = view(acd)
    assert v.wrapup_owed is None and v.wrapup_code == 20


def test_a_direct_call_still_refuses_a_work_state_without_the_code(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)], policy=REQUIRED)
    acd_kit.login_ready(acd, ["u1"], 0)
    acd.handle(DirectCallStarted("d1", "201"), 1)
    acd.handle(DirectCallAnswered("d1"), 2)
    assert view(acd).state is S.TALKING
    [e] = acd.handle(SetState("u1", S.WORK_READY), 3)
    assert isinstance(e, CommandRejected) and e.reason == "wrap-up code required"


def test_logout_forgets_the_owed_code(acd_kit: Any) -> None:
    acd = acd_kit.acd([acd_kit.group("500", ["u1"], wrapup_seconds=30)], policy=REQUIRED)
    acd_kit.login_ready(acd, ["u1"], 0)
    talk_then_choose(acd, S.WORK_NOT_READY)
    acd.handle(CallEnded("c1"), 9)
    acd.handle(SetState("u1", S.NOT_READY, reason_code=1), 10)
    assert view(acd).wrapup_owed == "c1"  # still owed in another state
    acd.handle(Logout("u1", 10), 11)
    assert acd.agent("u1") is None or acd.agent("u1").wrapup_owed is None
    [e] = acd.handle(GiveWrapupCode("u1", 20), 12)
    assert isinstance(e, CommandRejected)


def test_the_owed_code_survives_a_restart(acd_kit: Any) -> None:
    site = acd_kit.site([acd_kit.group("500", ["u1"], wrapup_seconds=30)], policy=REQUIRED)
    acd = Acd(site)
    acd_kit.login_ready(acd, ["u1"], 0)
    talk_then_choose(acd, S.WORK_NOT_READY)
    acd.handle(CallEnded("c1"), 9)
    again = Acd.restore(site, acd.snapshot(), 20)
    assert view(again).wrapup_owed == "c1"
    # saved while still on the call: the call is not restored, the debt is
    acd = Acd(site)
    acd_kit.login_ready(acd, ["u1"], 0)
    talk_then_choose(acd, S.WORK_NOT_READY)
    again = Acd.restore(site, acd.snapshot(), 20)
    assert view(again).state is S.WORK_NOT_READY and view(again).wrapup_owed == ""
