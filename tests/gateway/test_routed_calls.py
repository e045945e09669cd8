"""Calls to a group number routed through the ACD to pyVoIP agents, bridged both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from acdgate.codecs.tone_detector import detect_tone
from acdgate.lab.gateway_process import GatewayProcess
from pyvoip_parties import pcm
from sipwire import free_port

SUPPORT = Path(__file__).parent.parent / "support"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path / "state").start()
    try:
        yield gw
    finally:
        gw.stop()



def agent_phone(gw: GatewayProcess, station: str, user: str, tone: float) -> subprocess.Popen[str]:
    """A pyVoIP phone at `station`, with `user` logged on and Ready there through the phone's
    XML service (the IP Phone Agent screens), that answers one call."""
    gw.get_text(f"/xml/login?ext={station}&id={user}&pin=1234")
    gw.get_text(f"/xml/set?ext={station}&to=ready")
    proc = subprocess.Popen(
        [sys.executable, str(SUPPORT / "pyvoip_answerer.py"), "--server", gw.sip[0], "--port", str(gw.sip[1]),
         "--user", station, "--password", f"pw{station}", "--sip-port", str(free_port()), "--tone", str(tone),
         "--timeout", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline() or '{"event": "died"}')
    assert first.get("ok") is True, first
    return proc


def caller(gw: GatewayProcess, station: str, dial: str) -> tuple[dict[str, object], np.ndarray]:
    proc = subprocess.run(
        [sys.executable, str(SUPPORT / "pyvoip_caller.py"), "--server", gw.sip[0], "--port", str(gw.sip[1]),
         "--user", station, "--password", f"pw{station}", "--sip-port", str(free_port()), "--dial", dial,
         "--inband", "7", "--inband-after-hz", "1000", "--timeout", "30"],
        capture_output=True, text=True, timeout=60,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-2000:]
    result = json.loads(lines[-1])
    assert "error" not in result, (result, gw.output()[-3000:])
    return result, pcm(str(result.pop("audio_u8")))


def test_call_to_linear_group_reaches_the_ready_agent_and_is_bridged(gateway: GatewayProcess) -> None:
    agent = agent_phone(gateway, "2101", "3000", tone=1000.0)
    try:
        assert {a["user"]: a for a in gateway.get("/api/agents")}["3000"]["state"] == "READY"
        result, heard = caller(gateway, "2105", "6000")
    finally:
        out, _ = agent.communicate(timeout=40)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    call = next(e for e in events if e["event"] == "call")
    assert call["number"] == "2105"  # ANI in From
    ended = next(e for e in events if e["event"] == "ended")
    assert result["answered"] and result["ended_by_far_end"] and result["keyed"], result
    assert detect_tone(heard, (1000.0,)), "the caller did not hear the agent"
    assert detect_tone(pcm(str(ended["audio_u8"])), (852.0, 1209.0)), "the agent did not hear the caller's 7"
    view = {a["user"]: a for a in gateway.get("/api/agents")}["3000"]
    assert view["calls_handled"] == 1
    assert view["state"] in ("WORK_READY", "READY")  # group 6000 has 10 s of wrap-up
    groups = {g["number"]: g for g in gateway.get("/api/groups")}
    assert groups["6000"]["ciq"] == 0


def test_a_state_code_dialled_while_talking_takes_effect_when_the_call_ends(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    from sipp_scenarios import run_feature_call

    agent = agent_phone(gateway, "2102", "3001", tone=1000.0)  # 3001 is in 6000 too
    # 3000 is not logged on: 6000 hunts to 3001
    call = subprocess.Popen(
        [sys.executable, str(SUPPORT / "pyvoip_caller.py"), "--server", gateway.sip[0], "--port",
         str(gateway.sip[1]), "--user", "2106", "--password", "pw2106", "--sip-port", str(free_port()),
         "--dial", "6000", "--timeout", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
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
