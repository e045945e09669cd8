"""Supervisor intervention on routed calls with pyVoIP phones, checked by tones: the caller plays
600 Hz, the agent 1000 Hz, the supervisor 1800 Hz. Monitor and whisper by short code (the
supervisor's phone dials `*45*3000#` / `*46*3000#`), barge-in and intercept over HTTP (the
gateway rings the supervisor's station)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from acdgate.codecs.tone_detector import tone_present
from acdgate.codecs.tones import RECORDING_BEEP
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import register, registered
from pyvoip_parties import (
    answerer,
    answerer_result,
    caller,
    caller_result,
    logon,
    post,
    tone_windows,
    wait_heard,
    wait_logged,
    wait_state,
)
from sipwire import free_port

SUPPORT = Path(__file__).resolve().parents[1] / "support"
CALLER, AGENT, SUPERVISOR = 600.0, 1000.0, 1800.0
HEARD = 30  # windows of 10 ms: at least 0.3 s of the tone
SILENT = 10  # at most this many stray windows (clicks when the media path switches)


@pytest.fixture
def gateway(gateway: GatewayProcess) -> GatewayProcess:
    """The demo-site gateway (conftest) with supervisor 3900 logged on at 2110 and agent 3000
    Ready at 2101."""
    logon(gateway, "2110", "3900", pin="9999", ready=False)
    logon(gateway, "2101", "3000")
    return gateway


def _talking(gw: GatewayProcess) -> int:
    """Wait for agent 3000 to be TALKING; where that log line ends."""
    return wait_state(gw, "3000", "TALKING")


def _joined(gw: GatewayProcess, modes: str, supervisor: subprocess.Popen[str] | None = None) -> None:
    """Wait for supervisor 3900 to be switched into 3000's call (`modes`: a regex), then
    check the agent's status line shows `Mon` (guide "Monitoring/Recording Notification").
    If it never joins, what the supervisor's phone said is in the failure."""
    try:
        wait_logged(gw, rf"\b3900 (?:{modes}) on 3000's call", "the supervisor joined")
    except AssertionError as exc:
        if supervisor is None:
            raise
        supervisor.kill()
        out, err = supervisor.communicate(timeout=10)
        raise AssertionError(f"{exc}\nthe supervisor's phone: {out[-1500:]}\n{err[-3000:]}") from None
    assert "Talking : Mon" in gw.get_text("/xml/stats?ext=2101")


@pytest.mark.parametrize("code", ["*45*3000#", "*46*3000#"])
def test_monitor_and_whisper_by_short_code(gateway: GatewayProcess, code: str) -> None:
    whisper = code.startswith("*46")
    # the agent talks long enough for the supervisor's phone to start, register and dial on a
    # loaded machine (CI once saw it not dial within 7 s; its output is in the failure now)
    agent = answerer(gateway, "2101", AGENT, talk_seconds=12.0)
    call = caller(gateway, "2105", "6000", tone=CALLER)
    _talking(gateway)
    supervisor = caller(gateway, "2110", code, tone=SUPERVISOR, hangup_after=3.0)
    # guide "Monitoring/Recording Notification": Mon on the agent's status line meanwhile
    _joined(gateway, "whisper" if whisper else "monitor", supervisor)
    sup_result, sup_heard = caller_result(supervisor)
    _, agent_heard = answerer_result(agent)
    _, caller_heard = caller_result(call)
    assert sup_result["answered"] and not sup_result["ended_by_far_end"], sup_result
    assert tone_windows(sup_heard, CALLER) >= HEARD, "the supervisor did not hear the caller"
    assert tone_windows(sup_heard, AGENT) >= HEARD, "the supervisor did not hear the agent"
    assert tone_windows(caller_heard, SUPERVISOR) <= SILENT, "the caller heard the supervisor"
    if whisper:
        assert tone_windows(agent_heard, SUPERVISOR) >= HEARD, "the agent did not hear the whisper"
    else:
        assert tone_windows(agent_heard, SUPERVISOR) <= SILENT, "the agent heard the monitoring supervisor"
    # caller and agent heard each other all along, before, during and after the intervention
    assert tone_windows(caller_heard, AGENT) >= 500 and tone_windows(agent_heard, CALLER) >= 500
    assert "Mon" not in gateway.get_text("/xml/stats?ext=2101")


def test_without_the_token_only_the_supervisors_phone_may_act(gateway: GatewayProcess) -> None:
    """Issue 19: with no [http] token (the demo site), a supervisor action is taken only from the
    host the supervisor's station is registered from, not from anyone who names a supervisor."""
    body = {"user": "3900", "station": "2110"}
    status, answer = post(gateway, "/api/agents/3000/monitor", body)  # 2110 is not registered now
    assert status == 403 and "only from the phone registered as station 2110" in answer["error"], answer
    with registered(gateway.sip, "2110"):
        for action in ("monitor", "whisper", "barge", "intercept", "record", "leave"):
            status, answer = post(gateway, f"/api/agents/3000/{action}", body, source="127.0.0.2")
            assert status == 403 and "where user 3900 is logged on" in answer["error"], (action, answer)
        # from the supervisor's phone's host the action goes on (to what the call allows)
        status, answer = post(gateway, "/api/agents/3000/monitor", body)
        assert status == 404 and "not on a routed call" in answer["error"], answer
        # and it still rings only the station the supervisor is logged on at
        status, answer = post(gateway, "/api/agents/3000/monitor", {"user": "3900", "station": "2105"})
        assert status in (403, 404), answer
    wait_logged(gateway, r"supervisor action monitor on 3000 for 3900 refused: from 127\.0\.0\.2", "the refusal")


def test_refused_without_supervisor_rights_or_without_a_call(gateway: GatewayProcess) -> None:
    register(gateway.sip, "2101", "2110")  # the phones, from 127.0.0.1: past the issue-19 check
    status, answer = post(gateway, "/api/agents/3000/monitor", {"user": "3000", "station": "2101"})
    assert status == 403 and "supervisor rights" in answer["error"]
    status, answer = post(gateway, "/api/agents/3000/monitor", {"user": "3900", "station": "2110"})
    assert status == 404 and "not on a routed call" in answer["error"]
    status, answer = post(gateway, "/api/agents/3000/listen", {"user": "3900"})
    assert status == 404


def test_barge_in_then_intercept_over_http(gateway: GatewayProcess) -> None:
    agent = answerer(gateway, "2101", AGENT, talk_seconds=15.0, announce=(SUPERVISOR,))
    call = caller(gateway, "2105", "6000", tone=CALLER, hangup_after=9.0)
    talking = _talking(gateway)
    supervisor = answerer(gateway, "2110", SUPERVISOR, talk_seconds=12.0, announce=(AGENT,))
    status, answer = post(gateway, "/api/agents/3000/barge", {"user": "3900", "station": "2110"})
    assert status == 202, answer
    _joined(gateway, "barge")  # the supervisor's phone answered
    status, answer = post(gateway, "/api/agents/3000/monitor", {"user": "3900", "station": "2110"})
    assert status == 200, answer  # the same supervisor changes mode on the call
    barged = time.monotonic()
    status, answer = post(gateway, "/api/agents/3000/barge", {"user": "3900", "station": "2110"})
    assert status == 200, answer
    # the three-way talk: agent and supervisor each hear the other again after the barge-in
    wait_heard(agent, SUPERVISOR, since=barged)
    wait_heard(supervisor, AGENT, since=barged)
    # then the agent loses the call to the supervisor
    status, answer = post(gateway, "/api/agents/3000/intercept", {"user": "3900", "station": "2110"})
    assert status == 200, answer
    agent_events, agent_heard = answerer_result(agent)
    ended = next(e for e in agent_events if e["event"] == "ended")
    assert ended["hung_up_by_us"] is False, "the agent's leg was not released"
    wait_state(gateway, "3000", "WORK_READY", "READY", since=talking)  # wrap-up
    assert {a["user"]: a for a in gateway.get("/api/agents")}["3000"]["calls_handled"] == 1
    _, caller_heard = caller_result(call)
    _, sup_heard = answerer_result(supervisor)
    assert tone_windows(agent_heard, SUPERVISOR) >= HEARD, "the agent did not hear the barging supervisor"
    assert tone_windows(caller_heard, SUPERVISOR) >= 200, "the caller did not hear the supervisor"
    assert tone_windows(sup_heard, CALLER) >= 200, "the supervisor did not hear the caller"
    assert tone_windows(sup_heard, AGENT) >= HEARD, "the supervisor did not hear the agent while barging"
    assert not [r for r in gateway.get("/api/recordings")]


def test_a_busy_lamp_on_the_supervisors_station_follows_the_monitoring_call(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    """Issue 16: busy lamps from real calls. A BLF key at 2109 watches 2110 (RFC 4235) while
    the gateway rings the supervisor there to monitor agent 3000's call: early, confirmed,
    then terminated when the supervisor hangs up (blf_real_call.xml checks each)."""
    users = tmp_path / "watcher.csv"
    users.write_text("SEQUENTIAL\n2109;[authentication username=2109 password=pw2109];2110\n")
    watcher = subprocess.Popen(
        ["sipp", "-sf", str(SUPPORT / "sipp" / "blf_real_call.xml"), "-inf", str(users), "-i", "127.0.0.1",
         "-p", str(free_port()), "-m", "1", "-timeout", "40s", "-nostdin", "-trace_err",
         "-error_file", str(tmp_path / "watcher_err.log"), f"{gateway.sip[0]}:{gateway.sip[1]}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        wait_logged(gateway, r"2109 subscribed to dialog of 2110", "the BLF key's subscription")
        agent = answerer(gateway, "2101", AGENT, talk_seconds=8.0)
        call = caller(gateway, "2105", "6000", tone=CALLER, hangup_after=7.0)
        _talking(gateway)
        supervisor = answerer(gateway, "2110", SUPERVISOR, talk_seconds=2.0)
        status, answer = post(gateway, "/api/agents/3000/monitor", {"user": "3900", "station": "2110"})
        assert status == 202, answer
        answerer_result(supervisor)
        answerer_result(agent)
        caller_result(call)
        out, _ = watcher.communicate(timeout=40)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    errors = tmp_path / "watcher_err.log"
    assert watcher.returncode == 0, out[-3000:] + (errors.read_text()[-3000:] if errors.exists() else "")


def test_agent_hanging_up_during_barge_in_leaves_caller_and_supervisor_talking(gateway: GatewayProcess) -> None:
    """As on vendor ACDs: the barging supervisor already talks with the caller, so the agent
    leaving does not drop the customer; the supervisor keeps the call and the agent wraps up."""
    agent = answerer(gateway, "2101", AGENT, talk_seconds=4.0)
    call = caller(gateway, "2105", "6000", tone=CALLER, hangup_after=12.0)
    talking = _talking(gateway)
    supervisor = answerer(gateway, "2110", SUPERVISOR, talk_seconds=20.0)
    status, answer = post(gateway, "/api/agents/3000/barge", {"user": "3900", "station": "2110"})
    assert status == 202, answer
    _joined(gateway, "barge")
    wait_logged(gateway, r"\b3000 hung up; 3900 keeps the call", "the supervisor keeping the call", since=talking)
    agent_events, _ = answerer_result(agent)
    assert next(e for e in agent_events if e["event"] == "ended")["hung_up_by_us"] is True
    wait_state(gateway, "3000", "WORK_READY", "READY", since=talking)  # wrap-up as after any call
    result, caller_heard = caller_result(call)
    assert result["ended_by_far_end"] is False, f"the caller was dropped with the agent: {result}"
    sup_events, sup_heard = answerer_result(supervisor)
    assert next(e for e in sup_events if e["event"] == "ended")["hung_up_by_us"] is False, (
        "the supervisor's leg ended before the caller hung up")
    # 4 s of barge-in, then about 6 s of caller and supervisor alone: far more than the barge
    assert tone_windows(caller_heard, SUPERVISOR) >= 500, "the caller stopped hearing the supervisor"
    assert tone_windows(sup_heard, CALLER) >= 500, "the supervisor stopped hearing the caller"
    assert {a["user"]: a for a in gateway.get("/api/agents")}["3000"]["calls_handled"] == 1


def _bursts(samples: np.ndarray, freq: float, min_windows: int = 15) -> int:
    """How many separate bursts of `freq` (each at least `min_windows` 10 ms windows long)."""
    present = tone_present(samples, (freq,), min_ratio=0.0).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], present, [0]))))
    starts, ends = edges[::2], edges[1::2]
    return int(((ends - starts) >= min_windows).sum())


def _supervisor_records(start_gateway: StartGateway, tmp_path: Path, policy: str,
                        talk_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A routed call on a site with `policy` lines (so not the `gateway` fixture's demo site);
    supervisor 3900 starts recording agent 3000's call once it is talking. What the agent and
    the caller heard."""
    site = tmp_path / "site.toml"
    site.write_text(demo_site_text().replace("[policy]\n", "[policy]\n" + policy, 1))
    gw = start_gateway(config=site)
    logon(gw, "2110", "3900", pin="9999", ready=False)
    logon(gw, "2101", "3000")
    agent = answerer(gw, "2101", AGENT, talk_seconds=talk_seconds)
    call = caller(gw, "2105", "6000", tone=CALLER)
    _talking(gw)
    register(gw.sip, "2110")  # the supervisor's phone, from 127.0.0.1 (issue 19)
    status, answer = post(gw, "/api/agents/3000/record", {"user": "3900"})
    assert status == 200, answer
    _, agent_heard = answerer_result(agent)
    _, caller_heard = caller_result(call)
    return agent_heard, caller_heard


def test_notice_beep_repeats_while_the_supervisor_records(start_gateway: StartGateway, tmp_path: Path) -> None:
    agent_heard, caller_heard = _supervisor_records(
        start_gateway, tmp_path, "notice_beep = true\nnotice_beep_every_seconds = 1.5\n", talk_seconds=8.0)
    beep = RECORDING_BEEP.segments[0].freqs[0]
    # recording starts a second or two after the answer and the agent hangs up 8 s after it:
    # the first beep and at least two repeats, 1.5 s apart, each a whole 500 ms beep
    assert _bursts(agent_heard, beep) >= 3, "the agent did not hear the beep repeated"
    # (each switch of the media path may click; a click is no 150 ms burst)
    assert _bursts(caller_heard, beep) == 0, "the caller heard the agent's beeps"
    assert tone_windows(agent_heard, CALLER) >= 300, "the call was not joined again between beeps"


def test_notice_beep_to_the_agent_when_a_supervisor_records(start_gateway: StartGateway, tmp_path: Path) -> None:
    agent_heard, caller_heard = _supervisor_records(start_gateway, tmp_path, "notice_beep = true\n",
                                                    talk_seconds=4.0)
    beep = RECORDING_BEEP.segments[0].freqs[0]
    assert 20 <= tone_windows(agent_heard, beep) <= 60, "the agent did not hear one 500 ms beep"
    assert tone_windows(caller_heard, beep) <= SILENT, "the caller heard the agent's beep"
    assert tone_windows(agent_heard, CALLER) >= 200, "the call was not joined again after the beep"
