"""Feature levels and the Rec/Mon notification setting, end to end with pyVoIP phones (guide
"IP Phone Agent Feature Levels", "Agent-Initiated Recording", "Monitoring/Recording
Notification"). The site is Standard, agent 3001 Premium: a Standard agent's `*43` gets the
error tone, its phone no Option key, a supervisor's recording of its call is refused, each
refusal journaled; a Premium agent's `*43` records. Then each `agent_notice` setting shows
what it should on the agent's status line while a supervisor records and monitors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acdgate.codecs.tone_detector import detect_tone
from acdgate.gateway.site_loader import demo_site_text
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import register
from pyvoip_parties import (
    answerer,
    answerer_result,
    caller,
    caller_result,
    logon,
    post,
    wait_logged,
    wait_state,
)
from test_feature_calls import CONFIRM, ERROR, RtpSink, dial, feature_journal

AGENT, CALLER, SUPERVISOR = 1000.0, 600.0, 1800.0
REFUSAL = "Agent-initiated recording is not in the Standard feature level"


def site_file(path: Path, policy: str) -> Path:
    text = demo_site_text()
    text = text.replace("[policy]\n", "[policy]\n" + policy, 1)
    old = '[[users]]\nid = "3001"\n'
    assert old in text
    path.write_text(text.replace(old, f'{old}feature_level = "premium"\n'))
    return path


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """A Standard site with 3001 Premium (not the demo site, which is all Premium)."""
    return start_gateway(config=site_file(tmp_path / "site.toml", 'feature_level = "standard"\n'))


@pytest.fixture
def sink() -> Iterator[RtpSink]:
    s = RtpSink()
    yield s
    s.close()


def journal(gw: GatewayProcess, kind: str) -> list[dict[str, Any]]:
    return list(read_journal(gw.state_dir / "acdgate.sqlite3", kinds=[kind]))


def prompt(gw: GatewayProcess, ext: str) -> str:
    """The status line of the agent's Skill Stats screen (the Cisco `<Prompt>`)."""
    match = re.search(r"<Prompt>([^<]*)</Prompt>", gw.get_text(f"/xml/stats?ext={ext}"))
    assert match is not None
    return match.group(1)


@pytest.mark.slow
def test_a_standard_agent_may_not_record(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    logon(gateway, "2110", "3900", pin="9999", ready=False)
    logon(gateway, "2101", "3000")
    agent = answerer(gateway, "2101", AGENT, talk_seconds=10.0)
    call = caller(gateway, "2105", "6000", tone=CALLER)
    wait_state(gateway, "3000", "TALKING")
    # the phone: no Option key on a call, and the record page refuses with the reason
    stats = gateway.get_text("/xml/stats?ext=2101")
    assert "<Name>Update</Name>" in stats and "<Name>Option</Name>" not in stats
    refused = gateway.get_text("/xml/record?ext=2101&on=1")
    assert "Recording is not in your feature level (Standard)." in refused
    # the short code: the error tone, the reason in the journal
    assert dial(gateway, tmp_path, sink, "2101", "*43") == 200
    audio = sink.audio()
    assert detect_tone(audio, ERROR) and not detect_tone(audio, CONFIRM)
    assert feature_journal(gateway)[-1] == ("*43", REFUSAL, 409)
    # a supervisor's recording of a Standard agent's call
    register(gateway.sip, "2110")  # the supervisor's phone, from 127.0.0.1 (issue 19)
    status, answer = post(gateway, "/api/agents/3000/record", {"user": "3900"})
    assert status == 403 and answer["error"] == "Supervisor-initiated recording is not in the Standard feature level"
    answerer_result(agent)
    caller_result(call)
    assert [(r["user_id"], r["by"], r["feature"], r["level"]) for r in journal(gateway, "FeatureLevelRefused")] == [
        ("3000", "3000", "agent-initiated recording", "standard"),  # the phone's record page
        ("3000", "3000", "agent-initiated recording", "standard"),  # *43
        ("3000", "3900", "supervisor-initiated recording", "standard"),
    ]
    assert journal(gateway, "RecordingStarted") == []
    assert gateway.get("/api/recordings") == []


@pytest.mark.slow
def test_a_premium_agent_records(gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    logon(gateway, "2102", "3001")
    agent = answerer(gateway, "2102", AGENT, talk_seconds=6.0)
    call = caller(gateway, "2105", "6000", tone=CALLER)
    wait_state(gateway, "3001", "TALKING")
    assert "<Name>Option</Name>" in gateway.get_text("/xml/stats?ext=2102")
    assert dial(gateway, tmp_path, sink, "2102", "*43") == 200
    audio = sink.audio()
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    assert feature_journal(gateway)[-1] == ("*43", "Recording started", 200)
    assert prompt(gateway, "2102") == "Talking : Rec"
    answerer_result(agent)
    caller_result(call)
    assert [(r["user_id"], r["by"]) for r in journal(gateway, "RecordingStarted")] == [("3001", "3001")]
    assert journal(gateway, "FeatureLevelRefused") == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("notice", "recorded", "both"),
    [("none", "Talking", "Talking"), ("recording", "Talking : Rec", "Talking : Rec"),
     ("monitoring", "Talking", "Talking : Mon"), ("both", "Talking : Rec", "Talking : Rec/Mon")],
)
def test_the_notification_setting(start_gateway: StartGateway, tmp_path: Path,
                                  notice: str, recorded: str, both: str) -> None:
    """Supervisor 3900 records agent 3000's call over HTTP, then monitors it by `*45*3000#`;
    the agent's status line after each, per `[policy] agent_notice`."""
    gw = start_gateway(config=site_file(tmp_path / "site.toml", f'agent_notice = "{notice}"\n'))
    logon(gw, "2110", "3900", pin="9999", ready=False)
    logon(gw, "2101", "3000")
    agent = answerer(gw, "2101", AGENT, talk_seconds=12.0)
    call = caller(gw, "2105", "6000", tone=CALLER)
    wait_state(gw, "3000", "TALKING")
    assert prompt(gw, "2101") == "Talking"
    register(gw.sip, "2110")  # the supervisor's phone, from 127.0.0.1 (issue 19)
    status, answer = post(gw, "/api/agents/3000/record", {"user": "3900"})  # the demo site: Premium
    assert status == 200, answer
    assert prompt(gw, "2101") == recorded
    supervisor = caller(gw, "2110", "*45*3000#", tone=SUPERVISOR, hangup_after=3.0)
    wait_logged(gw, r"\b3900 monitor on 3000's call", "the supervisor joined")
    assert prompt(gw, "2101") == both
    caller_result(supervisor)
    answerer_result(agent)
    caller_result(call)
