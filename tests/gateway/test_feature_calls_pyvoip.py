"""pyVoIP dials short codes: the tone it hears is decoded; the PIN goes as in-band DTMF."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from acdgate.codecs.tone_detector import detect_tone
from acdgate.lab.gateway_process import GatewayProcess
from sipwire import free_port

CALLER = Path(__file__).parent.parent / "support" / "pyvoip_caller.py"
CONFIRM = (350.0, 440.0)
ERROR = (480.0, 620.0)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path / "state").start()
    try:
        yield gw
    finally:
        gw.stop()


def pyvoip_call(gw: GatewayProcess, station: str, dial: str, inband: str = "") -> tuple[dict[str, object], np.ndarray]:
    proc = subprocess.run(
        [sys.executable, str(CALLER), "--server", gw.sip[0], "--port", str(gw.sip[1]), "--user", station,
         "--password", f"pw{station}", "--sip-port", str(free_port()), "--dial", dial, "--inband", inband],
        capture_output=True, text=True, timeout=60,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"pyVoIP worker said nothing:\n{proc.stderr[-2000:]}\n{gw.output()[-2000:]}"
    result = json.loads(lines[-1])
    assert "error" not in result, (result.get("error"), gw.output()[-3000:])
    raw = np.frombuffer(base64.b64decode(str(result.pop("audio_u8"))), dtype=np.uint8)
    audio = ((raw.astype(np.int16) - 128) << 8).astype(np.int16)
    return result, audio


def test_pyvoip_logs_on_with_star35_and_hears_the_confirmation(gateway: GatewayProcess) -> None:
    result, audio = pyvoip_call(gateway, "2106", "*35*3005*1234#")
    assert result == {"registered": True, "answered": True, "ended_by_far_end": True}
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    agent = {a["user"]: a for a in gateway.get("/api/agents")}["3005"]
    assert agent["station"] == "2106" and agent["state"] == "NOT_READY"


def test_pyvoip_sends_the_pin_in_band(gateway: GatewayProcess) -> None:
    result, audio = pyvoip_call(gateway, "2107", "#3006", inband="1234#")
    assert result["answered"] and result["ended_by_far_end"] and result["keyed"], result  # on the prompt
    assert detect_tone(audio, CONFIRM), gateway.output()[-2000:]
    agent = {a["user"]: a for a in gateway.get("/api/agents")}["3006"]
    assert agent["station"] == "2107"


def test_pyvoip_hears_the_error_tone_for_a_wrong_pin(gateway: GatewayProcess) -> None:
    result, audio = pyvoip_call(gateway, "2108", "*35*3007*4321#")
    assert result["answered"] and result["ended_by_far_end"]
    assert detect_tone(audio, ERROR) and not detect_tone(audio, CONFIRM)
