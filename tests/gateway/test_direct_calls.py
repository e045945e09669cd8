"""Direct calls through the B2BUA between two pyVoIP phones: audio both ways, "No User"."""

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



def _answerer(gw: GatewayProcess, station: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(SUPPORT / "pyvoip_answerer.py"), "--server", gw.sip[0], "--port", str(gw.sip[1]),
         "--user", station, "--password", f"pw{station}", "--sip-port", str(free_port()), "--tone", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline() or '{"event": "died"}')
    assert first == {"event": "registered", "ok": True}, (first, proc.stderr.read() if first["event"] == "died" else "")
    return proc


def _call(gw: GatewayProcess, station: str, dial: str, inband: str = "",
          timeout: float = 20.0) -> tuple[dict[str, object], np.ndarray]:
    proc = subprocess.run(
        [sys.executable, str(SUPPORT / "pyvoip_caller.py"), "--server", gw.sip[0], "--port", str(gw.sip[1]),
         "--user", station, "--password", f"pw{station}", "--sip-port", str(free_port()), "--dial", dial,
         "--inband", inband, "--timeout", str(timeout)],
        capture_output=True, text=True, timeout=60,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-2000:]
    result = json.loads(lines[-1])
    assert "error" not in result, (result, gw.output()[-3000:])
    return result, pcm(str(result.pop("audio_u8")))


def _finish(proc: subprocess.Popen[str]) -> list[dict[str, object]]:
    out, _ = proc.communicate(timeout=40)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_station_to_station_call_is_bridged_both_ways(gateway: GatewayProcess) -> None:
    callee = _answerer(gateway, "2102")
    try:
        result, heard_by_caller = _call(gateway, "2101", "2102", inband="9")
    finally:
        events = _finish(callee)
    assert result["answered"] and result["ended_by_far_end"], result
    call = next(e for e in events if e["event"] == "call")
    assert str(call["display"]).strip(' "') == "No User"  # nobody logged on at 2101
    ended = next(e for e in events if e["event"] == "ended")
    heard_by_callee = pcm(str(ended["audio_u8"]))
    assert detect_tone(heard_by_caller, (1000.0,)), "the caller did not hear the callee's tone"
    assert detect_tone(heard_by_callee, (852.0, 1477.0)), "the callee did not hear the caller's DTMF 9"


def test_call_to_a_logged_off_user_number_is_refused(gateway: GatewayProcess) -> None:
    result, _ = _call(gateway, "2101", "3004", timeout=4.0)  # pyVoIP ignores the 480: it just never answers
    assert result["answered"] is False
    assert "call from 2101 to 3004 refused: 480 No User" in gateway.output()


def test_call_to_a_logged_on_user_rings_their_station_and_shows_the_callers_name(gateway: GatewayProcess) -> None:
    caller_login, _ = _call(gateway, "2101", "*35*3000*1234#")
    assert caller_login["answered"]
    callee_login, _ = _call(gateway, "2103", "*35*3002*1234#")
    assert callee_login["answered"]
    callee = _answerer(gateway, "2103")
    try:
        result, heard = _call(gateway, "2101", "3002")
    finally:
        events = _finish(callee)
    assert result["answered"], result
    call = next(e for e in events if e["event"] == "call")
    assert str(call["display"]).strip(' "') == "Agent 3000" or str(call["number"]) == "3000", call
    assert detect_tone(heard, (1000.0,))
    agent = {a["user"]: a for a in gateway.get("/api/agents")}["3002"]
    assert agent["state"] == "NOT_READY" and agent["calls_handled"] == 0  # back where it was
