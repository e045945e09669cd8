"""Snapshot and restore: a restarted gateway gets its sessions back."""

from __future__ import annotations

import json
from typing import Any

from acdgate.acd.commands import (
    CallAnswered,
    CallArrived,
    CallEnded,
    Login,
    SetMembership,
    SetState,
)
from acdgate.acd.engine import Acd
from acdgate.acd.events import LoggedIn, LoginRejected, LoginRejectReason, OfferCall, StateChanged
from acdgate.acd.states import AgentState

S = AgentState


def test_round_trip_keeps_sessions_membership_pins_and_timers(acd_kit: Any) -> None:
    site = acd_kit.site([acd_kit.group("500", ["u1", "u2", "u3", "u4"], wrapup_seconds=60)])
    acd = Acd(site)
    acd_kit.login_ready(acd, ["u1", "u2", "u3"], 0, ready=False)
    acd.handle(SetState("u1", S.NOT_READY, reason_code=2), 5)
    acd.handle(SetState("u2", S.READY), 6)
    acd.handle(CallArrived("c1", "500"), 7)
    acd.handle(CallAnswered("c1", "u2"), 8)
    acd.handle(CallEnded("c1"), 20)  # u2 WORK_READY until 80
    acd.handle(SetState("u3", S.READY), 21)
    acd.handle(SetMembership("u3", "500", False), 22)
    for _ in range(4):
        acd.handle(Login("u4", "0000", "204"), 23)  # locked until 113
    acd.handle(Login("u4", "0000", "204"), 24)  # ignored: locked
    before = {v.user_id: v for v in acd.agents()}

    snap = json.loads(json.dumps(acd.snapshot()))
    restored = Acd.restore(site, snap, 30)

    assert {v.user_id: v for v in restored.agents()} == before
    assert restored.agent_at_station("202").user_id == "u2"
    assert restored.agent_stats("u1", 30) == acd.agent_stats("u1", 30)
    assert restored.group_stats("500", 30) == acd.group_stats("500", 30)
    [e] = restored.handle(Login("u4", "1234", "204"), 50)
    assert isinstance(e, LoginRejected) and e.reason is LoginRejectReason.LOCKED
    assert restored.next_deadline() == 80
    [e] = restored.advance(80)
    assert e == StateChanged(at=80, user_id="u2", station="202", old=S.WORK_READY, new=S.READY)
    restored.advance(113)
    assert isinstance(restored.handle(Login("u4", "1234", "204"), 113)[0], LoggedIn)
    assert restored.agent("u4").state is S.NOT_READY
    # u3's membership stays disabled: a call for 500 goes to u2, not u3.
    offers = [x for x in restored.handle(CallArrived("c2", "500"), 120) if isinstance(x, OfferCall)]
    assert [o.user_id for o in offers] == ["u2"]


def test_agent_caught_on_a_call_comes_back_in_its_pending_state_or_not_ready(acd_kit: Any) -> None:
    site = acd_kit.site([acd_kit.group("500", ["u1", "u2"])])
    acd = Acd(site)
    acd_kit.login_ready(acd, ["u1", "u2"], 0)
    acd.handle(CallArrived("c1", "500"), 1)
    acd.handle(CallArrived("c2", "500"), 1)
    acd.handle(CallAnswered("c1", "u1"), 2)
    acd.handle(SetState("u1", S.NOT_READY, reason_code=1), 3)
    restored = Acd.restore(site, json.loads(json.dumps(acd.snapshot())), 10)
    u1, u2 = restored.agent("u1"), restored.agent("u2")
    assert (u1.state, u1.reason_code, u1.call_id) == (S.NOT_READY, 1, None)
    assert (u2.state, u2.call_id) == (S.NOT_READY, None)
    assert restored.calls() == []
