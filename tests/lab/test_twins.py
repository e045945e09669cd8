"""Phone twins: each vendor's HTTP API (credentials, malformed requests answered in the
vendor's error format), each driver against its twin, and the twins' XML browsers logging
an agent on and off through a real gateway's `/xml/` service.

The twins act through a recording softphone here (a fake `Endpoint`: what it was asked to
do is the observable); hil_tests run them on pyVoIP and baresip.
"""

from __future__ import annotations

import base64
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from acdgate.lab.drivers.base import (
    DtmfMethod,
    Endpoint,
    EndpointError,
    FeatureKey,
    KeyKind,
    Observation,
    ObservationKind,
    Unsupported,
)
from acdgate.lab.drivers.cisco import CiscoPhone, execute_body
from acdgate.lab.drivers.http_phone import parse_menu
from acdgate.lab.drivers.polycom import CONTENT_TYPE, PolycomPhone, push_body
from acdgate.lab.drivers.yealink import YealinkPhone
from acdgate.lab.gateway_process import GatewayProcess
from acdgate.lab.inventory import EndpointKind, EndpointSpec, PhoneControl
from acdgate.lab.twins.base import AuthScheme, PhoneTwin
from acdgate.lab.twins.cisco import CiscoTwin
from acdgate.lab.twins.phones import TWIN_PASSWORD, TWIN_USER, phone_endpoint
from acdgate.lab.twins.polycom import PolycomTwin
from acdgate.lab.twins.yealink import YealinkTwin, default_keys
from loopback_phone import register

USER, PASSWORD = "admin", "s3cret"


class RecordingSoftphone(Endpoint):
    """A softphone fake: keeps what it was asked to do; a dial is answered at once."""

    dtmf_methods = frozenset({DtmfMethod.RFC4733})

    def __init__(self) -> None:
        super().__init__(EndpointSpec("soft", EndpointKind.BARESIP, "2101", "2101", "pw2101"))
        self.actions: list[str] = []

    def start(self) -> RecordingSoftphone:
        self.actions.append("start")
        return self

    def stop(self) -> None:
        self.actions.append("stop")

    def register(self, timeout: float = 15.0) -> Observation:
        return self.observe(ObservationKind.REGISTERED)

    def dial(self, digits: str) -> None:
        self.actions.append(f"dial {digits}")
        self.observe(ObservationKind.CALL_ANSWERED)

    def _send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        self.actions.append(f"dtmf {digits} {method.value}")

    def answer(self) -> None:
        self.actions.append("answer")
        self.observe(ObservationKind.CALL_ANSWERED)

    def hangup(self) -> None:
        self.actions.append("hangup")
        self.observe(ObservationKind.CALL_ENDED, by="local")


def _loopback(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, 10)


def _raw(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def twins() -> Iterator[list[PhoneTwin]]:
    started: list[PhoneTwin] = []
    yield started
    for twin in started:
        twin.stop()


def _spec(kind: EndpointKind) -> EndpointSpec:
    return EndpointSpec(kind.value, kind, "2101", "2101", "pw2101", control=PhoneControl(twin=True))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(tmp_path_factory.mktemp("gw") / "state").start()
    yield gw
    gw.stop()


# -- Cisco ---------------------------------------------------------------------------------


def _cisco(twins: list[PhoneTwin], soft: Endpoint, services: str = "http://127.0.0.1:9/xml/") -> CiscoTwin:
    twin = CiscoTwin(soft, username=USER, password=PASSWORD, services_url=services, connect=_loopback)
    twins.append(twin.start())
    return twin


def test_cisco_twin_answers_the_cgi_errors(twins: list[PhoneTwin]) -> None:
    soft = RecordingSoftphone()
    url = _cisco(twins, soft).url + "/CGI/Execute"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert _raw("POST", url, execute_body(["Dial:2102"]), form) == (401, '<?xml version="1.0" encoding="utf-8"?>\n'
                                                                         '<CiscoIPPhoneError Number="4"/>\n')
    status, text = _raw("POST", url, execute_body(["Dial:2102"]), {**form, **_basic(USER, "wrong")})
    assert (status, 'Number="4"' in text) == (401, True)
    for bad in (b"XML=%3CCiscoIPPhoneExecute%3E", b"nothing=1", execute_body(["Dial:1"]).replace(b"Execute", b"Text")):
        status, text = _raw("POST", url, bad, {**form, **_basic(USER, PASSWORD)})
        assert (status, 'CiscoIPPhoneError Number="1"' in text) == (200, True), bad
    status, text = _raw("POST", url, execute_body(["Dial:2102", "Key:Bogus"]), {**form, **_basic(USER, PASSWORD)})
    assert status == 200
    assert '<ResponseItem Status="0" Data="Success" URL="Dial:2102"/>' in text
    assert 'Status="1"' in text and "Key:Bogus" in text
    assert soft.actions == ["dial 2102"]
    assert _raw("GET", url, headers=_basic(USER, PASSWORD))[0] == 405


def test_cisco_driver_dials_keys_and_reports_errors(twins: list[PhoneTwin]) -> None:
    soft = RecordingSoftphone()
    twin = _cisco(twins, soft)
    phone = CiscoPhone(_spec(EndpointKind.CISCO), twin.url, USER, PASSWORD, mirror=soft)
    phone.dial("*35*3000*1234#")
    assert phone.wait_for(ObservationKind.CALL_ANSWERED, 1).kind is ObservationKind.CALL_ANSWERED
    phone.send_dtmf("1#", DtmfMethod.RFC4733)
    phone.hangup()  # Key:Speaker in an active call
    phone.press_key(FeatureKey(KeyKind.PROGRAMMED, "*36"))  # Line2 is the *36 speed dial
    assert soft.actions == ["dial *35*3000*1234#", "dtmf 1 rfc4733", "dtmf # rfc4733", "hangup", "dial *36"]
    with pytest.raises(Unsupported, match=r"\*99"):
        phone.press_key(FeatureKey(KeyKind.PROGRAMMED, "*99"))
    wrong = CiscoPhone(_spec(EndpointKind.CISCO), twin.url, USER, "nope", mirror=soft)
    with pytest.raises(EndpointError, match="CiscoIPPhoneError 4"):
        wrong.dial("2102")
    with pytest.raises(EndpointError, match="status 1"):
        phone.press("NavSelect")  # no XML screen is shown


# -- Yealink -------------------------------------------------------------------------------


def _yealink(twins: list[PhoneTwin], soft: Endpoint, menu: str = "http://127.0.0.1:9/xml/yealink/",
             trusted: tuple[str, ...] = ("any",)) -> YealinkTwin:
    twin = YealinkTwin(soft, username=USER, password=PASSWORD, menu_url=menu, connect=_loopback, trusted=trusted)
    twins.append(twin.start())
    return twin


def test_yealink_twin_checks_credentials_and_requests(twins: list[PhoneTwin]) -> None:
    soft = RecordingSoftphone()
    twin = _yealink(twins, soft)
    status, _ = _raw("GET", twin.url + "/servlet?key=L2")
    assert status == 401
    assert _raw("GET", twin.url + "/servlet?key=L2", headers=_basic(USER, "x"))[0] == 401
    assert _raw("GET", twin.url + "/servlet?nokey=1", headers=_basic(USER, PASSWORD))[0] == 400
    status, text = _raw("GET", twin.url + "/servlet?key=FROB", headers=_basic(USER, PASSWORD))
    assert (status, "FROB" in text) == (400, True)
    assert _raw("GET", twin.url + "/cgi-bin/ConfigManApp.com?key=L2", headers=_basic(USER, PASSWORD))[0] == 200
    assert soft.actions == ["dial *36"]
    locked = _yealink(twins, RecordingSoftphone(), trusted=("10.1.4.3",))
    assert _raw("GET", locked.url + "/servlet?key=OK", headers=_basic(USER, PASSWORD))[0] == 403


def test_yealink_driver_over_digest(twins: list[PhoneTwin]) -> None:
    soft = RecordingSoftphone()
    twin = _yealink(twins, soft)
    phone = YealinkPhone(_spec(EndpointKind.YEALINK), twin.url, USER, PASSWORD, outgoing_uri="2101@127.0.0.1",
                         mirror=soft)
    phone.dial("#3000")
    phone.send_dtmf("12", DtmfMethod.RFC4733)
    phone.hangup()
    phone.press_key(FeatureKey(KeyKind.PROGRAMMED, "*37"))
    assert soft.actions == ["dial #3000", "dtmf 1 rfc4733", "dtmf 2 rfc4733", "hangup", "dial *37"]
    assert set(twin.credentials.accepted) == {AuthScheme.DIGEST}  # the phone offers Digest first
    wrong = YealinkPhone(_spec(EndpointKind.YEALINK), twin.url, USER, "bad", mirror=soft)
    with pytest.raises(EndpointError, match="401"):
        wrong.dial("2102")


# -- Polycom -------------------------------------------------------------------------------


def test_polycom_twin_push_api(twins: list[PhoneTwin]) -> None:
    soft = RecordingSoftphone()
    twin = PolycomTwin(soft, username=USER, password=PASSWORD, message_type=4, server_root_url="http://gw:8080")
    twins.append(twin.start())
    url = twin.url + "/push"
    status, _ = _raw("POST", url, push_body(["tel:\\\\2102"]), {"Content-Type": CONTENT_TYPE})
    assert status == 401
    basic = _raw("POST", url, push_body(["tel:\\\\2102"]), {"Content-Type": CONTENT_TYPE, **_basic(USER, PASSWORD)})
    assert basic[0] == 401  # the push server takes Digest only
    phone = PolycomPhone(_spec(EndpointKind.POLYCOM), twin.url, USER, PASSWORD, mirror=soft)
    phone.dial("*35*3001*1234#")
    assert twin.credentials.accepted == [AuthScheme.DIGEST]
    phone.push("Key:Line1", "Key:DialPad2", "Key:DialPad1", "Key:DialPadPound", "Key:Softkey1")
    phone.press_key(FeatureKey(KeyKind.PROGRAMMED, "*36"))
    assert soft.actions == ["dial *35*3001*1234#", "dial 21#", "dial *36"]
    normal = phone.http.request("POST", "/push", push_body(["Key:Line1"], "Normal"), {"Content-Type": CONTENT_TYPE})
    assert normal.status == 403  # apps.push.messageType 4: Critical only
    assert phone.http.request("POST", "/push", b"<nope/>", {"Content-Type": CONTENT_TYPE}).status == 400
    assert phone.http.request("POST", "/push", push_body(["Key:Line1"]), {"Content-Type": "text/xml"}).status == 400
    assert phone.http.request("POST", "/push", b"<PolycomIPPhone><URL priority=\"Critical\">/a.xhtml</URL>"
                              b"</PolycomIPPhone>", {"Content-Type": CONTENT_TYPE}).status == 200
    assert twin.pushed_urls == ["http://gw:8080/a.xhtml"]
    with pytest.raises(Unsupported):
        phone.press_key(FeatureKey(KeyKind.MENU, "services"))


# -- the XML browsers against the gateway's phone service -----------------------------------


def _agent(gw: GatewayProcess, user: str) -> dict[str, object] | None:
    return next((a for a in gw.get("/api/agents") if a["user"] == user), None)


LOGIN = "services type:3000 down type:1234 soft:1"
LOGOUT = "services soft:3 item:3 item:1"  # Skill Stats > State > Logout > reason 1


def test_cisco_twin_logs_on_and_off_through_the_services_menu(twins: list[PhoneTwin], gateway: GatewayProcess) -> None:
    register(gateway.sip, "2101")  # the phone's line, from the twin's host (issue 19: the fake softphone registers nothing)
    soft = RecordingSoftphone()
    twin = _cisco(twins, soft, services=f"{gateway.http}/xml/?ext=2101")
    phone = CiscoPhone(_spec(EndpointKind.CISCO), twin.url, USER, PASSWORD, mirror=soft)
    phone.press_key(FeatureKey(KeyKind.MENU, LOGIN))
    assert twin.browser is not None and twin.browser.screen is not None
    assert twin.browser.screen.title == "Skill Stats - ID:3000", twin.diagnostics()
    agent = _agent(gateway, "3000")
    assert agent is not None and (agent["station"], agent["state"]) == ("2101", "NOT_READY")
    phone.press_key(FeatureKey(KeyKind.MENU, LOGOUT))
    assert twin.browser.screen is not None and twin.browser.screen.title == "Agent Login", twin.diagnostics()
    assert _agent(gateway, "3000") is None
    assert soft.actions == []  # all of it over HTTP: no call


def test_yealink_twin_logs_on_and_off_through_its_xml_browser_key(twins: list[PhoneTwin],
                                                                   gateway: GatewayProcess) -> None:
    register(gateway.sip, "2102")  # the phone's line, from the twin's host (issue 19: the fake softphone registers nothing)
    soft = RecordingSoftphone()
    twin = _yealink(twins, soft, menu=f"{gateway.http}/xml/yealink/?ext=2102")
    assert default_keys("u")["L5"] == ("xml", "u")
    phone = YealinkPhone(_spec(EndpointKind.YEALINK), twin.url, USER, PASSWORD, mirror=soft)
    phone.press_key(FeatureKey(KeyKind.MENU, LOGIN.replace("3000", "3001")))
    agent = _agent(gateway, "3001")
    assert agent is not None and agent["station"] == "2102", twin.diagnostics()
    phone.press_key(FeatureKey(KeyKind.MENU, LOGOUT))
    assert _agent(gateway, "3001") is None, twin.diagnostics()


def test_a_wrong_pin_on_the_menu_shows_the_gateway_error(twins: list[PhoneTwin], gateway: GatewayProcess) -> None:
    register(gateway.sip, "2103")  # the phone's line, from the twin's host (issue 19: the fake softphone registers nothing)
    twin = _cisco(twins, RecordingSoftphone(), services=f"{gateway.http}/xml/?ext=2103")
    phone = CiscoPhone(_spec(EndpointKind.CISCO), twin.url, USER, PASSWORD)
    phone.press_key(FeatureKey(KeyKind.MENU, "services type:3002 down type:9999 soft:1"))
    assert twin.browser is not None and twin.browser.screen is not None
    assert "invalid agent ID or password" in twin.browser.screen.text
    assert _agent(gateway, "3002") is None
    with pytest.raises(EndpointError, match="real cisco phone reports no"):
        phone.wait_for(ObservationKind.CALL_ANSWERED, 0.1)  # no mirror: a real phone


def test_menu_steps_are_checked() -> None:
    assert [s.action.value for s in parse_menu("services type:12*# down up soft:2 item:3")] == [
        "services", "type", "down", "up", "soft", "item"]
    for bad in ("jump", "type:12a", "soft:x", "item:0"):
        with pytest.raises(ValueError):
            parse_menu(bad)


def test_phone_endpoint_builds_a_twin_driving_its_softphone(tmp_path: Path) -> None:
    soft = RecordingSoftphone()
    phone = phone_endpoint(_spec(EndpointKind.YEALINK), gateway_http="http://127.0.0.1:9", sip_host="127.0.0.1",
                           softphone=soft, connect=_loopback)
    with phone:
        assert phone.http.username == TWIN_USER and phone.http.password == TWIN_PASSWORD
        assert phone.register().kind is ObservationKind.REGISTERED
        phone.press_key(FeatureKey(KeyKind.PROGRAMMED, "*36"))
    assert soft.actions == ["start", "dial *36", "stop"]
