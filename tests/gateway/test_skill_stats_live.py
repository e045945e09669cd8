"""Skill Stats from calls really queued by a SIP client (issue 16, guide "Skill Statistics").

Two SIPp callers call group 6000 while its only logged-on agent is Not Ready; the phone twin's
XML browser (lab/twins/browser.py) fetches the Skill Stats screen over HTTP as a Cisco phone
does, sees CIQ 2 and an LQT that grows between two fetches (the second one by following the
HTTP Refresh header, as the phone's timer does), and CIQ 0 / LQT 0:00:00 once they hung up.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from pathlib import Path

from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from acdgate.lab.twins.browser import Dialect, Screen, XmlBrowser
from pyvoip_parties import logon
from sipp_agents import SippCaller, SippRunner

HOLD_MS = 10000  # each caller hangs up after this long in the queue (room for a loaded machine)


def _browser(dialect: Dialect = Dialect.CISCO) -> XmlBrowser:
    return XmlBrowser(dialect, lambda address: socket.create_connection(address, timeout=10),
                      on_uri=lambda uri: None)


def _row(screen: Screen | None, group: str) -> tuple[int, int]:
    """(LQT in seconds, CIQ) of `group`'s row of a Skill Stats screen."""
    assert screen is not None and screen.title == "Skill Stats - ID:3000", screen
    for line in screen.text.splitlines():
        found = re.fullmatch(rf"\s*(\d+):(\d\d):(\d\d)\s+(\d+) {group} .*", line)
        if found:
            h, m, s, ciq = (int(g) for g in found.groups())
            return h * 3600 + m * 60 + s, ciq
    raise AssertionError(f"no row for {group}: {screen.text!r}")


def test_ciq_and_lqt_follow_real_queued_calls(gateway: GatewayProcess, tmp_path: Path) -> None:
    logon(gateway, "2101", "3000", ready=False)  # a member of 6000, Not Ready: the calls wait
    browser = _browser()
    stats_url = f"{gateway.http}/xml/stats?ext=2101"
    assert _row(browser.open(stats_url), "6000") == (0, 0)
    yealink = _browser(Dialect.YEALINK).open(f"{gateway.http}/xml/yealink/stats?ext=2101")
    assert yealink is not None and yealink.refresh_seconds == 10  # the guide's default
    runner = SippRunner([], "127.0.0.1", gateway.sip, tmp_path)
    callers = [SippCaller(runner, f"q{n}", station, "6000", hold_ms=HOLD_MS)
               for n, station in enumerate(("2105", "2106"))]
    try:
        since = 0
        for caller in callers:
            caller.start()
            since = gateway.wait_for_output(r"CallQueued\(.*group='6000'", timeout=15, since=since).end()
        first = browser.open(stats_url)
        lqt, ciq = _row(first, "6000")
        assert ciq == 2
        assert first is not None and first.refresh_seconds == 10 and first.refresh_url == stats_url
        # LQT counts wall-clock seconds: there is no event to wait for but the clock itself
        time.sleep(1.0)
        later_lqt, later_ciq = _row(browser.refresh(), "6000")
        assert later_ciq == 2 and later_lqt >= lqt + 1
        for caller in callers:
            assert caller.wait(timeout=30) == "CALLER-BYE"
    finally:
        for caller in callers:
            caller.stop()
    since = 0
    for _ in callers:
        since = gateway.wait_for_output(r"CallAbandoned\(.*group='6000'", timeout=15, since=since).end()
    update = browser.screen.soft_keys[browser.screen.soft_key("Update")] if browser.screen else None
    assert update is not None and update.url == stats_url  # Update: the same page, now
    browser.soft(browser.screen.soft_key("Update") if browser.screen else 0)
    assert _row(browser.screen, "6000") == (0, 0)


def test_refresh_follows_the_site_file_and_0_leaves_only_update(
        start_gateway: StartGateway, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(demo_site_text().replace("[policy]\n", "[policy]\nskill_stats_refresh_seconds = 0\n", 1))
    gw = start_gateway(config=config)
    logon(gw, "2101", "3000", ready=False)
    for dialect, prefix in ((Dialect.CISCO, "/xml"), (Dialect.YEALINK, "/xml/yealink")):
        browser = _browser(dialect)
        screen = browser.open(f"{gw.http}{prefix}/stats?ext=2101")
        assert screen is not None and screen.refresh_seconds is None, dialect  # no Refresh header
        assert screen.soft_keys[screen.soft_key("Update")].url == f"{gw.http}{prefix}/stats?ext=2101"
    with urllib.request.urlopen(f"{gw.http}/xml/polycom/stats?ext=2101", timeout=10) as response:
        assert response.headers.get("Refresh") is None
