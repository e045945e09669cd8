"""The Polycom flavour of the IP Phone Agent service against a running `acdgate run`.

A small stand-in for the Polycom microbrowser fetches `/xml/polycom/...` over loopback,
parses each page as XML (the microbrowser refuses anything not well-formed), submits the
login form as a browser does (GET, `action?name=value&...`) and follows links by their text;
the outcome is checked on the gateway's JSON API (`/api/agents`).
"""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest
from acdgate.gateway.web.polycom_xhtml import XHTML_NAMESPACE
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import register

NS = {"x": XHTML_NAMESPACE}


@dataclass
class Page:
    """One fetched microbrowser page."""

    url: str
    headers: dict[str, str]
    root: ET.Element

    @property
    def title(self) -> str:
        el = self.root.find("x:head/x:title", NS)
        assert el is not None
        return el.text or ""

    @property
    def text(self) -> str:
        return "".join(self.root.itertext())

    @property
    def status(self) -> str:
        """The last paragraph before the links: the guide's status line."""
        plain = [p for p in self.root.iterfind(".//x:p", NS) if p.find("x:a", NS) is None]
        return plain[-1].text or ""

    def links(self) -> list[str]:
        return [a.text or "" for a in self.root.iterfind(".//x:a", NS)]

    def link(self, label: str) -> str:
        urls = [a.get("href", "") for a in self.root.iterfind(".//x:a", NS) if a.text == label]
        assert len(urls) == 1, (label, self.links())
        return urls[0]

    def submit(self, **typed: str) -> str:
        """The URL the form's Submit fetches: every input's value, `typed` overriding."""
        form = self.root.find(".//x:form", NS)
        assert form is not None and form.get("method") == "get"
        values = {
            i.get("name", ""): i.get("value", "")
            for i in form.iterfind(".//x:input", NS)
            if i.get("type") != "submit"
        }
        assert set(typed) <= set(values), (typed, values)
        return f"{form.get('action')}?{urlencode(values | typed)}"


def fetch(url: str) -> Page:
    with urllib.request.urlopen(url, timeout=10) as response:
        headers = {k.lower(): v for k, v in response.headers.items()}
        body = response.read()
    assert headers["content-type"] == "application/xhtml+xml; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    return Page(url, headers, ET.fromstring(body))


def agents(gateway: GatewayProcess) -> list[tuple[str, str, str, int | None]]:
    return [
        (a["user"], a["station"], a["state"], a["reason_code"]) for a in gateway.get("/api/agents")
    ]


@pytest.mark.slow
def test_polycom_login_state_changes_and_logout(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    register(gateway.sip, "2106")  # the phone, from 127.0.0.1 (issue 19)
    home = fetch(gateway.http + "/xml/polycom/?ext=2106")
    assert home.title == "Agent Login"
    login_url = home.submit(id="3006", pin="1234")
    assert urlsplit(login_url).path == "/xml/polycom/login"
    assert "ext=2106" in login_url  # the Extension field, pre-filled from the URL

    wrong = fetch(home.submit(id="3006", pin="9999"))
    assert "invalid agent ID or password" in wrong.text and agents(gateway) == []

    stats = fetch(login_url)
    assert (stats.title, stats.status) == ("Skill Stats - ID:3006", "Not Ready")
    assert stats.headers["refresh"].startswith("10; url=" + gateway.http + "/xml/polycom/stats")
    assert agents(gateway) == [("3006", "2106", "NOT_READY", None)]

    menu = fetch(stats.link("State"))
    assert (menu.title, menu.status) == ("Change State - ID:3006", "Not Ready")
    assert menu.links()[:3] == ["Ready", "Not Ready", "Logout"]
    ready = fetch(menu.link("Ready"))
    assert (ready.title, ready.status) == ("Skill Stats - ID:3006", "Ready")
    assert agents(gateway) == [("3006", "2106", "READY", None)]

    menu = fetch(ready.link("State"))
    assert menu.links()[0] == "Not Ready" and "Ready" not in menu.links()
    reasons = fetch(menu.link("Not Ready"))
    assert reasons.title == "Reason Code - ID:3006"
    assert reasons.links()[:3] == ["Break", "Paperwork", "Lunch"]
    fetch(reasons.link("Lunch"))
    assert agents(gateway) == [("3006", "2106", "NOT_READY", 3)]

    menu = fetch(stats.link("State"))
    logout_reasons = fetch(menu.link("Logout"))
    after = fetch(logout_reasons.link("End of shift"))
    assert after.title == "Agent Login"  # the guide: back to the Login screen
    assert agents(gateway) == []
    assert gateway.stop() == 0
