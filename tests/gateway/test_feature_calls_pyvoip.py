"""pyVoIP dials short codes: the tone it hears is decoded; the PIN goes as in-band DTMF."""

from __future__ import annotations

from acdgate.codecs.tone_detector import detect_tone
from acdgate.lab.gateway_process import GatewayProcess
from pyvoip_parties import call_through

CONFIRM = (350.0, 440.0)
ERROR = (480.0, 620.0)


def test_pyvoip_logs_on_with_star35_and_hears_the_confirmation(gateway: GatewayProcess) -> None:
    result, audio = call_through(gateway, "2106", "*35*3005*1234#")
    assert result == {"registered": True, "answered": True, "ended_by_far_end": True}
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    agent = {a["user"]: a for a in gateway.get("/api/agents")}["3005"]
    assert agent["station"] == "2106" and agent["state"] == "NOT_READY"


def test_pyvoip_sends_the_pin_in_band(gateway: GatewayProcess) -> None:
    result, audio = call_through(gateway, "2107", "#3006", "--inband", "1234#")
    assert result["answered"] and result["ended_by_far_end"] and result["keyed"], result  # on the prompt
    assert detect_tone(audio, CONFIRM), gateway.output()[-2000:]
    agent = {a["user"]: a for a in gateway.get("/api/agents")}["3006"]
    assert agent["station"] == "2107"


def test_pyvoip_hears_the_error_tone_for_a_wrong_pin(gateway: GatewayProcess) -> None:
    result, audio = call_through(gateway, "2108", "*35*3007*4321#")
    assert result["answered"] and result["ended_by_far_end"]
    assert detect_tone(audio, ERROR) and not detect_tone(audio, CONFIRM)
