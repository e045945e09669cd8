"""`GET /wallboard` in a real browser: Debian's Chromium, headless, driven by Playwright (never
`playwright install`: the system browser). SIPp logs an agent on with a short code and makes a
group call nobody can take; the open page shows the agent's state and the call waiting within
a second each, and the longest wait ticking, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from playwright.sync_api import Page, expect, sync_playwright
from sipp_agents import SippCaller, SippRunner
from sipp_scenarios import run_feature_call

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TOKEN = "wallboard-test-token-0123456789"
WITHIN = 1000  # ms: what "live" means on the supervisor's screen


@pytest.fixture
def browser_page() -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            fetched: list[str] = []
            page.on("request", lambda r: fetched.append(r.url))
            page.fetched = fetched  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


@pytest.fixture
def guarded(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """The demo site with a token (the page passes it on to its stream) and low thresholds."""
    site = tmp_path / "site.toml"
    site.write_text(demo_site_text() + f'\n[http]\ntoken = "{TOKEN}"\n\n[wallboard]\n'
                    "waiting_amber = 1\nwaiting_red = 2\nlqt_amber_seconds = 1\nlqt_red_seconds = 600\n")
    return start_gateway(config=site)


def test_the_page_follows_a_logon_and_a_waiting_call(guarded: GatewayProcess, browser_page: Page,
                                                      tmp_path: Path) -> None:
    page = browser_page
    page.goto(f"{guarded.http}/wallboard?token={TOKEN}")
    expect(page.locator("#status")).to_have_text("live", timeout=10_000)
    waiting = page.locator("#group-6000 .waiting")
    expect(waiting).to_have_text("0")
    expect(page.locator("#agents tbody tr")).to_have_count(0)
    page.evaluate("window.__notReloaded = true")

    # agent 3000 logs on at 2101 with the short code (SIPp, digest-authenticated INVITE)
    assert run_feature_call(tmp_path, guarded.sip, "2101", "*35*3000*1234#", answered=True).status == 200
    expect(page.locator("#agent-3000 .state")).to_have_text("Not Ready", timeout=WITHIN)
    expect(page.locator("#agent-3000 .station")).to_have_text("2101")
    expect(page.locator("#group-6000 .not-ready")).to_have_text("1", timeout=WITHIN)
    # time in state ticks on the page
    expect(page.locator("#agent-3000 .time-in-state")).to_have_text("0:00:01", timeout=3000)

    # a customer at 2105 calls group 6000; nobody is Ready, so it waits, then hangs up after 5 s
    runner = SippRunner([], "127.0.0.1", guarded.sip, tmp_path)
    caller = SippCaller(runner, "wallboard", "2105", "6000", hold_ms=5_000).start()
    try:
        guarded.wait_for_output(r"CallQueued\(.*group='6000'", timeout=15)
        expect(waiting).to_have_text("1", timeout=WITHIN)
        expect(waiting).to_have_class("waiting num amber")  # waiting_amber = 1
        expect(page.locator("#group-6000 .lqt")).to_have_text("0:00:02", timeout=4000)
        expect(page.locator("#group-6000 .lqt")).to_have_class("lqt num amber")  # lqt_amber_seconds = 1
        assert caller.wait(timeout=30) == "CALLER-BYE"
        guarded.wait_for_output(r"CallAbandoned\(.*group='6000'", timeout=15)
        expect(waiting).to_have_text("0", timeout=WITHIN)
        expect(page.locator("#group-6000 .lqt")).to_have_text("-", timeout=WITHIN)
        expect(page.locator("#group-6000 .abandoned")).to_have_text("1", timeout=WITHIN)
    finally:
        caller.stop()
    # a supervisor action from the API shows as well
    assert _post(guarded, "/api/agents/3000/ready") == 200
    expect(page.locator("#agent-3000 .state")).to_have_text("Ready", timeout=WITHIN)
    expect(page.locator("#group-6000 .ready")).to_have_text("1", timeout=WITHIN)
    assert page.evaluate("window.__notReloaded") is True
    # nothing fetched but the page and its own event stream
    fetched: Any = page.fetched  # type: ignore[attr-defined]
    assert {u.split("?")[0].removeprefix(guarded.http) for u in fetched} <= {"/wallboard", "/api/events"}


def _post(gw: GatewayProcess, path: str) -> int:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(gw.http + path, data=b"{}", method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
