"""Short codes dialled with SIPp against a running gateway: answered, a tone we decode, hung up.

SIPp's SDP offers the test's own UDP socket as the media address, so the test receives the
gateway's RTP and finds the confirmation or error tone in it; the API and the journal must
agree with what was dialled.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from acdgate.codecs import g711
from acdgate.codecs.rtp import RtpPacket
from acdgate.codecs.tone_detector import detect_tone
from acdgate.lab.gateway_process import GatewayProcess
from sipp_scenarios import run_feature_call
from sipwire import free_port

CONFIRM = (350.0, 440.0)
ERROR = (480.0, 620.0)


class RtpSink:
    """A UDP socket that plays the phone's media port and keeps what the gateway sent."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.port: int = self.sock.getsockname()[1]

    def audio(self) -> np.ndarray:
        """Decode every datagram received so far (the call is over: nothing more comes)."""
        self.sock.setblocking(False)
        payloads: list[tuple[int, bytes, int]] = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                break
            packet = RtpPacket.parse(data)
            payloads.append((packet.sequence, packet.payload, packet.payload_type))
        payloads.sort()
        chunks = [g711.ulaw_decode(p) if pt == 0 else g711.alaw_decode(p) for _, p, pt in payloads if pt in (0, 8)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sink() -> Iterator[RtpSink]:
    s = RtpSink()
    yield s
    s.close()


def agents(gw: GatewayProcess) -> dict[str, dict[str, object]]:
    return {str(a["user"]): a for a in gw.get("/api/agents")}


def feature_journal(gw: GatewayProcess) -> list[tuple[str, str, int]]:
    """(dialled, reason, status) of each FeatureUsed record, read from the live database."""
    db = sqlite3.connect(f"file:{gw.state_dir / 'acdgate.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT data FROM journal WHERE kind = 'FeatureUsed' ORDER BY seq").fetchall()
    finally:
        db.close()
    import json

    return [(r["dialled"], r["reason"], r["status"]) for r in (json.loads(row[0]) for row in rows)]


def dial(gw: GatewayProcess, tmp: Path, sink: RtpSink, station: str, code: str, *,
         answered: bool = True, info: str = "", formats: str = "0 8 101") -> int:
    result = run_feature_call(tmp, gw.sip, station, code, answered=answered, info_digits=info,
                              formats=formats, rtp_port=sink.port, local_port=free_port())
    return result.status


def test_login_by_star35_plays_confirmation(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2101", "*35*3000*1234#") == 200
    audio = sink.audio()
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    agent = agents(gateway)["3000"]
    assert agent["station"] == "2101" and agent["state"] == "NOT_READY"
    assert feature_journal(gateway)[-1] == ("*35*3000*xxxx#", "Done", 200)


def test_per_user_code_with_pin_as_sip_info(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2102", "#3001", info="1234#") == 200
    assert detect_tone(sink.audio(), CONFIRM)
    assert agents(gateway)["3001"]["station"] == "2102"


def test_state_codes_and_logoff_then_no_user(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2103", "*35*3002*1234#") == 200
    assert dial(gateway, tmp_path, sink, "2103", "*37") == 200
    assert agents(gateway)["3002"]["state"] == "READY"
    assert dial(gateway, tmp_path, sink, "2103", "*36") == 200  # logout from READY: refused
    sink.audio()
    assert agents(gateway)["3002"]["state"] == "READY"
    assert dial(gateway, tmp_path, sink, "2103", "*38*2#") == 200
    agent = agents(gateway)["3002"]
    assert agent["state"] == "NOT_READY" and agent["reason_code"] == 2
    sink.audio()
    assert dial(gateway, tmp_path, sink, "2103", "*36") == 200
    assert detect_tone(sink.audio(), CONFIRM)
    assert "3002" not in agents(gateway)
    station = next(s for s in gateway.get("/api/stations") if s["extension"] == "2103")
    assert station["user"] is None and station["display"] == "No User"
    statuses = [status for _, _, status in feature_journal(gateway)]
    assert statuses == [200, 200, 403, 200, 200]


def test_wrong_pin_plays_the_error_tone(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2104", "*35*3003*9999#") == 200
    audio = sink.audio()
    assert detect_tone(audio, ERROR) and not detect_tone(audio, CONFIRM)
    assert "3003" not in agents(gateway)


def test_no_usable_media_refuses_with_a_reason(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    result = run_feature_call(tmp_path, gateway.sip, "2105", "*35*3004*9999#", answered=False, formats="3",
                              rtp_port=sink.port, local_port=free_port())
    assert result.status == 403 and "SIP/2.0 403 Wrong pin" in result.output
    result = run_feature_call(tmp_path, gateway.sip, "2105", "*35*3004*1234#", answered=False, formats="3",
                              rtp_port=sink.port, local_port=free_port())
    assert result.status == 488 and "no usable media" in result.output
    assert agents(gateway)["3004"]["station"] == "2105"  # the login itself was done


def test_forced_login_menu_by_sip_info(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2106", "*35*3005*1234#") == 200
    sink.audio()
    # 3005 is in use at 2106: the Forced Login prompt, then "2" cancels
    assert dial(gateway, tmp_path, sink, "2107", "*35*3005*1234#", info="2") == 200
    audio = sink.audio()
    assert detect_tone(audio, (1400.0,)), "no Forced Login prompt"
    assert detect_tone(audio, ERROR) and not detect_tone(audio, CONFIRM)
    assert agents(gateway)["3005"]["station"] == "2106"
    # again, and "1" logs the other session out and this one in
    assert dial(gateway, tmp_path, sink, "2107", "*35*3005*1234#", info="1") == 200
    assert detect_tone(sink.audio(), CONFIRM)
    assert agents(gateway)["3005"]["station"] == "2107"
    station = next(s for s in gateway.get("/api/stations") if s["extension"] == "2106")
    assert station["display"] == "No User"
    reasons = [reason for _, reason, _ in feature_journal(gateway)]
    assert reasons[-2:] == ["Forced login cancelled", "Done"]


def test_four_wrong_pins_lock_the_user(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    for _ in range(4):
        assert dial(gateway, tmp_path, sink, "2108", "*35*3007*1111#") == 200
        assert detect_tone(sink.audio(), ERROR)
    # the right PIN is refused while the user is locked (IP Office: 90 s)
    assert dial(gateway, tmp_path, sink, "2108", "*35*3007*1234#") == 200
    assert detect_tone(sink.audio(), ERROR)
    assert "3007" not in agents(gateway)
    reasons = [reason for _, reason, _ in feature_journal(gateway)]
    assert reasons == ["Wrong pin"] * 4 + ["Locked"]
