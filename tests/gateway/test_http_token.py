"""The HTTP control API's bearer token (site `[http] token`), over real HTTP on loopback to a
running `acdgate run`: control requests under /api/ need the token (RFC 6750), the read-only
views and the phone XML services stay open, and without a token nothing changes."""

from __future__ import annotations

import http.client
import json
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import ACDGATE, GatewayProcess, StartGateway
from loopback_phone import register

# agent 3000's supervisor action, asked for by supervisor 3900 who is not logged on: with the
# token accepted, the action itself answers (403, "not logged on"), never 401
ACTION = "/api/agents/3000/monitor"
BODY = {"user": "3900", "station": "2110"}
NOT_LOGGED_ON = "User 3900 is not logged on"


def request(gw: GatewayProcess, method: str, path: str, body: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """One HTTP request: (status, response headers with lower-case names, JSON body)."""
    host, port = gw.info["http"]["host"], int(gw.info["http"]["port"])
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"content-type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers={**all_headers, **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        answer = {k.lower(): v for k, v in response.getheaders()}
        return response.status, answer, json.loads(raw) if answer.get("content-type", "").startswith(
            "application/json") else raw.decode("utf-8", "replace")
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, token: str) -> Iterator[GatewayProcess]:
    """A gateway whose site sets `[http] token`."""
    work = tmp_path_factory.mktemp("guarded")
    site = work / "site.toml"
    site.write_text(demo_site_text() + f'\n[http]\ntoken = "{token}"\n')
    gw = GatewayProcess(work / "state", config=site).start()
    try:
        yield gw
    finally:
        gw.stop()


def test_post_without_a_token_is_refused(guarded: GatewayProcess) -> None:
    status, headers, answer = request(guarded, "POST", ACTION, BODY)
    assert status == 401, answer
    assert answer == {"error": "missing bearer token"}
    assert headers["www-authenticate"] == 'Bearer realm="acdgate"'  # RFC 6750 3.1: no error code
    # another scheme, or the scheme with nothing after it, is no bearer token either
    for value in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer   "):
        status, _, answer = request(guarded, "POST", ACTION, BODY, {"Authorization": value})
        assert (status, answer) == (401, {"error": "missing bearer token"}), value
    guarded.wait_for_output(r"HTTP API: refused POST /api/agents/3000/monitor from 127\.0\.0\.1:\d+: "
                            r"missing bearer token")


def test_post_with_a_wrong_token_is_refused(guarded: GatewayProcess, token: str) -> None:
    since = guarded.mark()
    for wrong in (token[:-1], token + "x", token.swapcase(), secrets.token_urlsafe(24)):
        status, headers, answer = request(guarded, "POST", ACTION, BODY, bearer(wrong))
        assert status == 401, answer
        assert answer == {"error": "wrong bearer token"}
        assert headers["www-authenticate"] == 'Bearer realm="acdgate", error="invalid_token"'
    found = guarded.wait_for_output(r"HTTP API: refused POST \S+ from 127\.0\.0\.1:\d+: wrong bearer token",
                                    since=since)
    assert token not in guarded.output()[since:], "the gateway logged the token"
    assert found


def test_post_with_the_token_reaches_the_action(guarded: GatewayProcess, token: str) -> None:
    status, _, answer = request(guarded, "POST", ACTION, BODY, bearer(token))
    assert (status, answer) == (403, {"error": NOT_LOGGED_ON})
    # RFC 7235 2.1: the scheme is case-insensitive
    status, _, answer = request(guarded, "POST", ACTION, BODY, {"Authorization": f"bearer {token}"})
    assert (status, answer) == (403, {"error": NOT_LOGGED_ON})
    # past the token, the API's own answers: no such action, no such resource, GET only
    status, _, answer = request(guarded, "POST", "/api/agents/3000/dance", {"user": "3900"}, bearer(token))
    assert status == 403 and answer["error"] == NOT_LOGGED_ON
    status, _, answer = request(guarded, "POST", "/api/nothing", {}, bearer(token))
    assert status == 404 and "no such resource" in answer["error"]
    status, _, answer = request(guarded, "POST", "/api/stations", {}, bearer(token))
    assert status == 405 and "GET only" in answer["error"]


def test_every_control_method_under_api_needs_the_token(guarded: GatewayProcess) -> None:
    for method, path in (("POST", "/api/stations"), ("POST", "/api/nothing"), ("POST", "/api"),
                         ("PUT", ACTION), ("DELETE", "/api/agents/3000"), ("POST", "/%61pi/agents/3000/barge")):
        status, _, answer = request(guarded, method, path, {})
        assert (status, answer) == (401, {"error": "missing bearer token"}), (method, path)


def test_reads_need_the_token_and_phone_services_stay_open(guarded: GatewayProcess, token: str) -> None:
    """Issue 19: with a token, the reads that list extensions, names, addresses and figures need
    it too (as a bearer token, or `?token=`); the index, health, the API description and the
    phones' screens stay open."""
    for path in ("/api", "/api/health", "/api/openapi.json"):
        status, _, answer = request(guarded, "GET", path)
        assert status == 200, (path, answer)
    for path in ("/api/stations", "/api/agents", "/api/groups", "/api/recordings", "/api/calls/c1/data",
                 "/api/reports/agents", "/metrics", "/wallboard", "/api/events"):
        status, headers, answer = request(guarded, "GET", path)
        assert (status, answer) == (401, {"error": "missing bearer token"}), path
        assert headers["www-authenticate"] == 'Bearer realm="acdgate"'
        status, _, answer = request(guarded, "GET", path, headers={"Authorization": "Bearer wrong-token-1234567"})
        assert status == 401, path
    for path in ("/api/stations", "/api/agents", "/api/groups", "/api/recordings", "/metrics"):
        status, _, answer = request(guarded, "GET", path, headers=bearer(token))
        assert status == 200, (path, answer)
    status, _, stations = request(guarded, "GET", f"/api/stations?token={token}")
    assert {s["extension"] for s in stations} >= {"2101", "2110"}
    status, _, answer = request(guarded, "GET", "/api/calls/c1/data", headers=bearer(token))
    assert status == 404  # no such call: past the token
    status, headers, page = request(guarded, "GET", "/xml/?ext=2102")
    assert status == 200 and "xml" in headers["content-type"], page[:300]
    # a desk phone logs on through /xml/ with no credentials, as its XML browser does, from the
    # address it registered from
    register(guarded.sip, "2102")
    status, _, page = request(guarded, "GET", "/xml/login?ext=2102&id=3002&pin=1234")
    assert status == 200, page[:300]
    status, _, agents = request(guarded, "GET", "/api/agents", headers=bearer(token))
    assert {a["user"]: a for a in agents}["3002"]["station"] == "2102"


def test_check_config_says_a_token_is_required_without_printing_it(guarded: GatewayProcess, token: str) -> None:
    assert guarded.config is not None
    done = subprocess.run([*ACDGATE, "check-config", str(guarded.config)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "HTTP control API: bearer token required" in done.stdout
    assert token not in done.stdout + done.stderr


def test_the_guarded_gateway_does_not_warn_of_an_open_api(guarded: GatewayProcess) -> None:
    output = guarded.output()
    assert "HTTP control API: bearer token required" in output  # the site summary at start-up
    assert "is open" not in output


def test_without_a_token_nothing_changes_but_a_warning(start_gateway: StartGateway) -> None:
    gw = start_gateway()  # the demo site: no [http] table
    status, headers, answer = request(gw, "POST", ACTION, BODY)
    assert (status, answer) == (403, {"error": NOT_LOGGED_ON})
    assert "www-authenticate" not in headers
    status, _, answer = request(gw, "POST", "/api/stations", {})
    assert status == 405
    status, _, _ = request(gw, "GET", "/api/agents")
    assert status == 200
    output = gw.output()
    assert output.count("the HTTP control API on 127.0.0.1:") == 1, output[-2000:]
    assert "is open" in output and "[http] token" in output
    assert "refused" not in output
