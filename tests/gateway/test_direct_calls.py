"""Direct calls through the B2BUA between two pyVoIP phones: audio both ways, "No User"."""

from __future__ import annotations

from acdgate.codecs.tone_detector import detect_tone
from acdgate.lab.gateway_process import GatewayProcess
from pyvoip_parties import answerer, answerer_result, call_through


def test_station_to_station_call_is_bridged_both_ways(gateway: GatewayProcess) -> None:
    callee = answerer(gateway, "2102", 1000.0, timeout=30.0)
    try:
        result, heard_by_caller = call_through(gateway, "2101", "2102", "--inband", "9")
    finally:
        events, heard_by_callee = answerer_result(callee)
    assert result["answered"] and result["ended_by_far_end"], result
    call = next(e for e in events if e["event"] == "call")
    assert str(call["display"]).strip(' "') == "No User"  # nobody logged on at 2101
    assert detect_tone(heard_by_caller, (1000.0,)), "the caller did not hear the callee's tone"
    assert detect_tone(heard_by_callee, (852.0, 1477.0)), "the callee did not hear the caller's DTMF 9"


def test_call_to_a_logged_off_user_number_is_refused(gateway: GatewayProcess) -> None:
    result, _ = call_through(gateway, "2101", "3004", "--timeout", "4")  # pyVoIP ignores the 480: it just never answers
    assert result["answered"] is False
    assert "call from 2101 to 3004 refused: 480 No User" in gateway.output()


def test_call_to_a_logged_on_user_rings_their_station_and_shows_the_callers_name(gateway: GatewayProcess) -> None:
    caller_login, _ = call_through(gateway, "2101", "*35*3000*1234#")
    assert caller_login["answered"]
    callee_login, _ = call_through(gateway, "2103", "*35*3002*1234#")
    assert callee_login["answered"]
    callee = answerer(gateway, "2103", 1000.0, timeout=30.0)
    try:
        result, heard = call_through(gateway, "2101", "3002")
    finally:
        events, _ = answerer_result(callee)
    assert result["answered"], result
    call = next(e for e in events if e["event"] == "call")
    assert str(call["display"]).strip(' "') == "Agent 3000" or str(call["number"]) == "3000", call
    assert detect_tone(heard, (1000.0,))
    agent = {a["user"]: a for a in gateway.get("/api/agents")}["3002"]
    assert agent["state"] == "NOT_READY" and agent["calls_handled"] == 0  # back where it was
