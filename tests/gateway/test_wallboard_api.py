"""The real-time API of a running `acdgate run` over real HTTP on loopback: `GET /api/events`
(a snapshot, then deltas as an agent logs on through the phone XML service and a SIP short
code; resuming with Last-Event-ID), `GET /wallboard`, and the supervisor actions on agents
(`POST /api/agents/<user>/logout|not-ready|ready|groups/<group>`) with and without the
`[http] token`, journaled with who asked."""

from __future__ import annotations

import http.client
import json
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acdgate.gateway.site_loader import demo_site_text
from acdgate.gateway.storage.store import DB_NAME
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import register
from sipp_agents import SippCaller, SippRunner
from sipp_scenarios import run_feature_call
from sse_client import Message, SseClient


def request(gw: GatewayProcess, method: str, path: str, body: object = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, JSON or text body)."""
    conn = http.client.HTTPConnection(gw.info["http"]["host"], int(gw.info["http"]["port"]), timeout=10)
    try:
        data = (body if isinstance(body, bytes) else json.dumps(body).encode()) if body is not None else None
        conn.request(method, path, body=data, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
        if (response.getheader("content-type") or "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw.decode()
    finally:
        conn.close()


def stream(gw: GatewayProcess, path: str = "/api/events", headers: dict[str, str] | None = None) -> SseClient:
    return SseClient(gw.info["http"]["host"], int(gw.info["http"]["port"]), path, headers=headers)


def agent_is(user: str, state: str) -> Any:
    return lambda m: m.event == "agent" and m.data["user"] == user and m.data["state"] == state


def journal(gw: GatewayProcess, kind: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(gw.state_dir / DB_NAME)
    try:
        return [json.loads(d) for (d,) in db.execute("SELECT data FROM journal WHERE kind = ? ORDER BY seq", (kind,))]
    finally:
        db.close()


def test_snapshot_then_deltas_as_agents_log_on_by_xml_and_short_code(gateway: GatewayProcess,
                                                                     tmp_path: Path) -> None:
    register(gateway.sip, "2101")  # the phone of 2101, from 127.0.0.1: its screens may log on (issue 19)
    client = stream(gateway)
    try:
        assert client.status == 200
        assert client.headers["content-type"].startswith("text/event-stream")
        snap = client.next()
        assert snap.event == "snapshot" and snap.id is not None
        assert snap.data["agents"] == []
        assert [g["number"] for g in snap.data["groups"]] == ["6000", "6001", "6002", "6003", "6500"]
        sales = snap.data["groups"][0]
        assert sales["waiting"] == 0 and sales["oldest_enqueued_at"] is None and sales["service_level"] is None
        everyone = snap.data["groups"][3]  # collective: not reported on (IP Office group mode)
        assert everyone["reported"] is False and everyone["answered"] is None

        gateway.get_text("/xml/login?ext=2101&id=3000&pin=1234")
        seen = client.until(agent_is("3000", "not-ready"))
        row = seen[-1].data
        assert row["station"] == "2101" and row["name"] and row["calls_handled_today"] == 0
        groups = client.until(lambda m: m.event == "group" and m.data["number"] == "6000")
        assert groups[-1].data["agents"]["not-ready"] == 1
        gateway.get_text("/xml/set?ext=2101&to=ready")
        client.until(agent_is("3000", "ready"))

        # a SIP short code (SIPp, digest-authenticated INVITE) from station 2102 logs 3001 on
        result = run_feature_call(tmp_path, gateway.sip, "2102", "*35*3001*1234#", answered=True)
        assert result.status == 200
        client.until(agent_is("3001", "not-ready"))
        ids = [int(m.id) for m in seen if m.id is not None]
        assert ids == sorted(ids) and int(snap.id) < ids[0]
    finally:
        client.close()


def test_resume_with_last_event_id(gateway: GatewayProcess) -> None:
    register(gateway.sip, "2101")  # the phone of 2101, from 127.0.0.1: its screens may log on (issue 19)
    first = stream(gateway)
    try:
        first.next()  # snapshot
        gateway.get_text("/xml/login?ext=2101&id=3000&pin=1234")
        logged_on = first.until(agent_is("3000", "not-ready"))[-1]
    finally:
        first.close()
    # while no stream is open: Ready, then Not Ready with reason 1
    gateway.get_text("/xml/set?ext=2101&to=ready")
    status, _ = request(gateway, "POST", "/api/agents/3000/not-ready", {"reason": 1})
    assert status == 200
    again = stream(gateway, headers={"Last-Event-ID": str(logged_on.id)})
    try:
        missed = again.until(lambda m: m.event == "agent" and m.data["reason"] == "Break")
        assert all(m.event != "snapshot" for m in missed)  # only what it missed
        assert [m.data["state"] for m in missed if m.event == "agent"] == ["ready", "not-ready"]
        # nothing skipped: the first is the one after the last seen (the logon's group rows)
        assert int(missed[0].id) == int(logged_on.id) + 1 and missed[0].event == "group"
    finally:
        again.close()
    # an id the ring does not hold (or from another run): a fresh snapshot
    stale = stream(gateway, headers={"Last-Event-ID": "17"})
    try:
        snap = stale.next()
        assert snap.event == "snapshot"
        assert [(a["user"], a["state"], a["reason"]) for a in snap.data["agents"]] == [("3000", "not-ready", "Break")]
    finally:
        stale.close()


def test_actions_and_their_refusals(gateway: GatewayProcess) -> None:
    register(gateway.sip, "2101")  # the phone of 2101, from 127.0.0.1: its screens may log on (issue 19)
    assert request(gateway, "POST", "/api/agents/3000/ready", {}) == (409, {"error": "not logged in", "by": "api"})
    gateway.get_text("/xml/login?ext=2101&id=3000&pin=1234")
    assert request(gateway, "POST", "/api/agents/3000/ready", {}) == (
        200, {"result": "done", "state": "ready", "by": "api"})
    # logout only from Not Ready (the guide)
    assert request(gateway, "POST", "/api/agents/3000/logout", {}) == (
        409, {"error": "logout not allowed in ready", "by": "api"})
    assert request(gateway, "POST", "/api/agents/3000/not-ready", {"reason": 2})[0] == 200
    assert request(gateway, "POST", "/api/agents/3000/groups/6000", {"enabled": False}) == (
        200, {"result": "done", "group": "6000", "enabled": False, "by": "api"})
    assert request(gateway, "GET", "/api/agents")[1][0]["state"] == "NOT_READY"
    assert request(gateway, "POST", "/api/agents/3000/logout", {}) == (
        200, {"result": "done", "state": "logged-out", "by": "api"})
    # unknown agent or group: 404; a bad body: 400
    assert request(gateway, "POST", "/api/agents/3999/ready", {}) == (404, {"error": "no agent 3999"})
    assert request(gateway, "POST", "/api/agents/3000/groups/6999", {"enabled": True}) == (
        404, {"error": "no group 6999"})
    assert request(gateway, "POST", "/api/agents/3000/groups/6000", {"enabled": "yes"}) == (
        400, {"error": 'the body needs "enabled": true or false'})
    assert request(gateway, "POST", "/api/agents/3000/not-ready", {"reason": 9}) == (
        400, {"error": "unknown Not Ready reason 9 (the site lists 1, 2, 3)"})
    assert request(gateway, "POST", "/api/agents/3000/ready", b"not json") == (400, {"error": "the body is not JSON"})
    acted = journal(gateway, "SupervisorActed")
    assert [(r["by"], r["user_id"], r["action"], r["status"]) for r in acted] == [
        ("api", "3000", "ready", 409), ("api", "3000", "ready", 200), ("api", "3000", "logout", 409),
        ("api", "3000", "not-ready", 200), ("api", "3000", "group-disable", 200), ("api", "3000", "logout", 200),
    ]
    assert acted[3]["reason_code"] == 2 and acted[4]["group"] == "6000"


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def guarded(start_gateway: StartGateway, tmp_path: Path, token: str) -> Iterator[GatewayProcess]:
    """This module's gateway with `[http] token` and a holder name set."""
    site = tmp_path / "site.toml"
    site.write_text(demo_site_text() + f'\n[http]\ntoken = "{token}"\ntoken_holder = "Sam Supervisor"\n')
    yield start_gateway(config=site)


def test_the_token_guards_the_actions_the_stream_and_the_page(guarded: GatewayProcess, token: str) -> None:
    register(guarded.sip, "2101")  # the phone of 2101, from 127.0.0.1: its screens may log on (issue 19)
    guarded.get_text("/xml/login?ext=2101&id=3000&pin=1234")
    assert request(guarded, "POST", "/api/agents/3000/ready", {}) == (401, {"error": "missing bearer token"})
    auth = {"Authorization": f"Bearer {token}"}
    assert request(guarded, "POST", "/api/agents/3000/ready", {}, auth) == (
        200, {"result": "done", "state": "ready", "by": "Sam Supervisor"})
    assert journal(guarded, "SupervisorActed")[0]["by"] == "Sam Supervisor"
    # the page and the stream are GETs, but show the centre live: they need the token too
    for path in ("/wallboard", "/api/events", f"/wallboard?token={token}x", "/api/events?token=wrong"):
        status, answer = request(guarded, "GET", path)
        assert status == 401 and answer["error"] in ("missing bearer token", "wrong token"), path
    status, page = request(guarded, "GET", f"/wallboard?token={token}")
    assert status == 200 and "<title>Wallboard - demo</title>" in page
    assert request(guarded, "GET", "/wallboard", headers=auth)[0] == 200
    for client in (stream(guarded, f"/api/events?token={token}"), stream(guarded, headers=auth)):
        try:
            first: Message = client.next()
            assert first.event == "snapshot" and first.data["agents"][0]["state"] == "ready"
        finally:
            client.close()
    # issue 19: so do the other views that list who is where; the API's index stays open
    assert request(guarded, "GET", "/api/groups")[0] == 401
    assert request(guarded, "GET", "/api/groups", headers=auth)[0] == 200
    assert request(guarded, "GET", "/api")[0] == 200


def test_a_restart_keeps_the_days_figures(start_gateway: StartGateway, tmp_path: Path) -> None:
    gw = start_gateway()
    runner = SippRunner([], "127.0.0.1", gw.sip, tmp_path)
    caller = SippCaller(runner, "restart", "2105", "6000", hold_ms=1000).start()  # nobody Ready: it waits
    try:
        assert caller.wait(timeout=30) == "CALLER-BYE"
    finally:
        caller.stop()
    gw.wait_for_output(r"CallAbandoned\(.*group='6000'")
    client = stream(gw)
    try:
        before = client.next().data["groups"][0]
    finally:
        client.close()
    assert (before["offered"], before["abandoned"]) == (1, 1)
    gw.stop()
    again = start_gateway()  # the same state directory: the day's records are read back
    client = stream(again)
    try:
        after = client.next().data["groups"][0]
    finally:
        client.close()
    assert {k: after[k] for k in ("offered", "answered", "abandoned", "service_level")} == {
        "offered": 1, "answered": 0, "abandoned": 1, "service_level": None}  # a short abandon: no level
