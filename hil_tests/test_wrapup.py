"""Wrap-up after routed calls (issue 7), on softphone agents, on a clean and a lossy lab LAN.

Without data: after a routed call the agent is WORK_READY for the group's wrap-up time (1 s
on the lab site), then READY. With data: while talking, the agent's phone dials `*40*2#` on a
second call (Work Not Ready, wrap-up code 2 "Log customer call"): the state is pending until
the call ends, then WORK_NOT_READY with code 2, until the agent chooses Ready (`*37`). Both
pyVoIP and baresip place that second call while the routed one is up (the pyVoIP worker acts
on its newest live call; the baresip driver tells the two calls' audio dumps apart). States come
from `/api/agents`, the order and wrap-up codes from the journal's `StateChanged` records.
"""

from __future__ import annotations

import time
from typing import Any

from acdgate.lab.drivers.base import Endpoint
from acdgate.lab.inventory import EndpointKind
from acdgate.lab.lab_site import WRAPUP_SECONDS
from conftest import Lab, LabNetwork
from test_routed_calls import (
    OTHER,
    K,
    answer,
    dial,
    endpoints,
    hang_up,
    journal,
    log_on,
    state,
    talk,
    wait_until,
)


def changes(lab: Lab, user: str) -> list[dict[str, Any]]:
    return [r for r in journal(lab, "StateChanged") if r["user_id"] == user]


def routed_call_up(lab: Lab, kind: EndpointKind) -> tuple[Endpoint, Endpoint]:
    """3000 logged on and Ready on an agent of `kind`, talking on a call to 6000 from a caller
    of the other kind."""
    agent, caller = endpoints(lab, kind, OTHER[kind])
    log_on(lab, "3000", agent)
    dial(caller, "6000")
    answer(agent)
    wait_until(lambda: state(lab, "3000") == "TALKING", "3000 TALKING")
    return agent, caller


def feature_call(ep: Endpoint, code: str) -> None:
    """Dial a short code: the gateway answers, plays its confirmation tone and hangs up."""
    obs = ep.call(code, timeout=20)
    assert obs.kind is K.CALL_ANSWERED, f"{code}: {obs}"
    ended = ep.wait_for(K.CALL_ENDED, 30)
    assert ended.data["by"] != "local", ended
    assert "confirmation" in ep.tones()[-2:], f"{code}: heard {ep.tones()}"


def test_wrap_up_without_data_then_ready(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    agent, caller = routed_call_up(lab, kind)
    talk(0.6)
    assert hang_up(agent).data["by"] == "local"
    caller.wait_for(K.CALL_ENDED, 15)
    # the first state after TALKING the API shows is wrap-up (it lasts 1 s; polls are 50 ms apart)
    after = wait_until(lambda: (s := state(lab, "3000")) != "TALKING" and s, "3000 done talking")
    assert after == "WORK_READY", after
    wait_until(lambda: state(lab, "3000") == "READY", "3000 READY after wrap-up", timeout=WRAPUP_SECONDS + 5)
    steps = [(r["new"], r["wrapup_code"], r["at"]) for r in changes(lab, "3000")]
    tail = [(new, code) for new, code, _ in steps[-3:]]
    assert [new.upper().replace("-", "_") for new, _ in tail] == ["TALKING", "WORK_READY", "READY"], steps
    assert [code for _, code in tail] == [None, None, None], steps
    assert steps[-1][2] - steps[-2][2] >= WRAPUP_SECONDS - 0.05, steps  # the group's wrap-up time


def test_wrap_up_with_data_chosen_while_talking(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    agent, caller = routed_call_up(lab, kind)
    feature_call(agent, "*40*2#")  # a second call from the agent's phone while talking
    view = lab.agent("3000")
    assert view is not None and (view["state"], view["pending_state"]) == ("TALKING", "WORK_NOT_READY"), view
    assert hang_up(agent).data["by"] == "local"  # the routed call, still up
    caller.wait_for(K.CALL_ENDED, 15)
    wait_until(lambda: state(lab, "3000") == "WORK_NOT_READY", "3000 WORK_NOT_READY")
    last = changes(lab, "3000")[-1]
    assert (last["new"].upper().replace("-", "_"), last["wrapup_code"]) == ("WORK_NOT_READY", 2), last
    view = lab.agent("3000")
    assert view is not None and view["pending_state"] is None, view
    # Work Not Ready outlasts the group's wrap-up time (only Ready ends it)
    until = time.monotonic() + WRAPUP_SECONDS + 0.5
    while time.monotonic() < until:
        assert state(lab, "3000") == "WORK_NOT_READY", lab.agent("3000")
        time.sleep(0.1)  # watching that nothing changes for a while: the passing time is the subject
    feature_call(agent, "*37")
    wait_until(lambda: state(lab, "3000") == "READY", "3000 READY after *37")
