"""The parties of a routed call for gateway tests, each a pyVoIP worker process: an agent phone
logged on and Ready (answers one call), a caller, a supervisor; tone checks on what they heard."""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from acdgate.codecs.tone_detector import tone_present
from acdgate.lab.gateway_process import GatewayProcess
from loopback_phone import registered
from sipwire import free_port

SUPPORT = Path(__file__).parent


def pcm(text: str) -> np.ndarray:
    """pyVoIP's unsigned 8-bit audio (base64) as int16."""
    raw = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    return ((raw.astype(np.int16) - 128) << 8).astype(np.int16)


def tone_windows(samples: np.ndarray, freq: float) -> int:
    """In how many 20 ms windows (every 10 ms) `freq` is present, alone or mixed with others."""
    return int(tone_present(samples, (freq,), min_ratio=0.0).sum())


def post(gw: GatewayProcess, path: str, body: dict[str, Any], *, source: str | None = None) -> tuple[int, Any]:
    """POST JSON to the gateway's HTTP API: (status, JSON answer); from the host `source`, when
    given (127.0.0.2: another host of the LAN)."""
    if source is not None:
        conn = http.client.HTTPConnection(gw.info["http"]["host"], int(gw.info["http"]["port"]), timeout=10,
                                          source_address=(source, 0))
        try:
            conn.request("POST", path, body=json.dumps(body).encode(), headers={"content-type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()
    request = urllib.request.Request(gw.http + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def logon(gw: GatewayProcess, station: str, user: str, pin: str = "1234", ready: bool = True) -> None:
    """Log `user` on at `station` through the phone XML service (and make the agent Ready), from
    127.0.0.1 registered as the station meanwhile (issue 19: screens act only from the phone);
    unregistered after, so that calls ring only the pyVoIP phone the test registers later."""
    with registered(gw.sip, station):
        gw.get_text(f"/xml/login?ext={station}&id={user}&pin={pin}")
        if ready:
            gw.get_text(f"/xml/set?ext={station}&to=ready")


def answerer(gw: GatewayProcess, station: str, tone: float, talk_seconds: float = 2.5,
             dial_during: list[str] | None = None, announce: tuple[float, ...] = (),
             timeout: float = 40.0, sip_port: int | None = None) -> subprocess.Popen[str]:
    """A registered pyVoIP phone at `station` that answers one call within `timeout` s and plays
    `tone`; it reports each 0.3 s it hears of a tone in `announce` (`wait_heard`). `sip_port`:
    the one an earlier phone of the station used, so that it takes over that registration."""
    proc = _answerer_process(gw, station, tone, talk_seconds, timeout, sip_port,
                             [arg for item in dial_during or [] for arg in ("--dial-during", item)]
                             + [arg for hz in announce for arg in ("--announce", str(hz))])
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline() or '{"event": "died"}')
    assert first.get("ok") is True, first
    return proc


def dial_then_answer(gw: GatewayProcess, station: str, dial: str, tone: float, talk_seconds: float = 2.5,
                     timeout: float = 40.0) -> subprocess.Popen[str]:
    """A pyVoIP phone at `station` that dials `dial` and waits that call out (at most 15 s), then
    answers one call as `answerer` does; returns at once (read it with `answerer_result`)."""
    return _answerer_process(gw, station, tone, talk_seconds, timeout, None, ["--dial-first", dial])


def _answerer_process(gw: GatewayProcess, station: str, tone: float, talk_seconds: float, timeout: float,
                      sip_port: int | None, more: list[str]) -> subprocess.Popen[str]:
    args = [sys.executable, str(SUPPORT / "pyvoip_answerer.py"), "--server", gw.sip[0], "--port", str(gw.sip[1]),
            "--user", station, "--password", f"pw{station}", "--sip-port", str(sip_port or free_port()),
            "--tone", str(tone), "--talk-seconds", str(talk_seconds), "--timeout", str(timeout), *more]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# What `wait_heard` read of a worker's stdout beyond the line it waited for, by pid: the
# answer to `communicate` comes after it.
_READ_AHEAD: dict[int, bytes] = {}


def wait_heard(proc: subprocess.Popen[str], hz: float, since: float, timeout: float = 10.0) -> None:
    """Wait for an answerer's "heard" event of `hz` stamped after `since` (time.monotonic(),
    one clock for every process on the machine): audio of that tone reached the phone then."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()  # the raw pipe, as communicate() reads it: no buffer in between
    pending = _READ_AHEAD.pop(proc.pid, b"")
    deadline = time.monotonic() + timeout
    try:
        while True:
            lines = pending.split(b"\n")
            for line in lines[:-1]:
                if line.startswith(b"{"):
                    event = json.loads(line)
                    if event.get("event") == "heard" and event["hz"] == hz and event["at"] > since:
                        return
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError(f"no {hz:g} Hz heard within {timeout} s: {pending[-500:]!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"the phone ended before hearing {hz:g} Hz: {pending[-500:]!r}")
            pending += chunk
    finally:
        _READ_AHEAD[proc.pid] = pending  # every line stays for answerer_result


def answerer_result(proc: subprocess.Popen[str]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The phone's events and what it heard."""
    out, err = proc.communicate(timeout=45)
    out = _READ_AHEAD.pop(proc.pid, b"").decode() + out
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    ended = next((e for e in events if e["event"] == "ended"), None)
    assert ended is not None, (events, err[-2000:])
    return events, pcm(str(ended["audio_u8"]))


def caller(gw: GatewayProcess, station: str, dial: str, *, tone: float = 0.0, hangup_after: float = 0.0,
           timeout: float = 20.0) -> subprocess.Popen[str]:
    """A pyVoIP phone at `station` dialling `dial`, playing `tone` for the whole call."""
    return subprocess.Popen(
        [sys.executable, str(SUPPORT / "pyvoip_caller.py"), "--server", gw.sip[0], "--port", str(gw.sip[1]),
         "--user", station, "--password", f"pw{station}", "--sip-port", str(free_port()), "--dial", dial,
         "--tone", str(tone), "--hangup-after", str(hangup_after), "--timeout", str(timeout)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def call_through(gw: GatewayProcess, station: str, dial: str, *options: str) -> tuple[dict[str, Any], np.ndarray]:
    """A whole call from a pyVoIP phone at `station` dialling `dial` (`options`: more of
    pyvoip_caller.py's flags, e.g. ``"--inband", "1234#"``): its result and what it heard."""
    proc = subprocess.run(
        [sys.executable, str(SUPPORT / "pyvoip_caller.py"), "--server", gw.sip[0], "--port", str(gw.sip[1]),
         "--user", station, "--password", f"pw{station}", "--sip-port", str(free_port()), "--dial", dial,
         *options],
        capture_output=True, text=True, timeout=60,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"pyVoIP worker said nothing:\n{proc.stderr[-2000:]}\n{gw.output()[-2000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert "error" not in result, (result, gw.output()[-3000:])
    return result, pcm(str(result.pop("audio_u8")))


def caller_result(proc: subprocess.Popen[str]) -> tuple[dict[str, Any], np.ndarray]:
    out, err = proc.communicate(timeout=45)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, err[-2000:]
    result: dict[str, Any] = json.loads(lines[-1])
    assert "error" not in result, result
    return result, pcm(str(result.pop("audio_u8")))


def wait_logged(gw: GatewayProcess, pattern: str, what: str, timeout: float = 15.0, since: int = 0) -> int:
    """Wait for the gateway to log `pattern` (a regex) after offset `since` of its output;
    where the line ends (a `since` for the next wait). The gateway logs each ACD event once it
    is committed, and each supervisor joining a call once the media is switched: after the
    line, one read of the HTTP API is the assertion."""
    try:
        return gw.wait_for_output(pattern, timeout, since=since).end()
    except AssertionError as exc:
        raise AssertionError(f"timed out ({timeout} s) waiting for {what}: {exc}") from None


def wait_state(gw: GatewayProcess, user: str, *states: str, timeout: float = 15.0, since: int = 0) -> int:
    """Wait for the ACD's log line of `user` entering one of `states` (AgentState names) after
    `since`, then check the HTTP view; where the line ends."""
    names = "|".join(states)
    end = wait_logged(gw, rf"\bStateChanged\([^\n]*\buser_id='{user}'[^\n]*\bnew=<AgentState\.(?:{names}):",
                      f"agent {user} {'/'.join(states)}", timeout, since)
    assert agent_state(gw, user) in states, (user, states, agent_state(gw, user))
    return end


def agent_state(gw: GatewayProcess, user: str) -> str | None:
    row = {a["user"]: a for a in gw.get("/api/agents")}.get(user)
    return str(row["state"]) if row is not None else None
