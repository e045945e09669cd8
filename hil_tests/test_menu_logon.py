"""Logon and logoff by the phone menu service (`/xml/`, the Cisco IP Phone Agent screens) and
logoff by a desk phone's programmed key.

Desk phones (Cisco, Yealink; twins or real ones) are driven by their keys: Services or the
XML Browser DSS key, the keypad into the login form, Submit, then State > Logout > a reason
code. Softphones (pyVoIP, baresip) have no XML browser: for them the scenario browses the
same screens over plain HTTP from the phone's lab host (the twins' `XmlBrowser`, Cisco
dialect for pyVoIP, Yealink dialect for baresip), while the softphone holds the station's
registration.
"""

from __future__ import annotations

import socket
from typing import Any

from acdgate.lab.drivers.base import FeatureKey, KeyKind, ObservationKind
from acdgate.lab.inventory import EndpointKind
from acdgate.lab.twins.browser import Dialect, XmlBrowser
from conftest import INVENTORY, Lab, LabNetwork, kinds
from test_agent_logon import feature

K = ObservationKind
LOGIN = "services type:{user} down type:1234 soft:1"  # ID, (down) PIN, Submit
LOGOUT = "services soft:3 item:3 item:1"  # Skill Stats > State > Logout > "End of shift"


def wait_agent(lab: Lab, user: str, logged_on: bool, timeout: float = 10.0) -> dict[str, Any] | None:
    """The agent's record once it is (or is no longer) logged on: waits for the ACD's
    `LoggedIn` / `LoggedOut` log line for `user` (logged once committed), then reads the API."""
    event = "LoggedIn" if logged_on else "LoggedOut"
    try:
        lab.gateway.wait_for_output(rf"\b{event}\([^\n]*\buser_id='{user}'", timeout)
    except AssertionError as exc:
        raise AssertionError(f"timed out ({timeout} s) waiting for {user} {event}: {exc}") from None
    return lab.agent(user)


def test_logon_and_logoff_by_menu_over_http(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    host = lab.network.phone_host(INVENTORY.endpoints.index(ep.spec))
    dialect = Dialect.CISCO if kind is EndpointKind.PYVOIP else Dialect.YEALINK

    def connect(address: tuple[str, int]) -> socket.socket:
        return (host.call_inside(lambda: socket.create_connection(address, 10)) if host
                else socket.create_connection(address, 10))

    def no_uri(uri: str) -> None:
        raise AssertionError(f"the menu asked the phone to run {uri}")

    browser = XmlBrowser(dialect, connect, no_uri)
    prefix = "/xml/" if dialect is Dialect.CISCO else "/xml/yealink/"
    screen = browser.open(f"{lab.gateway.http}{prefix}?ext={ep.spec.station}")
    assert screen is not None and screen.title == "Agent Login", browser.errors
    for d in "3008":
        browser.digit(d)
    browser.move(1)
    for d in "1234":
        browser.digit(d)
    browser.soft(screen.soft_key("Submit"))
    assert browser.screen is not None and browser.screen.title == "Skill Stats - ID:3008", browser.errors
    agent = lab.agent("3008")
    assert agent is not None and (agent["station"], agent["state"]) == (ep.spec.station, "NOT_READY")
    browser.soft(browser.screen.soft_key("State"))
    assert browser.screen is not None and [label for label, _ in browser.screen.items][-1] == "Logout"
    browser.digit(str(len(browser.screen.items)))  # Logout
    assert browser.screen is not None and browser.screen.title.startswith("Reason Code"), browser.history
    browser.digit("1")
    assert browser.screen is not None and browser.screen.title == "Agent Login", browser.history
    assert lab.agent("3008") is None
    assert lab.station(ep.spec.station).get("user") in (None, "", "No User")


PHONES = (EndpointKind.CISCO, EndpointKind.YEALINK, EndpointKind.POLYCOM)
BROWSING = [k for k in (EndpointKind.CISCO, EndpointKind.YEALINK) if INVENTORY.by_kind(k)]
PRESENT = [k for k in PHONES if INVENTORY.by_kind(k)]

# Desk-phone scenarios exist only for the desk phones the inventory has (twins or real
# ones): the default lab has none, and a scenario without endpoints would only be skipped.
if BROWSING:

    @kinds(*BROWSING)
    def test_logon_and_logoff_by_phone_menu_keys(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
        ep = lab.endpoint(kind)
        ep.press_key(FeatureKey(KeyKind.MENU, LOGIN.format(user="3009")))
        agent = wait_agent(lab, "3009", True)
        assert agent is not None and agent["station"] == ep.spec.station, ep.diagnostics()
        ep.press_key(FeatureKey(KeyKind.MENU, LOGOUT))
        assert wait_agent(lab, "3009", False) is None, ep.diagnostics()


if PRESENT:

    @kinds(*PRESENT)
    def test_logoff_by_a_phone_programmed_key(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
        ep = lab.endpoint(kind)
        if getattr(ep, "mirror", None) is None:  # a real phone: no call events, the gateway tells
            ep.dial("*35*3007*1234#")
            assert wait_agent(lab, "3007", True) is not None
            ep.press_key(FeatureKey(KeyKind.PROGRAMMED, "*36"))
            assert wait_agent(lab, "3007", False) is None
            return
        feature(ep, "*35*3007*1234#")
        ep.press_key(FeatureKey(KeyKind.PROGRAMMED, "*36"))  # the line/DSS key set up as a *36 speed dial
        assert ep.wait_for({K.CALL_ANSWERED, K.CALL_REFUSED}, 20).kind is K.CALL_ANSWERED
        ep.wait_for(K.CALL_ENDED, 30)
        assert "confirmation" in ep.tones()[-2:], ep.tones()
        assert lab.agent("3007") is None
