"""Calls to a group number routed through the ACD to pyVoIP agents, bridged both ways."""

from __future__ import annotations

from pathlib import Path

from acdgate.codecs.tone_detector import detect_tone
from acdgate.lab.gateway_process import GatewayProcess
from pyvoip_parties import answerer, answerer_result, call_through, caller, logon
from sipwire import free_port


def test_call_to_linear_group_reaches_the_ready_agent_and_is_bridged(gateway: GatewayProcess) -> None:
    logon(gateway, "2101", "3000")  # through the phone's XML service (IP Phone Agent screens)
    agent = answerer(gateway, "2101", 1000.0)
    try:
        assert {a["user"]: a for a in gateway.get("/api/agents")}["3000"]["state"] == "READY"
        result, heard = call_through(gateway, "2105", "6000", "--inband", "7", "--inband-after-hz", "1000",
                                     "--timeout", "30")
    finally:
        events, heard_by_agent = answerer_result(agent)
    call = next(e for e in events if e["event"] == "call")
    assert call["number"] == "2105"  # ANI in From
    assert result["answered"] and result["ended_by_far_end"] and result["keyed"], result
    assert detect_tone(heard, (1000.0,)), "the caller did not hear the agent"
    assert detect_tone(heard_by_agent, (852.0, 1209.0)), "the agent did not hear the caller's 7"
    view = {a["user"]: a for a in gateway.get("/api/agents")}["3000"]
    assert view["calls_handled"] == 1
    assert view["state"] in ("WORK_READY", "READY")  # group 6000 has 10 s of wrap-up
    groups = {g["number"]: g for g in gateway.get("/api/groups")}
    assert groups["6000"]["ciq"] == 0


def test_a_state_code_dialled_while_talking_takes_effect_when_the_call_ends(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    from sipp_scenarios import run_feature_call

    logon(gateway, "2102", "3001")  # 3001 is in 6000 too
    agent = answerer(gateway, "2102", 1000.0)
    # 3000 is not logged on: 6000 hunts to 3001
    call = caller(gateway, "2106", "6000", timeout=30.0)
    try:
        # the ACD logs each state change as it commits it
        gateway.wait_for_output(r"StateChanged\(.*user_id='3001'.*new=<AgentState\.TALKING", timeout=20)
        assert {a["user"]: a for a in gateway.get("/api/agents")}["3001"]["state"] == "TALKING"
        # the agent's desk phone dials *38*2# on its second line while talking
        result = run_feature_call(tmp_path, gateway.sip, "2102", "*38*2#", answered=True,
                                  rtp_port=free_port(), local_port=free_port())
        assert result.status == 200
        view = {a["user"]: a for a in gateway.get("/api/agents")}["3001"]
        assert view["state"] == "TALKING" and view["pending_state"] == "NOT_READY"
    finally:
        agent.communicate(timeout=40)
        call.communicate(timeout=40)
    view = {a["user"]: a for a in gateway.get("/api/agents")}["3001"]
    assert view["state"] == "NOT_READY" and view["reason_code"] == 2
