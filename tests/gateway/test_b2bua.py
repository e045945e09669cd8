"""B2BUA call control: re-INVITE/UPDATE hold and resume from either party (SIPp, SDP checked,
music on hold heard), session timers (sans-IO clock, SIPp headers, 422), CANCEL while ringing,
REFER blind transfer with its NOTIFYs, and the journal's per-leg CallMediaStats."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from acdgate.codecs import g711
from acdgate.codecs.g711 import Law
from acdgate.codecs.tone_detector import detect_tone
from acdgate.gateway.legs.session_timer import (
    Refresher,
    SessionExpires,
    SessionTimer,
    TimerAction,
    TooSmall,
    negotiate,
)
from acdgate.gateway.site_loader import demo_site_text
from acdgate.gateway.storage.store import StateStore
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import registered
from sipwire import free_port

SIPP = Path(__file__).parent.parent / "support" / "sipp"
MOH_HZ = 440.0

# -- session timers, sans-IO (fake clock: plain floats) -----------------------------------


def test_negotiation_answers_prefers_uac_and_refuses_small_intervals() -> None:
    assert negotiate(None, None, None) is None  # no timer offered: none used
    assert negotiate("timer", "90", "90") == SessionExpires(90, Refresher.UAC)  # prefer uac
    assert negotiate("timer", "90;refresher=uas", None) == SessionExpires(90, Refresher.UAS)
    assert negotiate(None, "120", None) == SessionExpires(120, Refresher.UAS)  # UAC lacks timer
    assert negotiate("timer", "60", None) == TooSmall(90)  # RFC 4028 8.1.1: 422 Min-SE: 90
    assert negotiate("timer", None, None) == SessionExpires(1800, Refresher.UAC)


def test_refresher_refreshes_at_half_the_interval_and_expires_when_refresh_gets_no_answer() -> None:
    timer = SessionTimer.for_uas(SessionExpires(90, Refresher.UAS), now=100.0)
    assert timer.deadline() == 145.0
    assert timer.handle_timer(144.9) is None
    assert timer.handle_timer(145.0) is TimerAction.REFRESH
    timer.refreshed(146.0)  # the refresh's 2xx
    assert timer.handle_timer(190.9) is None and timer.handle_timer(191.0) is TimerAction.REFRESH
    # this refresh is never answered: BYE at interval - min(32, interval/3) after the last one
    assert timer.deadline() == 146.0 + 90 - 30
    assert timer.handle_timer(205.9) is None
    assert timer.handle_timer(206.0) is TimerAction.EXPIRE
    assert timer.deadline() is None


def test_non_refresher_expires_without_refresh_and_a_refresh_restarts_the_clock() -> None:
    timer = SessionTimer.for_uas(SessionExpires(90, Refresher.UAC), now=0.0)
    assert timer.handle_timer(45.0) is None  # the phone refreshes, not us
    timer.refreshed(50.0)
    assert timer.handle_timer(109.9) is None
    assert timer.handle_timer(110.0) is TimerAction.EXPIRE
    long = SessionTimer.for_uac(SessionExpires(1800, Refresher.UAC), now=0.0)
    assert long.deadline() == 900.0
    long.we_refresh = False
    assert long.deadline() == 1800 - 32  # min(32, interval/3)


# -- SIPp against a running gateway -------------------------------------------------------


def _write_moh(path: Path) -> None:
    t = np.arange(8000) / 8000.0
    samples = (8000 * np.sin(2 * np.pi * MOH_HZ * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """Not the demo site as it is: these tests hear music on hold, so the site names a file of
    it (a MOH_HZ tone)."""
    _write_moh(tmp_path / "moh.wav")
    site = tmp_path / "site.toml"
    site.write_text(demo_site_text().replace("[policy]\n", '[policy]\nmusic_on_hold = "moh.wav"\n', 1))
    return start_gateway(config=site)


def _sipp_args(tmp: Path, name: str, scenario: str, station: str, port: int, keys: dict[str, str]) -> list[str]:
    users = tmp / f"user_{station}.csv"
    users.write_text(f"SEQUENTIAL\n{station};[authentication username={station} password=pw{station}]\n")
    text = (SIPP / scenario).read_text()
    for key, value in keys.items():  # SIPp's -key does not reach <pause>: substitute here
        text = text.replace(f"[{key}]", value)
    (tmp / f"{name}.xml").write_text(text)
    return ["sipp", "-sf", str(tmp / f"{name}.xml"), "-inf", str(users), "-i", "127.0.0.1", "-p", str(port),
            "-m", "1", "-timeout", "25s", "-nostdin", "-trace_msg", "-message_file", str(tmp / f"{name}.log"),
            "-trace_err", "-error_file", str(tmp / f"{name}_err.log")]


def _register(gw: GatewayProcess, tmp: Path, station: str, port: int) -> None:
    args = _sipp_args(tmp, f"reg_{station}", "register_auth.xml", station, port, {})
    proc = subprocess.run([*args, f"{gw.sip[0]}:{gw.sip[1]}"], capture_output=True, text=True, timeout=30, cwd=tmp)
    assert proc.returncode == 0, proc.stdout[-1500:]


class Uas:
    """A SIPp station registered at `port` and running a server scenario there."""

    def __init__(self, gw: GatewayProcess, tmp: Path, station: str, scenario: str, keys: dict[str, str]) -> None:
        self.tmp, self.name = tmp, f"uas_{station}"
        port = free_port()
        _register(gw, tmp, station, port)
        args = _sipp_args(tmp, self.name, scenario, station, port, keys)
        self.proc = subprocess.Popen([*args, "-s", station], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=tmp)

    def finish(self) -> str:
        out, _ = self.proc.communicate(timeout=40)
        log = (self.tmp / f"{self.name}.log").read_text(errors="replace")
        assert self.proc.returncode == 0, out[-1500:] + _read(self.tmp / f"{self.name}_err.log")
        return log

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            self.proc.communicate()


def _read(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _caller(gw: GatewayProcess, tmp: Path, dialled: str, scenario: str, keys: dict[str, str],
            station: str = "2101") -> str:
    args = _sipp_args(tmp, "caller", scenario, station, free_port(), keys)
    proc = subprocess.run([*args, "-s", dialled, f"{gw.sip[0]}:{gw.sip[1]}"], capture_output=True, text=True,
                          timeout=40, cwd=tmp)
    log = _read(tmp / "caller.log") if proc.returncode else (tmp / "caller.log").read_text(errors="replace")
    assert proc.returncode == 0, (proc.stdout[-1500:], log, _read(tmp / "caller_err.log"), gw.output()[-3000:])
    return log


class RtpSink:
    """A UDP socket standing in for a phone's RTP port: keeps every payload it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.packets: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.packets.append(self.sock.recv(2048))
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def audio(self) -> np.ndarray:
        parts = [g711.decode(Law.ULAW if p[1] & 0x7F == 0 else Law.ALAW, p[12:])
                 for p in self.packets if p[1] & 0x7F in (0, 8)]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)


def _responses(log: str, method: str, cseq: int, status: int = 200) -> list[str]:
    """Messages SIPp received (its message log) that are `status` responses to `cseq method`."""
    chunks = re.split(r"\n(?=-{10,}|\S.*message (?:sent|received))", log)
    return [c for c in chunks if "message received" in c and re.search(rf"^SIP/2\.0 {status} ", c, re.M)
            and re.search(rf"^CSeq:\s*{cseq} {method}", c, re.M | re.I)]


def _sdp_version(message: str) -> int:
    match = re.search(r"^o=\S+ \d+ (\d+) ", message, re.M)
    assert match, message
    return int(match.group(1))


def test_hold_and_resume_from_both_parties_with_music_on_hold_update_and_session_timer(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    caller_rtp, callee_rtp = RtpSink(), RtpSink()
    callee = Uas(gateway, tmp_path, "2102", "b2bua_callee.xml",
                 {"rtp": str(callee_rtp.port), "hold_at": "2500", "held_for": "1500"})
    try:
        log = _caller(gateway, tmp_path, "2102", "b2bua_caller.xml",
                      {"rtp": str(caller_rtp.port), "se": "90", "hold_at": "300", "held_for": "1200",
                       "wait": "3500"})
        callee_log = callee.finish()
    finally:
        callee.kill()
        caller_rtp.close()
        callee_rtp.close()
        gateway.stop()
    answer = _responses(log, "INVITE", 2)[0]
    assert re.search(r"^Session-Expires:\s*90;refresher=uac", answer, re.M | re.I), answer
    assert re.search(r"^Require:\s*timer", answer, re.M | re.I), answer
    hold, resume = _responses(log, "INVITE", 3)[0], _responses(log, "INVITE", 4)[0]
    update = _responses(log, "UPDATE", 5)[0]
    assert "a=recvonly" in hold and "a=sendrecv" in resume, (hold, resume)
    v0 = _sdp_version(answer)
    assert [_sdp_version(m) for m in (hold, resume, update)] == [v0 + 1, v0 + 2, v0 + 3]
    assert re.search(r"^m=audio \d+ RTP/AVP 8\b", update, re.M), update  # the UPDATE moved to PCMA
    assert re.search(r"^Session-Expires:\s*90", update, re.M | re.I), update
    agent_hold = _responses(callee_log, "INVITE", 1)[0]
    agent_resume = _responses(callee_log, "INVITE", 2)[0]
    assert "a=recvonly" in agent_hold and "a=sendrecv" in agent_resume
    assert _sdp_version(agent_resume) == _sdp_version(agent_hold) + 1
    # each party heard the site's music while the other one held
    assert detect_tone(caller_rtp.audio(), (MOH_HZ,), min_duration_ms=500), len(caller_rtp.packets)
    assert detect_tone(callee_rtp.audio(), (MOH_HZ,), min_duration_ms=500), len(callee_rtp.packets)
    store = StateStore(tmp_path / "state")
    try:
        stats = list(store.journal(kinds=["CallMediaStats"]))
    finally:
        store.close()
    legs = {r["leg"]: r for r in stats}
    assert set(legs) == {"caller", "callee"}, stats
    assert legs["caller"]["station"] == "2101" and legs["callee"]["station"] == "2102"
    assert legs["caller"]["codec"] == "PCMA" and legs["callee"]["codec"] == "PCMU"
    assert legs["caller"]["packets_sent"] >= 50 and legs["callee"]["packets_sent"] >= 50  # music on hold
    assert all(r["call_id"] == stats[0]["call_id"] for r in stats)
    assert {"packets_received", "packets_lost", "jitter_ms"} <= set(legs["caller"])


def test_session_interval_below_min_se_is_refused_with_422(gateway: GatewayProcess, tmp_path: Path) -> None:
    log = _caller(gateway, tmp_path, "2102", "b2bua_422.xml", {"rtp": "4000", "se": "60"})
    refusal = _responses(log, "INVITE", 2, 422)[0]
    assert re.search(r"^Min-SE:\s*90\s*$", refusal, re.M | re.I), refusal


def test_caller_cancel_while_ringing_reaches_the_callee(gateway: GatewayProcess, tmp_path: Path) -> None:
    callee = Uas(gateway, tmp_path, "2102", "b2bua_ringing.xml", {"rtp": "4002"})
    try:
        log = _caller(gateway, tmp_path, "2102", "b2bua_cancel_caller.xml", {"rtp": "4000", "se": "1800"})
        callee_log = callee.finish()  # its scenario only ends after the gateway's CANCEL
    finally:
        callee.kill()
    assert _responses(log, "INVITE", 2, 487)
    assert re.search(r"^CANCEL sip:", callee_log, re.M)


def test_refer_blind_transfer_notifies_bridges_the_caller_to_the_target_and_releases_the_agent(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    target = Uas(gateway, tmp_path, "2103", "b2bua_target.xml", {"rtp": "4004"})
    agent = Uas(gateway, tmp_path, "2102", "b2bua_referrer.xml",
                {"rtp": "4002", "refer_at": "500", "refer_to": "2103"})
    try:
        _caller(gateway, tmp_path, "2102", "b2bua_plain_caller.xml", {"rtp": "4000", "se": "1800", "wait": "3000"})
        agent_log = agent.finish()
        target_log = target.finish()  # answered the transfer and got the BYE when the caller hung up
    finally:
        agent.kill()
        target.kill()
        gateway.stop()
    notifies = [c for c in re.split(r"\n(?=-{10,}|\S.*message (?:sent|received))", agent_log)
                if re.search(r"^NOTIFY ", c, re.M)]
    assert len(notifies) == 2, agent_log[-3000:]
    assert "SIP/2.0 100 Trying" in notifies[0] and re.search(r"Subscription-State:\s*active", notifies[0])
    assert "SIP/2.0 200 OK" in notifies[1] and re.search(r"Subscription-State:\s*terminated", notifies[1])
    assert all("message/sipfrag" in n and re.search(r"^Event:\s*refer", n, re.M) for n in notifies)
    assert re.search(r"^Referred-By: <sip:2102@", target_log, re.M)
    store = StateStore(tmp_path / "state")
    try:
        stats = list(store.journal(kinds=["CallMediaStats"]))
        transfers = list(store.journal(kinds=["CallTransferred"]))
    finally:
        store.close()
    assert sorted(r["leg"] for r in stats) == ["agent", "caller", "transfer-target"], stats
    assert {r["station"] for r in stats} == {"2101", "2102", "2103"}
    # journaled for the reports' transfers per agent (issue 17)
    assert [(r["station"], r["target"], r["dialled"]) for r in transfers] == [("2102", "2103", "2103")]


def test_a_busy_lamp_on_the_transfer_target_sees_the_transferred_call_ring_answer_and_end(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    """Issue 16: busy lamps from real calls; a blind transfer rings 2103, which a BLF key at
    2110 watches (RFC 4235): early, confirmed, terminated (blf_real_call.xml checks each)."""
    users = tmp_path / "watcher.csv"
    users.write_text("SEQUENTIAL\n2110;[authentication username=2110 password=pw2110];2103\n")
    watcher = subprocess.Popen(
        ["sipp", "-sf", str(SIPP / "blf_real_call.xml"), "-inf", str(users), "-i", "127.0.0.1",
         "-p", str(free_port()), "-m", "1", "-timeout", "40s", "-nostdin", "-trace_err",
         "-error_file", str(tmp_path / "watcher_err.log"), f"{gateway.sip[0]}:{gateway.sip[1]}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    target = agent = None
    try:
        gateway.wait_for_output(r"2110 subscribed to dialog of 2103")
        target = Uas(gateway, tmp_path, "2103", "b2bua_target.xml", {"rtp": "4014"})
        agent = Uas(gateway, tmp_path, "2102", "b2bua_referrer.xml",
                    {"rtp": "4012", "refer_at": "500", "refer_to": "2103"})
        _caller(gateway, tmp_path, "2102", "b2bua_plain_caller.xml", {"rtp": "4010", "se": "1800", "wait": "3000"})
        agent.finish()
        target.finish()
        out, _ = watcher.communicate(timeout=40)
    finally:
        for uas in (agent, target):
            if uas is not None:
                uas.kill()
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, out[-3000:] + _read(tmp_path / "watcher_err.log")


def test_a_hold_music_file_in_the_wrong_format_stops_start_up_naming_file_key_and_reason(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "stereo.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\0\0\0\0" * 4410)
    site = tmp_path / "site.toml"
    site.write_text(demo_site_text().replace("[policy]\n", '[policy]\nmusic_on_hold = "stereo.wav"\n', 1))
    gw = GatewayProcess(tmp_path / "state", config=site)
    with pytest.raises(AssertionError, match="gateway exited") as failed:
        gw.start()
    message = str(failed.value)
    assert str(site) in message and "policy.music_on_hold" in message and "need 8000 Hz mono 16-bit" in message


def test_a_call_transferred_to_an_agent_is_followed_by_the_acd(gateway: GatewayProcess, tmp_path: Path) -> None:
    """The ACD tracks a blind transfer to a station where an agent is logged on as a direct
    call there: the agent is reserved while it rings, talking once answered, and after the call
    wraps up as usual; no queued call is offered to it meanwhile."""
    with registered(gateway.sip, "2103"):  # from 127.0.0.1 as 2103's phone (issue 19); SIPp's rings
        gateway.get_text("/xml/login?ext=2103&id=3001&pin=1234")
        gateway.get_text("/xml/set?ext=2103&to=ready")
    target = Uas(gateway, tmp_path, "2103", "b2bua_target.xml", {"rtp": "4004"})
    agent = Uas(gateway, tmp_path, "2102", "b2bua_referrer.xml",
                {"rtp": "4002", "refer_at": "500", "refer_to": "2103"})
    try:
        _caller(gateway, tmp_path, "2102", "b2bua_plain_caller.xml", {"rtp": "4000", "se": "1800", "wait": "3000"})
        agent.finish()
        target.finish()
    finally:
        agent.kill()
        target.kill()
        gateway.stop()
    store = StateStore(tmp_path / "state")
    try:
        changes = [(r["old"], r["new"]) for r in store.journal(kinds=["StateChanged"]) if r["user_id"] == "3001"]
        rejected = [r for r in store.journal(kinds=["CommandRejected"])]
    finally:
        store.close()
    states = [new for _, new in changes]
    assert states[:2] == ["not-ready", "ready"], changes
    assert states[2:4] == ["reserved", "talking"], f"the transfer was not followed: {changes}"
    assert states[4:] in (["ready"], ["work-ready"], ["work-ready", "ready"]), f"no wrap-up after the call: {changes}"
    assert not rejected, rejected
