"""Caller data and busy lamps on real calls (issue 16), against a running gateway.

A SIPp caller at station 2105 dials group 6000 with `X-Account` and an RFC 7433
`User-to-User` header; a pyVoIP phone at 2101 (agent 3000) answers; meanwhile a SIPp busy lamp
key at 2110 watches 2101's dialogs (RFC 4235). The agent's Caller Data screen shows the
group's layout with the headers' data, an integration adds a field through
`POST /api/calls/<id>/data`, both are journaled; the lamp sees early, confirmed, terminated.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from acdgate.gateway.site_loader import demo_site_text
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from pyvoip_parties import answerer, answerer_result, logon, wait_logged, wait_state
from sipwire import free_port

SUPPORT = Path(__file__).resolve().parents[1] / "support"
TOKEN = "callerdata-test-token-0123456789"

SITE = f"""
[http]
token = "{TOKEN}"

[caller_data]
headers = ["X-Account", "User-to-User"]

[[caller_data.layouts]]
name = "Billing"
groups = ["6000"]
fields = [
  {{label = "Caller", key = "CallerName"}},
  {{label = "ANI", key = "ANI"}},
  {{label = "DNIS", key = "DNIS"}},
  {{label = "Account", key = "X-Account"}},
  {{label = "Customer", key = "User-to-User"}},
  {{label = "Order", key = "Order"}},
]
"""


def _post(gw: GatewayProcess, path: str, body: bytes, *, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(gw.http + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _sipp(tmp: Path, scenario: str, gw: GatewayProcess, name: str, fields: list[str], *more: str) -> subprocess.Popen[str]:
    users = tmp / f"users_{name}.csv"
    users.write_text("SEQUENTIAL\n" + ";".join(fields) + "\n")
    args = ["sipp", "-sf", str(SUPPORT / "sipp" / scenario), "-inf", str(users), "-i", "127.0.0.1",
            "-p", str(free_port()), "-m", "1", "-timeout", "60s", "-nostdin", "-trace_err",
            "-error_file", str(tmp / f"errors_{name}.log"), *more, f"{gw.sip[0]}:{gw.sip[1]}"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp)


def _finished(proc: subprocess.Popen[str], tmp: Path, name: str) -> None:
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    errors = tmp / f"errors_{name}.log"
    text = errors.read_text() if errors.exists() else ""
    assert proc.returncode == 0, f"SIPp {name} failed ({proc.returncode}):\n{out[-3000:]}\n{text[-3000:]}"
    assert re.search(r"Successful call\s+\|\s+\d+\s+\|\s+1", out), out[-2000:]


def _auth(station: str) -> str:
    return f"[authentication username={station} password=pw{station}]"


def test_caller_data_reaches_the_screen_api_and_journal_and_the_busy_lamp_follows_the_call(
        start_gateway: StartGateway, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(demo_site_text() + SITE)
    gw = start_gateway(config=config)
    logon(gw, "2101", "3000")
    watcher = _sipp(tmp_path, "blf_real_call.xml", gw, "watcher", ["2110", _auth("2110"), "2101"])
    caller: subprocess.Popen[str] | None = None
    agent: subprocess.Popen[str] | None = None
    try:
        wait_logged(gw, r"2110 subscribed to dialog of 2101", "the busy lamp key's subscription")
        agent = answerer(gw, "2101", 1000.0, talk_seconds=8.0)
        tag = uuid.uuid4().hex
        caller = _sipp(tmp_path, "callerdata_caller.xml", gw, "caller", ["2105", _auth("2105")],
                       "-s", "6000", "-key", "rtp", str(free_port()), "-cid_str", f"cd-{tag}-%u@%s")
        call_id = f"cd-{tag}-1@127.0.0.1"  # SIPp's -cid_str: %u the call number, %s its address
        wait_state(gw, "3000", "TALKING", timeout=30)

        # the Caller Data screen: the group's layout, the headers' data, the caller's name
        screen = gw.get_text("/xml/cdata?ext=2101")
        for line in ("Layout: Billing", "Caller: Ada Lovelace", "ANI: 2105", "DNIS: 6000",
                     "Account: 4711", "Customer: CUST-42"):
            assert line in screen, screen
        assert "Order:" not in screen
        # the home page shows it too (guide: caller data throughout the call)
        assert "Account: 4711" in gw.get_text("/xml/?ext=2101")

        path = f"/api/calls/{quote(call_id, safe='')}/data"
        assert gw.get(f"{path}?token={TOKEN}")["data"]["X-Account"] == "4711"  # reads need it too (issue 19)
        assert _post(gw, path, b'{"Order": "A-17"}', token=None)[0] == 401
        status, answer = _post(gw, path, b'{"Order": "A-17"}')
        assert status == 200 and answer["data"]["Order"] == "A-17" and answer["data"]["X-Account"] == "4711"
        assert "Order: A-17" in gw.get_text("/xml/cdata?ext=2101")
        # refused: unknown call, bodies that are not a flat object of strings, too large, too deep
        assert _post(gw, "/api/calls/nope/data", b'{"a": "b"}')[0] == 404
        for bad in (b"[1]", b'{"a": 1}', b'{"a": {"b": "c"}}', b"not json", b"{}",
                    b'{"a": "' + b"x" * 20000 + b'"}', b"[" * 10000):
            status, answer = _post(gw, path, bad)
            assert status == 400 and "error" in answer, (bad[:40], status, answer)
        # over the site's [http] max_body_bytes (64 KiB): refused by its length, unread (issue 19)
        status, answer = _post(gw, path, b"[" * 100000)
        assert status == 413 and "larger than 65536 bytes" in answer["error"], answer
    finally:
        if caller is not None:
            _finished(caller, tmp_path, "caller")  # the agent hangs up after 8 s: the caller gets BYE
        if agent is not None:
            answerer_result(agent)
        _finished(watcher, tmp_path, "watcher")  # early, confirmed, terminated, then unsubscribed

    records = list(read_journal(gw.state_dir / "acdgate.sqlite3", kinds=["CallDataAdded"]))
    assert [(r["source"], r["call_id"]) for r in records] == [("sip", call_id), ("api", call_id)]
    assert dict(map(tuple, records[0]["fields"])) == {"CallerName": "Ada Lovelace", "X-Account": "4711",
                                                      "User-to-User": "CUST-42"}
    assert dict(map(tuple, records[1]["fields"])) == {"Order": "A-17"}
    try:  # the call has ended: its data is in the journal, no longer served
        gw.get(f"{path}?token={TOKEN}")
        raise AssertionError(f"GET {path} answered after the call ended")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
    with urllib.request.urlopen(gw.http + "/api", timeout=10) as response:
        assert "/api/calls" in json.loads(response.read())["resources"]
