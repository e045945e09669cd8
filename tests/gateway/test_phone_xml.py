"""The IP Phone Agent XML service served by the real twisted.web on loopback.

Every screen is fetched over HTTP, parsed with ElementTree and checked against the shape of
its Cisco (or Yealink) object; state changes go through the menu URLs the screens hand out,
and the outcome is checked on the ACD engine (behind a real AcdService and StateStore).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted
from acdgate.acd.commands import CallAnswered, CallArrived, CallEnded
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.sip.registrar import Binding, Registrar, credentials_from_site
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from acdgate.gateway.web.http_api import make_site
from acdgate.gateway.web.phone_xml import (
    PhoneAgentService,
    make_phone_resource,
    registered_hosts,
    station_by_registration,
)
from acdgate.lab.gateway_process import StartGateway
from loopback_phone import register
from twisted.internet import reactor
from twisted.web.client import Agent, readBody

# twisted.web.client's own Response transport lacks abortConnection; not our code.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using readBody with a transport that does not have an abortConnection"
)

CISCO_SOFT_KEY_URIS = {"SoftKey:Submit", "SoftKey:<<", "SoftKey:Exit", "SoftKey:Select"}
YEALINK_SOFT_KEY_URIS = {"SoftKey:Submit", "SoftKey:BackSpace", "SoftKey:Exit", "SoftKey:Select"}


# -- shape checkers, one per object type ----------------------------------------------------


@dataclass
class Doc:
    """A fetched screen: root tag, title, status line, soft keys, menu items or fields."""

    status_code: int
    headers: dict[str, str]
    root: ET.Element
    title: str = ""
    prompt: str = ""  # Cisco <Prompt> (the guide's status line)
    text: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # label -> URL
    items: list[tuple[str, str]] = field(default_factory=list)  # (label, URL)
    fields: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    @property
    def tag(self) -> str:
        return self.root.tag

    def item(self, label: str) -> str:
        urls = [u for name, u in self.items if name == label]
        assert len(urls) == 1, (label, self.items)
        return urls[0]


def _only(root: ET.Element, allowed: set[str]) -> None:
    extra = {c.tag for c in root} - allowed
    assert not extra, f"{root.tag}: unexpected children {extra}"


def _text(el: ET.Element | None) -> str:
    assert el is not None
    return el.text or ""


def _cisco_soft_keys(doc: Doc) -> None:
    positions = []
    for key in doc.root.findall("SoftKeyItem"):
        _only(key, {"Name", "URL", "Position"})
        name, url = _text(key.find("Name")), _text(key.find("URL"))
        assert url in CISCO_SOFT_KEY_URIS or url.startswith("http://127.0.0.1:"), url
        positions.append(int(_text(key.find("Position"))))
        doc.keys[name] = url
    assert len(positions) <= 8 and positions == list(range(1, len(positions) + 1))


def _cisco_header(doc: Doc) -> None:
    doc.title = _text(doc.root.find("Title"))
    assert 0 < len(doc.title) <= 32
    prompt = doc.root.find("Prompt")
    doc.prompt = _text(prompt) if prompt is not None else ""
    assert len(doc.prompt) <= 32


def check_cisco_input(doc: Doc) -> Doc:
    assert doc.tag == "CiscoIPPhoneInput"
    _only(doc.root, {"Title", "Prompt", "URL", "InputItem", "SoftKeyItem"})
    _cisco_header(doc)
    doc.url = _text(doc.root.find("URL"))
    for item in doc.root.findall("InputItem"):
        _only(item, {"DisplayName", "QueryStringParam", "DefaultValue", "InputFlags"})
        doc.fields.append({c.tag: c.text or "" for c in item})
        assert re.fullmatch(r"[ATNEUL]P?", doc.fields[-1]["InputFlags"])
    assert 1 <= len(doc.fields) <= 5
    _cisco_soft_keys(doc)
    return doc


def check_cisco_menu(doc: Doc) -> Doc:
    assert doc.tag == "CiscoIPPhoneMenu"
    _only(doc.root, {"Title", "Prompt", "MenuItem", "SoftKeyItem"})
    _cisco_header(doc)
    for item in doc.root.findall("MenuItem"):
        _only(item, {"Name", "URL"})
        name, url = _text(item.find("Name")), _text(item.find("URL"))
        assert 0 < len(name) <= 64 and url.startswith("http://127.0.0.1:")
        doc.items.append((name, url))
    assert 1 <= len(doc.items) <= 100
    _cisco_soft_keys(doc)
    assert doc.keys.get("Select") == "SoftKey:Select"
    return doc


def check_cisco_text(doc: Doc) -> Doc:
    assert doc.tag == "CiscoIPPhoneText"
    _only(doc.root, {"Title", "Prompt", "Text", "SoftKeyItem"})
    _cisco_header(doc)
    doc.text = _text(doc.root.find("Text"))
    assert 0 < len(doc.text) <= 4000
    _cisco_soft_keys(doc)
    return doc


def _yealink_soft_keys(doc: Doc) -> None:
    indexes = []
    for key in doc.root.findall("SoftKey"):
        _only(key, {"Label", "URI"})
        label, uri = _text(key.find("Label")), _text(key.find("URI"))
        assert uri in YEALINK_SOFT_KEY_URIS or uri.startswith("http://127.0.0.1:"), uri
        indexes.append(int(key.get("index", "0")))
        doc.keys[label] = uri
    assert indexes == list(range(1, len(indexes) + 1))


def check_yealink_input(doc: Doc) -> Doc:
    assert doc.tag == "YealinkIPPhoneInputScreen"
    _only(doc.root, {"Title", "URL", "InputField", "SoftKey"})
    doc.title = _text(doc.root.find("Title"))
    doc.url = _text(doc.root.find("URL"))
    for item in doc.root.findall("InputField"):
        _only(item, {"Prompt", "Parameter", "Default"})
        assert item.get("type") in ("string", "number") and item.get("password") in ("yes", "no")
        doc.fields.append({c.tag: c.text or "" for c in item} | dict(item.attrib))
    _yealink_soft_keys(doc)
    return doc


def check_yealink_menu(doc: Doc) -> Doc:
    assert doc.tag == "YealinkIPPhoneTextMenu"
    _only(doc.root, {"Title", "MenuItem", "SoftKey"})
    doc.title = _text(doc.root.find("Title"))
    for item in doc.root.findall("MenuItem"):
        _only(item, {"Prompt", "URI"})
        doc.items.append((_text(item.find("Prompt")), _text(item.find("URI"))))
    assert 1 <= len(doc.items) <= 30
    _yealink_soft_keys(doc)
    return doc


def check_yealink_text(doc: Doc) -> Doc:
    assert doc.tag == "YealinkIPPhoneTextScreen"
    _only(doc.root, {"Title", "Text", "SoftKey"})
    doc.title = _text(doc.root.find("Title"))
    doc.text = _text(doc.root.find("Text"))
    _yealink_soft_keys(doc)
    return doc


CHECKERS = {
    "CiscoIPPhoneInput": check_cisco_input,
    "CiscoIPPhoneMenu": check_cisco_menu,
    "CiscoIPPhoneText": check_cisco_text,
    "YealinkIPPhoneInputScreen": check_yealink_input,
    "YealinkIPPhoneTextMenu": check_yealink_menu,
    "YealinkIPPhoneTextScreen": check_yealink_text,
}


# -- a served phone service -------------------------------------------------------------


class Recorder:
    """A stand-in for the recording service the gateway will have: flags per user."""

    def __init__(self) -> None:
        self.flags: dict[str, set[str]] = {}

    def notices(self, user_id: str) -> set[str]:
        return self.flags.get(user_id, set())

    def control(self, user_id: str, start: bool) -> str | None:
        notices = self.flags.setdefault(user_id, set())
        if not start and "Rec" not in notices:
            return "Not recording."
        (notices.add if start else notices.discard)("Rec")
        return None


class _EmptyView:
    def stations_view(self) -> list[dict[str, Any]]:
        return []

    def agents_view(self) -> list[dict[str, Any]]:
        return []

    def groups_view(self) -> list[dict[str, Any]]:
        return []


@dataclass
class Served:
    base: str
    service: AcdService
    store: StateStore
    recorder: Recorder
    agent: Agent
    registrar: Registrar
    # a browser on another host of the LAN (issue 19): the phones register from 127.0.0.1
    elsewhere: Agent = field(default_factory=lambda: Agent(reactor, bindAddress=("127.0.0.2", 0)))

    @property
    def acd(self) -> Any:
        return self.service.acd

    async def get(self, url: str, *, agent: Agent | None = None) -> Doc:
        if not url.startswith("http"):
            url = self.base + url
        response = await (agent or self.agent).request(b"GET", url.encode())
        body = await readBody(response)
        headers = {k.decode().lower(): v[0].decode() for k, v in response.headers.getAllRawHeaders()}
        doc = Doc(response.code, headers, ET.fromstring(body))
        media_type, _, charset = headers["content-type"].partition("; charset=")
        assert media_type == "text/xml"
        # the demo site is English: Latin-1 for Cisco phones, UTF-8 for Yealink's browser
        assert charset == ("utf-8" if "/xml/yealink/" in url else "iso-8859-1")
        assert body.startswith(f'<?xml version="1.0" encoding="{charset}"?>'.encode())
        return CHECKERS[doc.tag](doc)

    async def login(self, user: str, ext: str, pin: str = "1234", prefix: str = "/xml") -> Doc:
        form = await self.get(f"{prefix}/login?ext={ext}")
        return await self.get(f"{form.url}?id={user}&pin={pin}&ext={ext}")


@pytest_twisted.async_yield_fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    store = StateStore(tmp_path)
    acd_site = load_site(None)
    service = AcdService(reactor, acd_site, store)
    recorder = Recorder()
    phones = PhoneAgentService(
        service, recording_flags=recorder.notices, recording_control=recorder.control
    )
    registrar = Registrar(acd_site.sip, credentials_from_site(acd_site), b"k" * 32)
    lookup = station_by_registration(acd_site, registrar, reactor)
    # every station's phone registered from 127.0.0.1 (a registrar of their own, so that the
    # lookup by source address above stays for the test that binds stations to it)
    phones_registrar = Registrar(acd_site.sip, credentials_from_site(acd_site), b"k" * 32)
    now = float(reactor.seconds())  # type: ignore[attr-defined]
    phones_registrar.restore([
        Binding(s.sip_username, f"sip:{s.sip_username}@127.0.0.1:{6000 + n}", now + 3600, f"p{n}", 1,
                ("127.0.0.1", 6000 + n), "UDP") for n, s in enumerate(acd_site.stations)], now)
    xml = make_phone_resource(phones, station_lookup=lookup,
                              station_hosts=registered_hosts(acd_site, phones_registrar, reactor))
    site = make_site(_EmptyView(), extra_children={b"xml": xml})
    port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port.getHost().port}"
    try:
        yield Served(base, service, store, recorder, Agent(reactor), registrar)
    finally:
        service.stop()
        await port.stopListening()
        store.close()


def query(url: str) -> dict[str, str]:
    """The URL's path and query, without the session token (`sid`: its own tests below)."""
    parts = urlsplit(url)
    return {k: v[0] for k, v in parse_qs(parts.query).items() if k != "sid"} | {"path": parts.path}


# -- tests --------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_login_screen_then_skill_stats_in_not_ready(served: Served) -> None:
    form = await served.get("/xml/?ext=2101")
    assert form.tag == "CiscoIPPhoneInput" and form.title == "Agent Login"
    assert [(f["QueryStringParam"], f["InputFlags"]) for f in form.fields] == [
        ("id", "A"), ("pin", "NP"), ("ext", "N"),
    ]
    assert form.fields[2]["DefaultValue"] == "2101"
    assert form.keys == {"Submit": "SoftKey:Submit", "<<": "SoftKey:<<", "Exit": "SoftKey:Exit"}
    assert form.url == served.base + "/xml/login"

    # a call waits in 6000 (nobody is ready): CIQ 1 there, 0 elsewhere
    served.service.execute(CallArrived("q1", "6000", ani="2301", dnis="6000"))
    stats = await served.get(f"{form.url}?id=3000&pin=1234&ext=2101")
    assert stats.tag == "CiscoIPPhoneText"
    assert (stats.title, stats.prompt) == ("Skill Stats - ID:3000", "Not Ready")
    assert served.acd.agent_at_station("2101").state is AgentState.NOT_READY
    rows = stats.text.splitlines()
    assert rows[0].split() == ["LQT", "CIQ", "Queue"]
    parsed = [re.fullmatch(r"\s*(\d+:\d\d:\d\d)\s+(\d+) (\d+) .*", r) for r in rows[1:]]
    assert all(parsed), rows
    assert {m.group(3): int(m.group(2)) for m in parsed if m} == {"6000": 1, "6001": 0, "6002": 0}
    assert set(stats.keys) == {"Update", "CData", "State"}  # no Option: not on a call
    assert query(stats.keys["Update"]) == {"ext": "2101", "path": "/xml/stats"}
    # the Update key's URL, with the station's session token (issue 19)
    assert stats.headers["refresh"] == f"10; url={stats.keys['Update']}"
    assert stats.keys["Update"].startswith(f"{served.base}/xml/stats?ext=2101&sid=")
    served.service.execute(CallEnded("q1"))


@pytest_twisted.ensureDeferred
async def test_change_state_lists_only_allowed_states(served: Served) -> None:
    stats = await served.login("3000", "2101")
    menu = await served.get(stats.keys["State"])
    assert menu.tag == "CiscoIPPhoneMenu" and menu.title == "Change State - ID:3000"
    assert menu.prompt == "Not Ready"
    assert [name for name, _ in menu.items] == ["Ready", "Not Ready", "Logout"]
    assert query(menu.item("Ready")) == {"ext": "2101", "to": "ready", "path": "/xml/set"}
    assert query(menu.item("Not Ready"))["path"] == "/xml/reason"
    assert query(menu.item("Logout")) == {"ext": "2101", "to": "logout", "path": "/xml/reason"}
    assert set(menu.keys) == {"Select", "CData", "Stats"}

    ready = await served.get(menu.item("Ready"))
    assert (ready.tag, ready.prompt) == ("CiscoIPPhoneText", "Ready")
    assert served.acd.agent("3000").state is AgentState.READY
    menu = await served.get(ready.keys["State"])
    assert [name for name, _ in menu.items] == ["Not Ready"]
    assert menu.prompt == "Ready"


@pytest_twisted.ensureDeferred
async def test_reason_code_menus_for_not_ready_and_logout(served: Served) -> None:
    stats = await served.login("3000", "2101")
    menu = await served.get(stats.keys["State"])
    reasons = await served.get(menu.item("Not Ready"))
    assert reasons.tag == "CiscoIPPhoneMenu" and reasons.title == "Reason Code - ID:3000"
    assert [name for name, _ in reasons.items] == ["Break", "Paperwork", "Lunch"]
    assert set(reasons.keys) == {"Select", "Stats"}
    after = await served.get(reasons.item("Lunch"))
    assert after.prompt == "Not Ready"
    agent = served.acd.agent("3000")
    assert (agent.state, agent.reason_code) == (AgentState.NOT_READY, 3)

    logout_reasons = await served.get(menu.item("Logout"))
    assert [name for name, _ in logout_reasons.items] == ["End of shift", "Meeting"]
    login = await served.get(logout_reasons.item("Meeting"))
    assert login.tag == "CiscoIPPhoneInput" and login.title == "Agent Login"
    assert served.acd.agent_at_station("2101") is None
    journal = list(served.store.journal())
    assert any(r.get("type") == "LoggedOut" and r.get("reason_code") == 2 for r in journal)


@pytest_twisted.ensureDeferred
async def test_wrong_pin_error_screen_and_lockout_after_four(served: Served) -> None:
    for attempt in range(1, 4):
        error = await served.login("3001", "2102", pin="9999")
        assert error.tag == "CiscoIPPhoneText" and error.title == "Agent Login"
        assert "invalid agent ID or password" in error.text and "locked" not in error.text
        assert query(error.keys["OK"])["path"] == "/xml/login"
        assert served.acd.pin_failures("3001") == attempt
    fourth = await served.login("3001", "2102", pin="9999")
    assert "locked for 90 s" in fourth.text
    right_pin = await served.login("3001", "2102", pin="1234")
    assert right_pin.tag == "CiscoIPPhoneText" and "locked" in right_pin.text
    assert served.acd.agent_at_station("2102") is None


@pytest_twisted.ensureDeferred
async def test_forced_login_menu_offers_one_and_two(served: Served) -> None:
    await served.login("3000", "2101")
    forced = await served.login("3000", "2102")
    assert forced.tag == "CiscoIPPhoneMenu" and forced.title == "Forced Login"
    assert len(forced.items) == 2
    one, two = forced.items
    assert "Press '1' to log other agent out" in one[0]
    assert "Press '2' to log in with another name or extension" in two[0]
    assert "1234" not in one[1]  # the PIN never travels in a URL
    assert set(forced.keys) == {"Select", "Exit"}
    again = await served.get(two[1])
    assert again.tag == "CiscoIPPhoneInput"
    assert served.acd.agent_at_station("2101").user_id == "3000"

    stats = await served.get(one[1])
    assert (stats.title, stats.prompt) == ("Skill Stats - ID:3000", "Not Ready")
    assert served.acd.agent("3000").station == "2102"
    assert served.acd.agent_at_station("2101") is None
    reused = await served.get(one[1])
    assert reused.tag == "CiscoIPPhoneText" and "expired" in reused.text


@pytest_twisted.ensureDeferred
async def test_logout_refused_from_ready(served: Served) -> None:
    stats = await served.login("3000", "2101")
    await served.get(query_url(served, "/xml/set", ext="2101", to="ready"))
    refused = await served.get(query_url(served, "/xml/set", ext="2101", to="logout"))
    assert refused.tag == "CiscoIPPhoneText" and refused.prompt == "Ready"
    assert "Logout refused" in refused.text
    assert "only when your agent state is Not Ready" in refused.text
    assert query(refused.keys["OK"])["path"] == "/xml/state"
    assert served.acd.agent("3000").state is AgentState.READY
    assert stats.keys  # the agent never left the station
    assert served.acd.agent_at_station("2101").user_id == "3000"


def query_url(served: Served, path: str, **params: str) -> str:
    return served.base + path + "?" + "&".join(f"{k}={v}" for k, v in params.items())


@pytest_twisted.ensureDeferred
async def test_call_screens_options_and_wrapup(served: Served) -> None:
    await served.login("3000", "2101")
    await served.get(query_url(served, "/xml/set", ext="2101", to="ready"))
    data = (("Account", "A&B <7>"), ("Tier", "gold"))
    served.service.execute(CallArrived("c1", "6000", ani="2301", dnis="6000", data=data))
    served.service.execute(CallAnswered("c1", "3000"))

    cdata = await served.get("/xml/?ext=2101")  # on a call the service opens on Caller Data
    assert cdata.title == "Caller Data - ID:3000" and cdata.prompt == "Talking"
    lines = cdata.text.splitlines()
    assert lines[:3] == ["Layout: Default", "ANI: 2301", "DNIS: 6000"]
    assert "Account: A&B <7>" in lines and "Tier: gold" in lines  # escaped, parsed back
    assert set(cdata.keys) == {"Stats", "Option"}

    options = await served.get(cdata.keys["Option"])
    assert options.tag == "CiscoIPPhoneMenu" and options.title == "Options - ID:3000"
    assert [name for name, _ in options.items] == ["Start recording"]
    recording = await served.get(options.item("Start recording"))
    assert recording.title == "Skill Stats - ID:3000" and recording.prompt == "Talking : Rec"
    options = await served.get(recording.keys["Option"])
    assert [name for name, _ in options.items] == ["Stop recording"]
    served.recorder.flags["3000"].add("Mon")
    both = await served.get(cdata.keys["Stats"])
    assert both.prompt == "Talking : Rec/Mon"

    menu = await served.get(both.keys["State"])
    assert [n for n, _ in menu.items] == ["Ready", "Not Ready", "Work Ready", "Work Not Ready"]
    assert set(menu.keys) == {"Select", "CData", "Stats", "Option"}
    wrapup = await served.get(menu.item("Work Ready"))
    assert wrapup.title == "Wrap-up Data - ID:3000"
    assert [n for n, _ in wrapup.items] == ["Update customer record", "Log customer call"]
    pending = await served.get(wrapup.item("Log customer call"))
    assert pending.prompt == "Talking : Rec/Mon"  # guide: the screen keeps showing Talking
    assert served.acd.agent("3000").pending_state is AgentState.WORK_READY

    served.service.execute(CallEnded("c1"))
    served.recorder.flags.clear()
    agent = served.acd.agent("3000")
    assert (agent.state, agent.wrapup_code) == (AgentState.WORK_READY, 2)
    after = await served.get(pending.keys["CData"])
    assert after.prompt == "Work Ready" and "no current call" in after.text
    no_options = await served.get(options.keys["Stats"].replace("stats", "options"))
    assert no_options.tag == "CiscoIPPhoneText" and "active call" in no_options.text


@pytest_twisted.ensureDeferred
async def test_yealink_objects(served: Served) -> None:
    form = await served.get("/xml/yealink/?ext=2103")
    assert form.tag == "YealinkIPPhoneInputScreen"
    assert [(f["Parameter"], f["password"]) for f in form.fields] == [
        ("id", "no"), ("pin", "yes"), ("ext", "no"),
    ]
    assert form.keys == {
        "Submit": "SoftKey:Submit", "<<": "SoftKey:BackSpace", "Exit": "SoftKey:Exit",
    }
    assert form.url == served.base + "/xml/yealink/login"
    stats = await served.get(f"{form.url}?id=3005&pin=1234&ext=2103")
    assert stats.tag == "YealinkIPPhoneTextScreen" and stats.title == "Skill Stats - ID:3005"
    assert stats.text.splitlines()[-1] == "Not Ready"
    assert "6500 Support" in stats.text and "6003 Everyone" in stats.text
    menu = await served.get(stats.keys["State"])
    assert menu.tag == "YealinkIPPhoneTextMenu"
    assert menu.title == "Change State - ID:3005 - Not Ready"
    assert [n for n, _ in menu.items] == ["Ready", "Not Ready", "Logout"]
    assert all(query(u)["path"].startswith("/xml/yealink/") for _, u in menu.items)
    assert menu.keys["Select"] == "SoftKey:Select"
    reasons = await served.get(menu.item("Not Ready"))
    assert [n for n, _ in reasons.items] == ["Break", "Paperwork", "Lunch"]
    await served.get(reasons.item("Break"))
    assert served.acd.agent("3005").reason_code == 1


@pytest_twisted.ensureDeferred
async def test_unknown_station_unidentified_phone_and_store_failure(served: Served) -> None:
    unknown = await served.get("/xml/stats?ext=9999")
    assert unknown.tag == "CiscoIPPhoneText" and "9999 is not a station" in unknown.text
    anonymous = await served.get("/xml/state")
    assert "not identified" in anonymous.text
    form = await served.get("/xml/")  # no ext: the agent types the extension
    assert form.tag == "CiscoIPPhoneInput" and form.fields[2]["DefaultValue"] == ""
    missing = await served.get("/xml/nosuchpage?ext=2101")
    assert missing.status_code == 404 and missing.tag == "CiscoIPPhoneText"

    served.store.close()  # the journal cannot be written: the guide's failure message
    failed = await served.login("3002", "2104")
    assert failed.text == "Unable to communicate with the IP Phone Agent service."


@pytest_twisted.ensureDeferred
async def test_station_from_the_registration_source_address(served: Served) -> None:
    def bind(username: str, port: int) -> Binding:
        now = float(reactor.seconds())  # type: ignore[attr-defined]
        return Binding(username, f"sip:{username}@127.0.0.1:{port}", now + 300, f"c{port}", 1,
                       ("127.0.0.1", port), "UDP")

    served.registrar.restore([bind("2107", 5070)], float(reactor.seconds()))  # type: ignore[attr-defined]
    form = await served.get("/xml/")  # no ext: the phone registered from 127.0.0.1 is 2107
    assert form.fields[2]["DefaultValue"] == "2107"
    stats = await served.get(f"{form.url}?id=3007&pin=1234&ext=2107")
    assert stats.title == "Skill Stats - ID:3007"
    assert (await served.get("/xml/state")).title == "Change State - ID:3007"
    served.registrar.restore([bind("2108", 5071)], float(reactor.seconds()))  # type: ignore[attr-defined]
    ambiguous = await served.get("/xml/state")  # two stations on one host: no guess
    assert "not identified" in ambiguous.text


@pytest.mark.parametrize("state", [AgentState.NOT_READY, AgentState.READY])
def test_menu_matches_engine(state: AgentState, tmp_path: Path) -> None:
    """The Change State items are exactly `allowed_transitions` (no HTTP needed)."""
    from acdgate.acd.commands import Login, SetState
    from acdgate.gateway.web.phone_screens import (
        CHOICE_LABELS,
        AgentScreenState,
        Links,
        change_state_menu,
    )
    from twisted.internet.task import Clock

    store = StateStore(tmp_path)
    service = AcdService(Clock(), load_site(None), store)
    service.execute(Login("3004", "1234", "2105"))
    if state is AgentState.READY:
        service.execute(SetState("3004", AgentState.READY))
    view = service.acd.agent("3004")
    allowed = service.acd.allowed_transitions("3004")
    screen = change_state_menu(
        Links("http://gw/xml", "2105"),
        AgentScreenState(view, "x", recording=False),
        allowed,
        reason_codes=True,
        logout_codes=False,
        wrapup_codes=True,
    )
    assert [i.label for i in screen.items] == [CHOICE_LABELS[c] for c in allowed]
    service.stop()
    store.close()


@pytest.mark.slow
def test_running_gateway_serves_phone_xml(start_gateway: StartGateway) -> None:
    """`acdgate run` mounts the service: login over /xml/ changes the agent in /api/agents."""
    import urllib.request

    gateway = start_gateway()

    def fetch(url: str) -> Doc:
        with urllib.request.urlopen(url, timeout=10) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            doc = Doc(response.status, headers, ET.fromstring(response.read()))
        return CHECKERS[doc.tag](doc)

    register(gateway.sip, "2106")  # the phone of 2106, from 127.0.0.1 (issue 19)
    form = fetch(gateway.http + "/xml/?ext=2106")
    assert form.tag == "CiscoIPPhoneInput" and form.url == gateway.http + "/xml/login"
    stats = fetch(f"{form.url}?id=3006&pin=1234&ext=2106")
    assert (stats.title, stats.prompt) == ("Skill Stats - ID:3006", "Not Ready")
    yealink = fetch(gateway.http + "/xml/yealink/state?ext=2106")
    assert [n for n, _ in yealink.items] == ["Ready", "Not Ready", "Logout"]
    agents = gateway.get("/api/agents")
    assert [(a["user"], a["station"], a["state"]) for a in agents] == [
        ("3006", "2106", "NOT_READY")
    ]
    assert gateway.stop() == 0


# -- issue 19: a screen acts for a station only from its phone (or with its session token) --


def refusals(served: Served) -> list[tuple[str, str, str]]:
    """The journaled `PhoneRequestRefused` records: (station, source, page)."""
    return [(r["station"], r["source"], r["page"])
            for r in served.store.journal(kinds=["PhoneRequestRefused"])]


@pytest_twisted.ensureDeferred
async def test_another_host_cannot_log_on_log_off_force_or_record(served: Served) -> None:
    other = served.elsewhere
    # a login with the right PIN, from a browser on another host: refused, nobody logged on
    page = await served.get(query_url(served, "/xml/login", id="3000", pin="1234", ext="2101"), agent=other)
    assert page.tag == "CiscoIPPhoneText"
    assert "only from the phone registered as extension 2101" in page.text
    assert served.acd.agent_at_station("2101") is None
    # its wrong PINs do not count either: no lock-out of 3000 from elsewhere
    for _ in range(6):
        await served.get(query_url(served, "/xml/login", id="3000", pin="0000", ext="2101"), agent=other)
    assert served.acd.pin_failures("3000") == 0

    # the phone itself (registered from 127.0.0.1) logs on, goes Ready and onto a call
    stats = await served.login("3000", "2101")
    assert stats.title == "Skill Stats - ID:3000"
    await served.get(query_url(served, "/xml/set", ext="2101", to="ready"))
    served.service.execute(CallArrived("c9", "6000", ani="2301", dnis="6000"))
    served.service.execute(CallAnswered("c9", "3000"))
    for path, params in (("/xml/set", {"to": "not-ready"}), ("/xml/record", {"on": "1"}),
                         ("/xml/yealink/set", {"to": "not-ready"}),
                         ("/xml/yealink/record", {"on": "1"})):
        refused = await served.get(query_url(served, path, ext="2101", **params), agent=other)
        assert "did not come from the phone registered as extension 2101" in (
            refused.text or ET.tostring(refused.root, encoding="unicode")), path
    assert served.acd.agent("3000").pending_state is None
    assert served.recorder.flags.get("3000", set()) == set()
    served.service.execute(CallEnded("c9"))

    # a forced login from elsewhere: refused even with the pending login's token
    forced = await served.login("3001", "2101")
    assert forced.title == "Forced Login"
    one = forced.items[0][1]
    stolen = await served.get(one.split("&sid=")[0] if "&sid=" in one else one, agent=other)
    assert "did not come from the phone" in stolen.text
    assert served.acd.agent_at_station("2101").user_id == "3000"
    # logout from elsewhere: refused; the phone logs out
    await served.get(query_url(served, "/xml/set", ext="2101", to="not-ready"))
    out = await served.get(query_url(served, "/xml/set", ext="2101", to="logout"), agent=other)
    assert "did not come from the phone" in out.text
    assert served.acd.agent_at_station("2101") is not None
    await served.get(query_url(served, "/xml/set", ext="2101", to="logout"))
    assert served.acd.agent_at_station("2101") is None

    journaled = refusals(served)
    assert ("2101", "127.0.0.2", "login") in journaled and ("2101", "127.0.0.2", "record") in journaled
    assert ("2101", "127.0.0.2", "forced") in journaled and ("2101", "127.0.0.2", "set") in journaled
    assert all(source == "127.0.0.2" for _, source, _ in journaled)
    # browsing (nothing changes) stays open
    assert (await served.get("/xml/stats?ext=2101", agent=other)).tag == "CiscoIPPhoneInput"


@pytest_twisted.ensureDeferred
async def test_session_token_acts_from_elsewhere_and_rotates(served: Served) -> None:
    stats = await served.login("3000", "2101")
    state_url = stats.keys["State"]
    sid = query_url_args(state_url)["sid"]
    # the phone's own screens carry the token; a browser elsewhere is given none
    assert "sid=" not in (await served.get("/xml/stats?ext=2101", agent=served.elsewhere)).url + "".join(
        u for _, u in (await served.get("/xml/state?ext=2101", agent=served.elsewhere)).items)
    menu = await served.get(state_url, agent=served.elsewhere)  # with the token: the phone's URLs work
    ready = await served.get(menu.item("Ready"), agent=served.elsewhere)
    assert ready.prompt == "Ready"
    assert served.acd.agent("3000").state is AgentState.READY
    await served.get(query_url(served, "/xml/set", ext="2101", to="not-ready", sid=sid), agent=served.elsewhere)
    await served.get(query_url(served, "/xml/set", ext="2101", to="logout"))  # a new session: new token
    assert served.acd.agent_at_station("2101") is None
    await served.login("3000", "2101")
    stale = await served.get(query_url(served, "/xml/set", ext="2101", to="ready", sid=sid),
                             agent=served.elsewhere)
    assert "did not come from the phone" in stale.text
    assert served.acd.agent("3000").state is AgentState.NOT_READY


def query_url_args(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_registered_hosts_are_the_sip_bindings_and_h323_registrations_of_the_station() -> None:
    """The hosts a station's screens may act from: its SIP bindings' sources (not another
    station's), and the hosts the gatekeeper gives for its H.323 registration."""
    from twisted.internet.task import Clock

    acd_site = load_site(None)
    registrar = Registrar(acd_site.sip, credentials_from_site(acd_site), b"k" * 32)
    clock = Clock()
    clock.advance(1000)
    registrar.restore([
        Binding("2101", "sip:2101@10.0.0.5:5060", 1300, "a", 1, ("10.0.0.5", 5060), "UDP"),
        Binding("2102", "sip:2102@10.0.0.6:5060", 1300, "b", 1, ("10.0.0.6", 5060), "UDP"),
    ], 1000)
    h323 = [("2103", frozenset({"10.0.0.7", "10.0.0.8"}))]
    hosts = registered_hosts(acd_site, registrar, clock, lambda: h323)
    assert hosts("2101") == {"10.0.0.5"}
    assert hosts("2103") == {"10.0.0.7", "10.0.0.8"}
    assert hosts("9999") == frozenset()
    clock.advance(400)  # the bindings expired
    assert hosts("2101") == set()
