"""Prompts instead of refusals, end to end: a site that requires reason and wrap-up codes, a
running gateway, SIPp dialling the short codes and keying the code as SIP INFO after the
prompt, the tones decoded from the RTP it received, the API and the journal read back.

The prompts: two short 660 Hz beeps for a reason code (Not Ready, logout), a 990 Hz beep
for the wrap-up code owed after a routed call (codecs.tones.REASON_PROMPT / WRAPUP_PROMPT).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from acdgate.codecs.tone_detector import detect_tone
from acdgate.codecs.tones import REASON_PROMPT, WRAPUP_PROMPT
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from pyvoip_parties import answerer, caller, logon, wait_state
from sipwire import free_port
from test_feature_calls import CONFIRM, ERROR, RtpSink, agents, dial, feature_journal

REASON_HZ = REASON_PROMPT.segments[0].freqs
WRAPUP_HZ = WRAPUP_PROMPT.segments[0].freqs


def required_site(path: Path) -> Path:
    """The demo site with every code required, and `*39` (Work Ready without a code)."""
    text = demo_site_text().replace("required = false", "required = true")
    assert text.count("required = true") >= 3
    text = text.replace('"*37" = { feature = "ready" }',
                        '"*37" = { feature = "ready" }\n"*39" = { feature = "work-ready" }')
    path.write_text(text)
    return path


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """The gateway on the demo site with reason and wrap-up codes required (not the demo's)."""
    return start_gateway(config=required_site(tmp_path / "site.toml"))


@pytest.fixture
def sink() -> Iterator[RtpSink]:
    s = RtpSink()
    yield s
    s.close()


def journal_records(gw: GatewayProcess, kind: str) -> list[dict[str, object]]:
    db = sqlite3.connect(f"file:{gw.state_dir / 'acdgate.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT data FROM journal WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    finally:
        db.close()
    return [json.loads(row[0]) for row in rows]


def test_not_ready_without_a_reason_prompts_and_takes_the_keyed_code(
        gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2101", "*35*3000*1234#") == 200
    assert dial(gateway, tmp_path, sink, "2101", "*37") == 200
    sink.audio()
    assert agents(gateway)["3000"]["state"] == "READY"
    assert dial(gateway, tmp_path, sink, "2101", "*38", info="2#") == 200
    audio = sink.audio()
    assert detect_tone(audio, REASON_HZ), "no reason code prompt"
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    agent = agents(gateway)["3000"]
    assert agent["state"] == "NOT_READY" and agent["reason_code"] == 2
    assert feature_journal(gateway)[-1] == ("*38", "Done with reason code 2 entered after the prompt", 200)
    changed = journal_records(gateway, "StateChanged")[-1]
    assert changed["user_id"] == "3000" and changed["new"] == "not-ready" and changed["reason_code"] == 2


def test_a_wrong_or_missing_code_after_the_prompt_gets_the_error_tone(
        gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2102", "*35*3001*1234#") == 200
    assert dial(gateway, tmp_path, sink, "2102", "*37") == 200
    sink.audio()
    assert dial(gateway, tmp_path, sink, "2102", "*38", info="9#") == 200
    audio = sink.audio()
    assert detect_tone(audio, REASON_HZ) and detect_tone(audio, ERROR) and not detect_tone(audio, CONFIRM)
    assert agents(gateway)["3001"]["state"] == "READY"
    assert dial(gateway, tmp_path, sink, "2102", "*38", info="#") == 200
    assert detect_tone(sink.audio(), ERROR)
    assert agents(gateway)["3001"]["state"] == "READY"
    assert feature_journal(gateway)[-2:] == [
        ("*38", "Unknown reason code 9 entered after the prompt", 404),
        ("*38", "No reason code entered after the prompt", 404),
    ]


def test_logout_without_a_reason_prompts_for_it(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2103", "*35*3002*1234#") == 200  # NOT_READY after login
    sink.audio()
    assert dial(gateway, tmp_path, sink, "2103", "*36", info="1#") == 200
    audio = sink.audio()
    assert detect_tone(audio, REASON_HZ) and detect_tone(audio, CONFIRM)
    assert "3002" not in agents(gateway)
    logged_out = journal_records(gateway, "LoggedOut")[-1]
    assert logged_out["user_id"] == "3002" and logged_out["reason_code"] == 1


def test_wrapup_code_owed_after_a_routed_call_is_asked_by_the_next_short_code(
        gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    from sipp_scenarios import run_feature_call

    logon(gateway, "2102", "3001")  # 3001 is in 6000 (10 s wrap-up); 3000 is not logged on
    agent = answerer(gateway, "2102", 1000.0)
    call = caller(gateway, "2106", "6000", timeout=30.0)
    try:
        since = wait_state(gateway, "3001", "TALKING", timeout=20)
        # Work Ready without the code while talking: kept, the code owed when the call ends
        result = run_feature_call(tmp_path, gateway.sip, "2102", "*39", answered=True,
                                  rtp_port=free_port(), local_port=free_port())
        assert result.status == 200
        view = agents(gateway)["3001"]
        assert view["state"] == "TALKING" and view["pending_state"] == "WORK_READY"
        assert not view["wrapup_owed"]
    finally:
        agent.communicate(timeout=40)
        call.communicate(timeout=40)
    wait_state(gateway, "3001", "WORK_READY", since=since)
    assert agents(gateway)["3001"]["wrapup_owed"]
    # the next short code asks for the code first (a wrong one: error tone, still owed) ...
    # (*38*1#: allowed whether the 10 s wrap-up time has run out or not)
    assert dial(gateway, tmp_path, sink, "2102", "*38*1#", info="7#") == 200
    audio = sink.audio()
    assert detect_tone(audio, WRAPUP_HZ) and detect_tone(audio, ERROR) and not detect_tone(audio, CONFIRM)
    view = agents(gateway)["3001"]
    assert view["wrapup_owed"] and view["state"] in ("WORK_READY", "READY")
    # ... then with a right one the code is taken and the short code proceeds
    assert dial(gateway, tmp_path, sink, "2102", "*38*1#", info="2#") == 200
    audio = sink.audio()
    assert detect_tone(audio, WRAPUP_HZ) and detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    view = agents(gateway)["3001"]
    assert not view["wrapup_owed"] and view["state"] == "NOT_READY" and view["reason_code"] == 1
    [given] = journal_records(gateway, "WrapupCodeGiven")
    assert given["user_id"] == "3001" and given["wrapup_code"] == 2 and given["call_id"]
    reasons = [reason for dialled, reason, _ in feature_journal(gateway) if dialled == "*38*1#"]
    assert reasons[-2:] == ["Unknown wrap-up code 7 entered for the last call; it is still owed", "Done"]


def test_the_phone_screens_ask_for_the_owed_wrapup_code_first(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    from sipp_scenarios import run_feature_call

    logon(gateway, "2102", "3001")
    agent = answerer(gateway, "2102", 1000.0)
    call = caller(gateway, "2106", "6000", timeout=30.0)
    try:
        since = wait_state(gateway, "3001", "TALKING", timeout=20)
        result = run_feature_call(tmp_path, gateway.sip, "2102", "*39", answered=True,
                                  rtp_port=free_port(), local_port=free_port())
        assert result.status == 200
    finally:
        agent.communicate(timeout=40)
        call.communicate(timeout=40)
    wait_state(gateway, "3001", "WORK_READY", since=since)
    # the service's home page and any agent page show Wrap-up Data until a code is chosen
    for page in ("/xml/?ext=2102", "/xml/state?ext=2102"):
        screen = gateway.get_text(page)
        assert "Wrap-up Data" in screen and "Log customer call" in screen and "owed?" in screen, screen
    screen = gateway.get_text("/xml/owed?ext=2102&wrapup=9")
    assert "refused" in screen and agents(gateway)["3001"]["wrapup_owed"]
    gateway.get_text("/xml/owed?ext=2102&wrapup=2")
    assert not agents(gateway)["3001"]["wrapup_owed"]
    [given] = journal_records(gateway, "WrapupCodeGiven")
    assert given["user_id"] == "3001" and given["wrapup_code"] == 2
    assert "Change State" in gateway.get_text("/xml/state?ext=2102")  # the screens are back
