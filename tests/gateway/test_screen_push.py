"""Screens pushed to desk phones (issue 16), against a running gateway and the lab's phone twins.

A routed call ringing station 2101 pushes the Caller Data screen to its Cisco phone (a
CiscoIPPhoneExecute the twin carries out by fetching the screen), one ringing 2104 to its
Yealink phone (an Action URI pressing the XML browser key); a logoff pushes "No User"
and the extension, to the Cisco twin and, with Digest credentials, to a Polycom twin. A phone
that cannot be reached costs the call nothing, and its failure is logged once.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from acdgate.acd.caller_data import PushKind, PushTarget
from acdgate.gateway.site_loader import demo_site_text
from acdgate.gateway.web.phone_screens import Page
from acdgate.gateway.web.screen_push import digest_authorization, push_request
from acdgate.lab.drivers.base import DtmfMethod, Endpoint, Observation, ObservationKind
from acdgate.lab.gateway_process import StartGateway
from acdgate.lab.inventory import EndpointKind, EndpointSpec
from acdgate.lab.twins.base import PhoneTwin
from acdgate.lab.twins.cisco import CiscoTwin
from acdgate.lab.twins.polycom import PolycomTwin
from acdgate.lab.twins.yealink import YealinkTwin, default_keys
from loopback_phone import register
from pyvoip_parties import (
    answerer,
    answerer_result,
    caller,
    caller_result,
    logon,
    wait_logged,
    wait_state,
)
from sipwire import free_port

USER, PASSWORD = "admin", "s3cret"


class IdleSoftphone(Endpoint):
    """The twin's softphone: the real SIP phone of these tests is a pyVoIP one, so this one
    only records what the twin asked of it."""

    dtmf_methods = frozenset({DtmfMethod.RFC4733})

    def __init__(self, station: str) -> None:
        super().__init__(EndpointSpec("soft", EndpointKind.BARESIP, station, station, f"pw{station}"))
        self.actions: list[str] = []

    def start(self) -> IdleSoftphone:
        return self

    def stop(self) -> None:
        self.actions.append("stop")

    def register(self, timeout: float = 15.0) -> Observation:
        return self.observe(ObservationKind.REGISTERED)

    def dial(self, digits: str) -> None:
        self.actions.append(f"dial {digits}")

    def _send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        self.actions.append(f"dtmf {digits}")

    def answer(self) -> None:
        self.actions.append("answer")

    def hangup(self) -> None:
        self.actions.append("hangup")


def _loopback(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, 10)


@pytest.fixture
def twins() -> Iterator[list[PhoneTwin]]:
    started: list[PhoneTwin] = []
    yield started
    for twin in started:
        twin.stop()


def test_cisco_push_is_an_execute_item_with_the_screen_url() -> None:
    target = PushTarget("2101", PushKind.CISCO, "http://10.0.0.5/CGI/Execute", "u", "p")
    request = push_request(target, "http://10.0.0.1:8080", Page.CDATA)
    assert request is not None and request.url == target.url
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.body.startswith(b"XML=%3CCiscoIPPhoneExecute%3E%3CExecuteItem")
    assert b"http%3A%2F%2F10.0.0.1%3A8080%2Fxml%2Fcdata%3Fext%3D2101" in request.body


def test_polycom_push_is_relative_to_the_server_root() -> None:
    target = PushTarget("2102", PushKind.POLYCOM, "http://10.0.0.6/push", "u", "p")
    request = push_request(target, "http://10.0.0.1:8080", Page.IDLE)
    assert request is not None and request.method == b"POST"
    assert request.body == b'<PolycomIPPhone><URL priority="Normal">/xml/polycom/idle?ext=2102</URL></PolycomIPPhone>'


def test_yealink_push_presses_the_xml_browser_key_on_offers_only() -> None:
    target = PushTarget("2104", PushKind.YEALINK, "http://10.0.0.7/servlet?key=L5", "u", "p")
    request = push_request(target, "http://h", Page.CDATA)
    assert request is not None and (request.method, request.url, request.body) == (b"GET", target.url, b"")
    assert push_request(target, "http://h", Page.IDLE) is None  # the key would show Login, not "No User"
    # a feature key refused while a wrap-up code is owed: the key's home page, Wrap-up Data then
    assert push_request(target, "http://h", Page.HOME) is not None


def test_an_owed_wrapup_code_pushes_the_home_page() -> None:
    target = PushTarget("2101", PushKind.CISCO, "http://10.0.0.5/CGI/Execute", "u", "p")
    request = push_request(target, "http://10.0.0.1:8080", Page.HOME)
    assert request is not None and b"http%3A%2F%2F10.0.0.1%3A8080%2Fxml%2F%3Fext%3D2101" in request.body


def test_digest_answers_only_what_it_can() -> None:
    target = PushTarget("2102", PushKind.POLYCOM, "http://10.0.0.6/push", "Polycom", "456")
    answer = digest_authorization(target, 'Digest realm="PUSH Authentication", nonce="abc", qop="auth"', "POST")
    assert answer is not None and 'uri="/push"' in answer and "qop=auth" in answer and 'username="Polycom"' in answer
    yealink = PushTarget("2104", PushKind.YEALINK, "http://10.0.0.7/servlet?key=L5", "admin", "x")
    answer = digest_authorization(yealink, 'Digest realm="Yealink", nonce="n"', "GET")
    assert answer is not None and 'uri="/servlet?key=L5"' in answer and "qop" not in answer
    for challenge in ('Basic realm="x"', 'Digest nonce="abc"', 'Digest realm="r", nonce="n", algorithm=MD6',
                      'Digest realm="r", nonce="n", qop="auth-int"', "Digest ,,,=="):
        assert digest_authorization(target, challenge, "POST") is None, challenge


def test_offers_and_logoffs_are_pushed_to_the_phones_and_a_dead_phone_costs_nothing(
        start_gateway: StartGateway, twins: list[PhoneTwin], tmp_path: Path) -> None:
    cisco = CiscoTwin(IdleSoftphone("2101"), username=USER, password=PASSWORD, services_url="", connect=_loopback)
    polycom = PolycomTwin(IdleSoftphone("2102"), username=USER, password=PASSWORD)
    yealink = YealinkTwin(IdleSoftphone("2104"), username=USER, password=PASSWORD, menu_url="", connect=_loopback)
    twins += [cisco.start(), polycom.start(), yealink.start()]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nothing listens on: the dead phone
    dead = f"http://127.0.0.1:{closed.getsockname()[1]}/CGI/Execute"
    config = tmp_path / "site.toml"
    config.write_text(demo_site_text() + f"""
[[caller_data.push]]
station = "2101"
kind = "cisco"
url = "{cisco.url}/CGI/Execute"
username = "{USER}"
password = "{PASSWORD}"

[[caller_data.push]]
station = "2102"
kind = "polycom"
url = "{polycom.url}/push"
username = "{USER}"
password = "{PASSWORD}"

[[caller_data.push]]
station = "2104"
kind = "yealink"
url = "{yealink.url}/servlet?key=L5"
username = "{USER}"
password = "{PASSWORD}"

[[caller_data.push]]
station = "2103"
kind = "cisco"
url = "{dead}"
""")
    try:
        gw = start_gateway(config=config)
        polycom.server_root_url = gw.http
        cisco.services_url = gw.http + "/xml/?ext=2101"
        yealink.keys = default_keys(gw.http + "/xml/yealink/?ext=2104")  # L5: the XML browser key

        # a routed call rings 2101: its phone shows the Caller Data screen
        logon(gw, "2101", "3000")
        agent = answerer(gw, "2101", 1000.0, talk_seconds=1.0)
        call = caller(gw, "2105", "6000", timeout=30.0)
        try:
            wait_logged(gw, r"pushed cdata to station 2101", "the Caller Data push to 2101", timeout=30)
            screen = cisco.browser.screen if cisco.browser is not None else None
            assert screen is not None and screen.title == "Caller Data - ID:3000", cisco.diagnostics()
            assert "ANI: 2105" in screen.text and "DNIS: 6000" in screen.text, cisco.diagnostics()
        finally:
            answerer_result(agent)
            caller_result(call)

        # a logoff: "No User" and the extension on the Cisco phone
        wait_state(gw, "3000", "READY", "WORK_READY", timeout=20)
        gw.get_text("/xml/set?ext=2101&to=not-ready")
        since = len(gw.output())
        gw.get_text("/xml/set?ext=2101&to=logout")
        wait_logged(gw, r"pushed idle to station 2101", "the No User push to 2101", since=since)
        screen = cisco.browser.screen if cisco.browser is not None else None
        assert screen is not None and screen.title == "No User 2101", cisco.diagnostics()

        # a Yealink phone: the push presses its XML browser key, whose home page is Caller Data
        logon(gw, "2104", "3003")
        agent = answerer(gw, "2104", 1000.0, talk_seconds=1.0)
        call = caller(gw, "2106", "6000", timeout=30.0)  # 3000 is gone: 6000 hunts to 3003
        try:
            wait_logged(gw, r"pushed cdata to station 2104", "the Caller Data push to 2104", timeout=30)
            screen = yealink.browser.screen if yealink.browser is not None else None
            assert screen is not None and screen.title.startswith("Caller Data - ID:3003"), yealink.diagnostics()
            assert "ANI: 2106" in screen.text, yealink.diagnostics()
        finally:
            answerer_result(agent)
            caller_result(call)

        # the Polycom phone takes a URL push with Digest credentials
        register(gw.sip, "2102", "2103")  # their phones, from 127.0.0.1 (issue 19); no calls ring them
        logon(gw, "2102", "3001", ready=False)
        gw.get_text("/xml/set?ext=2102&to=logout")
        wait_logged(gw, r"pushed idle to station 2102", "the No User push to 2102")
        assert polycom.pushed_urls == [gw.http + "/xml/polycom/idle?ext=2102"]

        # a phone that cannot be reached: logons and logoffs work, one warning in all
        for _ in range(2):
            logon(gw, "2103", "3002", ready=False)
            gw.get_text("/xml/set?ext=2103&to=logout")
            assert {a["user"] for a in gw.get("/api/agents")}.isdisjoint({"3002"})
        wait_logged(gw, r"push of idle to station 2103 .* failed", "the failed push's warning")
        logon(gw, "2103", "3002", ready=False)  # a third push, after the first one failed for sure
        gw.get_text("/xml/set?ext=2103&to=logout")
        for prefix in ("/xml", "/xml/yealink", "/xml/polycom"):  # every dialect draws it
            assert "No User" in gw.get_text(f"{prefix}/idle?ext=2103") and "2103" in gw.get_text(f"{prefix}/idle?ext=2103")
        assert gw.output().count("to station 2103") == 1, gw.output()[-3000:]  # the warning, once
    finally:
        closed.close()


def test_a_feature_key_refused_for_an_owed_wrapup_code_pushes_the_wrapup_menu(
        start_gateway: StartGateway, twins: list[PhoneTwin], tmp_path: Path) -> None:
    """Issue 16: a key cannot ask for the owed code, so it is refused (SIPp's as-feature-event
    phone, tests/support/sipp/feature_event_owed.xml, sees the key stay on wrap-up) and the
    station's Cisco phone is pushed its home page, which is the Wrap-up Data menu then."""
    cisco = CiscoTwin(IdleSoftphone("2101"), username=USER, password=PASSWORD, services_url="", connect=_loopback)
    twins.append(cisco.start())
    config = tmp_path / "site.toml"
    site = demo_site_text().replace("[wrapup]\nrequired = false", "[wrapup]\nrequired = true", 1)
    assert "[wrapup]\nrequired = true" in site
    config.write_text(site + f"""
[[caller_data.push]]
station = "2101"
kind = "cisco"
url = "{cisco.url}/CGI/Execute"
username = "{USER}"
password = "{PASSWORD}"
""")
    gw = start_gateway(config=config)
    cisco.services_url = gw.http + "/xml/?ext=2101"
    logon(gw, "2101", "3000")
    agent = answerer(gw, "2101", 1000.0, talk_seconds=3.0)
    call = caller(gw, "2105", "6000", timeout=30.0)
    try:
        wait_state(gw, "3000", "TALKING", timeout=30)
        gw.get_text("/xml/set?ext=2101&to=work-not-ready")  # no code during the call: owed after it
    finally:
        answerer_result(agent)
        caller_result(call)
    wait_state(gw, "3000", "WORK_NOT_READY", timeout=20)
    assert {a["user"]: a for a in gw.get("/api/agents")}["3000"]["wrapup_owed"]
    users = tmp_path / "key.csv"
    users.write_text("SEQUENTIAL\n2101;[authentication username=2101 password=pw2101]\n")
    since = len(gw.output())
    key = subprocess.run(
        ["sipp", "-sf", str(Path(__file__).parent.parent / "support" / "sipp" / "feature_event_owed.xml"),
         "-inf", str(users), "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-timeout", "30s",
         "-nostdin", "-trace_err", "-error_file", str(tmp_path / "key_errors.log"), f"{gw.sip[0]}:{gw.sip[1]}"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    errors = tmp_path / "key_errors.log"
    assert key.returncode == 0, key.stdout[-2000:] + (errors.read_text()[-2000:] if errors.exists() else "")
    wait_logged(gw, r"pushed home to station 2101", "the Wrap-up Data push to 2101", since=since)
    screen = cisco.browser.screen if cisco.browser is not None else None
    assert screen is not None and screen.title == "Wrap-up Data - ID:3000", cisco.diagnostics()
    view = {a["user"]: a for a in gw.get("/api/agents")}["3000"]
    assert view["wrapup_owed"] and view["state"] == "WORK_NOT_READY"  # the key changed nothing
