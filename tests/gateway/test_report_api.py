"""`GET /api/reports/agents|groups|html` over real HTTP on loopback, on the golden journal
(tests/support/report_journal.py) in a real state store: the JSON is the report the pure code
builds (figures checked by hand in tests/acd/test_reports_golden.py; a few again here), query
parameters are checked, and the reports are GETs, open like the other views."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from acdgate.acd.reports import Granularity, agents_json, build_report, groups_json
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.gateway.storage.store import StateStore
from acdgate.gateway.web.http_api import make_site
from acdgate.gateway.web.report_api import Reports
from acdgate.lab.gateway_process import GatewayProcess
from loopback_phone import register
from report_journal import M, golden_journal
from twisted.internet import reactor
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using readBody with a transport that does not have an abortConnection"
)
TOKEN = "a-long-enough-token-1234"


class _EmptyView:
    def stations_view(self) -> list[dict[str, Any]]:
        return []

    def agents_view(self) -> list[dict[str, Any]]:
        return []

    def groups_view(self) -> list[dict[str, Any]]:
        return []


@pytest_twisted.async_yield_fixture
async def base(tmp_path: Path) -> AsyncIterator[str]:
    site, records = golden_journal()
    store = StateStore(tmp_path)
    store.append(records)
    reports = Reports(reactor, site, lambda end, kinds: read_journal(store.path, end=end, kinds=kinds))
    port = reactor.listenTCP(0, make_site(_EmptyView(), token=TOKEN, reports=reports),  # type: ignore[attr-defined]
                             interface="127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port.getHost().port}"
    finally:
        await port.stopListening()
        store.close()


async def fetch(url: str, method: bytes = b"GET", *, token: str | None = TOKEN) -> tuple[int, str, bytes]:
    """With the site's token unless told otherwise (issue 19: reports need it when it is set)."""
    headers = Headers({b"authorization": [f"Bearer {token}".encode()]} if token else {})
    response = await Agent(reactor).request(method, url.encode(), headers)
    body = await readBody(response)
    [kind] = response.headers.getRawHeaders(b"content-type")
    return response.code, kind.decode(), body


SPAN = f"from={int(M - 3600)}&to=2026-12-07T01:00:00Z"


@pytest_twisted.ensureDeferred
async def test_groups_and_agents_json_are_the_report(base: str) -> None:
    site, records = golden_journal()
    expected = build_report(records, M - 3600, M + 3600, site, Granularity.MINUTES_15)
    status, kind, body = await fetch(f"{base}/api/reports/groups?{SPAN}&interval=15")
    assert (status, kind) == (200, "application/json; charset=utf-8")
    groups = json.loads(body)
    assert groups == json.loads(json.dumps(groups_json(expected)))
    [g500] = [g for g in groups["totals"] if g["group"] == "500"]
    # 4 offered, 1 answered in 10 s, 2 abandoned (1 short), 1 overflowed: SL 1 / (1 + 2 - 1)
    assert (g500["offered"], g500["abandoned"], g500["overflowed"], g500["service_level_percent"]) == (4, 2, 1, 50)
    assert len(groups["intervals"]) == 16  # 8 quarter hours x 2 monitored groups
    status, _, body = await fetch(f"{base}/api/reports/agents?{SPAN}&interval=15")
    agents = json.loads(body)
    assert status == 200 and agents == json.loads(json.dumps(agents_json(expected)))
    assert [p["label"] for p in agents["not_ready_periods"] if p["agent"] == "u1"] == ["", "Break", "Paperwork", "Break"]


@pytest_twisted.ensureDeferred
async def test_html_report(base: str) -> None:
    status, kind, body = await fetch(f"{base}/api/reports/html?{SPAN}")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    parser = HTMLParser()
    parser.feed(body.decode())
    assert body.count(b"<svg") == 3


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("interval=7", 400, "interval must be 15, 30, 60 or day"),
        ("from=yesterday", 400, "not a time"),
        (f"from={int(M)}&to={int(M - 1)}", 400, "'to' must be after 'from'"),
        # every quarter hour since 1970 on an open GET: refused before any work is done
        (f"from=0&to={int(M)}&interval=15", 400, "more than 40000 intervals of 15"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_bad_query_parameters_say_what_is_wrong(base: str, query: str, status: int, says: str) -> None:
    got, _, body = await fetch(f"{base}/api/reports/groups?{query}")
    assert got == status and says in json.loads(body)["error"]


@pytest_twisted.ensureDeferred
async def test_unknown_report_and_other_methods(base: str) -> None:
    status, _, body = await fetch(f"{base}/api/reports/queues")
    assert status == 404 and "/api/reports/agents" in json.loads(body)["error"]
    # a POST needs the token first (the API's rule for anything but GET); reports are GETs
    status, _, _ = await fetch(f"{base}/api/reports/groups", b"POST", token=None)
    assert status == 401
    # issue 19: with a token set, reading a report needs it too
    status, _, body = await fetch(f"{base}/api/reports/groups?{SPAN}", token=None)
    assert (status, json.loads(body)) == (401, {"error": "missing bearer token"})
    status, _, body = await fetch(f"{base}/api")
    assert "/api/reports/groups" in json.loads(body)["resources"]


def test_a_running_gateway_reports_a_logon_made_on_its_phone_service(gateway: GatewayProcess) -> None:
    # the IP Phone Agent login screen logs 3000 on at 2101, Not Ready; then Logout
    register(gateway.sip, "2101")  # from the phone registered as 2101 (issue 19)
    gateway.get_text("/xml/login?id=3000&pin=1234&ext=2101")
    gateway.get_text("/xml/set?ext=2101&to=logout")
    agents = gateway.get("/api/reports/agents?interval=15")
    [session] = agents["sessions"]
    assert (session["agent"], session["station"]) == ("3000", "2101")
    assert session["logoff"] is not None and session["logoff_epoch"] >= session["logon_epoch"]
    [period] = agents["not_ready_periods"]
    assert (period["agent"], period["code"], period["label"]) == ("3000", None, "")
    groups = gateway.get("/api/reports/groups?interval=day")
    assert sorted(g["group"] for g in groups["totals"]) == ["6000", "6001", "6002", "6500"]  # not 6003
    assert all(g["offered"] == 0 for g in groups["totals"])
    page = gateway.get_text("/api/reports/html")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
