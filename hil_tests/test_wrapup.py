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

from typing import Any

import pytest
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
    logged,
    state,
    talk,
    wait_state,
)


def changes(lab: Lab, user: str) -> list[dict[str, Any]]:
    return [r for r in journal(lab, "StateChanged") if r["user_id"] == user]


def routed_call_up(lab: Lab, kind: EndpointKind) -> tuple[Endpoint, Endpoint, int]:
    """3000 logged on and Ready on an agent of `kind`, talking on a call to 6000 from a caller
    of the other kind; and where the gateway's log line of 3000 TALKING ends."""
    agent, caller = endpoints(lab, kind, OTHER[kind])
    log_on(lab, "3000", agent)
    dial(caller, "6000")
    answer(agent)
    return agent, caller, wait_state(lab, "3000", "TALKING")


def feature_call(ep: Endpoint, code: str) -> None:
    """Dial a short code: the gateway answers, plays its confirmation tone and hangs up."""
    obs = ep.call(code, timeout=20)
    assert obs.kind is K.CALL_ANSWERED, f"{code}: {obs}"
    ended = ep.wait_for(K.CALL_ENDED, 30)
    assert ended.data["by"] != "local", ended
    assert "confirmation" in ep.tones()[-2:], f"{code}: heard {ep.tones()}"


def test_wrap_up_without_data_then_ready(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    agent, caller, talking = routed_call_up(lab, kind)
    talk(0.6, agent, caller)
    assert hang_up(agent).data["by"] == "local"
    caller.wait_for(K.CALL_ENDED, 15)
    # the first state after TALKING is wrap-up
    after = logged(lab, r"\bStateChanged\([^\n]*\buser_id='3000'[^\n]*\bnew=<AgentState\.(\w+):",
                   "3000 done talking", since=talking)
    assert after[1] == "WORK_READY", after[0]
    wait_state(lab, "3000", "READY", timeout=WRAPUP_SECONDS + 5, since=after.end())
    steps = [(r["new"], r["wrapup_code"], r["at"]) for r in changes(lab, "3000")]
    tail = [(new, code) for new, code, _ in steps[-3:]]
    assert [new.upper().replace("-", "_") for new, _ in tail] == ["TALKING", "WORK_READY", "READY"], steps
    assert [code for _, code in tail] == [None, None, None], steps
    assert steps[-1][2] - steps[-2][2] >= WRAPUP_SECONDS - 0.05, steps  # the group's wrap-up time


def test_wrap_up_with_data_chosen_while_talking(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    agent, caller, talking = routed_call_up(lab, kind)
    feature_call(agent, "*40*2#")  # a second call from the agent's phone while talking
    view = lab.agent("3000")
    assert view is not None and (view["state"], view["pending_state"]) == ("TALKING", "WORK_NOT_READY"), view
    assert hang_up(agent).data["by"] == "local"  # the routed call, still up
    caller.wait_for(K.CALL_ENDED, 15)
    wnr = wait_state(lab, "3000", "WORK_NOT_READY", since=talking)
    last = changes(lab, "3000")[-1]
    assert (last["new"].upper().replace("-", "_"), last["wrapup_code"]) == ("WORK_NOT_READY", 2), last
    view = lab.agent("3000")
    assert view is not None and view["pending_state"] is None, view
    # Work Not Ready outlasts the group's wrap-up time (only Ready ends it): the ACD logs no
    # state change of 3000 meanwhile (the passing time is the subject: the wait runs out)
    with pytest.raises(AssertionError, match="s never logged"):
        lab.gateway.wait_for_output(r"\bStateChanged\([^\n]*\buser_id='3000'", WRAPUP_SECONDS + 0.5, since=wnr)
    assert state(lab, "3000") == "WORK_NOT_READY", lab.agent("3000")
    feature_call(agent, "*37")
    wait_state(lab, "3000", "READY", since=wnr)
