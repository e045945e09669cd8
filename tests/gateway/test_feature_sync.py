"""Feature key sync and BLF end to end.

In-process: `FeatureSync` wired to a real `SipStack` on loopback and an `AcdService` on a
`task.Clock` (ACD and subscription timers under the test's control); a small UDP phone
answers 401s with digest and NOTIFYs with 200 (or 481). Out of process: a running gateway
driven by SIPp scenarios (tests/support/sipp/feature_event_*.xml).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_twisted
from acdgate.acd.commands import (
    CallAnswered,
    CallArrived,
    CallEnded,
    GiveWrapupCode,
    Login,
    SetState,
)
from acdgate.acd.site import Site
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.presence.dialog_info import (
    DialogState,
    DialogStates,
    Direction,
    parse_dialog_info,
)
from acdgate.gateway.presence.feature_event_xml import (
    AgentEvent,
    AgentEventKind,
    DoNotDisturbEvent,
    RequestedAgentState,
    SetAgentState,
    SetDoNotDisturb,
    build_request,
    parse_event,
)
from acdgate.gateway.presence.feature_sync import DND_SNAPSHOT, FeatureSync
from acdgate.gateway.sip.digest import Algorithm, Qop, digest_response, parse_auth_params
from acdgate.gateway.sip.message import Headers, Request, Response, new_branch, new_tag
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.registrar import Registrar, credentials_from_site
from acdgate.gateway.sip.service import SipService
from acdgate.gateway.sip.stack import SipStack
from acdgate.gateway.sip.subscription import ExpiresPolicy
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from acdgate.lab.gateway_process import StartGateway
from sipwire import free_port
from twisted.internet import defer, protocol, reactor, task

SUPPORT = Path(__file__).parent.parent / "support"
FEATURE_CT = "application/x-as-feature-event+xml"


class Phone(protocol.DatagramProtocol):
    """A station's UDP endpoint: sends requests, answers 401s and NOTIFYs."""

    def __init__(self, user: str, password: str, gateway: tuple[str, int]) -> None:
        self.user, self.password, self.gateway = user, password, gateway
        self.responses: defer.DeferredQueue[Response] = defer.DeferredQueue()
        self.notifies: defer.DeferredQueue[Request] = defer.DeferredQueue()
        self.notify_status = 200
        self.port = 0
        self.cseq = 0
        self.call_id = f"{new_tag()}@phone"
        self.from_tag = new_tag()
        self.to_tag: str | None = None

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        message = parse_message(data)
        if isinstance(message, Response):
            self.responses.put(message)
        elif isinstance(message, Request) and message.method == "NOTIFY":
            answer = Response(self.notify_status, "OK" if self.notify_status == 200 else "Gone", Headers(
                [(n, v) for n, v in message.headers if n in ("Via", "From", "To", "Call-ID", "CSeq")]))
            assert self.transport is not None
            self.transport.write(answer.to_bytes(), addr)
            self.notifies.put(message)

    def _request(self, event: str, target: str, body: bytes, expires: int, auth: str | None) -> Request:
        self.cseq += 1
        headers = Headers([
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={new_branch()};rport"),
            ("From", f"<sip:{self.user}@127.0.0.1>;tag={self.from_tag}"),
            ("To", f"<sip:{target}@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else "")),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} SUBSCRIBE"),
            ("Contact", f"<sip:{self.user}@127.0.0.1:{self.port}>"),
            ("Max-Forwards", "70"),
            ("Event", event),
            ("Expires", str(expires)),
        ])
        if auth:
            headers.add("Authorization", auth)
        if body:
            headers.add("Content-Type", FEATURE_CT)
        return Request("SUBSCRIBE", f"sip:{target}@{self.gateway[0]}:{self.gateway[1]}", headers, body)

    async def subscribe(self, event: str = "as-feature-event", target: str | None = None,
                        body: bytes = b"", expires: int = 600) -> Response:
        """SUBSCRIBE (in the dialog once there is one), answering the 401; the final response."""
        target = target or self.user
        first = self._request(event, target, body, expires, None)
        self._send(first)
        response = await self._next_response()
        if response.status == 401:
            challenge = parse_auth_params((response.headers.get("WWW-Authenticate") or "").split(" ", 1)[1])
            assert isinstance(challenge, dict)
            uri = first.uri
            cnonce, nc = new_tag(), "00000001"
            digest = digest_response(algorithm=Algorithm.MD5, username=self.user, realm=challenge["realm"],
                                     password=self.password, method="SUBSCRIBE", uri=uri,
                                     nonce=challenge["nonce"], qop=Qop.AUTH, nc=nc, cnonce=cnonce)
            auth = (f'Digest username="{self.user}", realm="{challenge["realm"]}", nonce="{challenge["nonce"]}", '
                    f'uri="{uri}", response="{digest}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')
            self._send(self._request(event, target, body, expires, auth))
            response = await self._next_response()
        if response.status == 200 and self.to_tag is None and response.to_addr is not None:
            self.to_tag = response.to_addr.tag
        return response

    def _send(self, request: Request) -> None:
        assert self.transport is not None
        self.transport.write(request.to_bytes(), self.gateway)

    async def _next_response(self) -> Response:
        d = self.responses.get()
        d.addTimeout(5, reactor)
        return await d

    async def notify(self) -> Request:
        d = self.notifies.get()
        d.addTimeout(5, reactor)
        return await d

    async def event(self) -> AgentEvent | DoNotDisturbEvent:
        n = await self.notify()
        assert n.headers.get("Content-Type") == FEATURE_CT
        assert n.headers.get("Event") == "as-feature-event"
        return parse_event(n.body)


@dataclass
class Rig:
    site: Site
    store: StateStore
    clock: task.Clock
    acd: AcdService
    stack: SipStack
    sip: SipService
    features: FeatureSync
    dialogs: DialogStates
    phones: list[Any]

    async def phone(self, user: str) -> Phone:
        p = Phone(user, f"pw{user}", self.stack.local_address)
        port: Any = reactor.listenUDP(0, p, interface="127.0.0.1")  # type: ignore[attr-defined]
        p.port = int(port.getHost().port)
        self.phones.append(port)
        return p


@pytest_twisted.async_yield_fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with _rig(tmp_path, load_site(None)) as r:
        yield r


@contextlib.asynccontextmanager
async def _rig(tmp_path: Path, site: Site) -> AsyncIterator[Rig]:
    store = StateStore(tmp_path / "state")
    clock = task.Clock()
    clock.advance(1000)
    acd = AcdService(clock, site, store)
    registrar = Registrar(site.sip, credentials_from_site(site), b"k" * 32, algorithms=[Algorithm.MD5])
    sip = SipService(reactor, registrar, store, qualify_seconds=0)
    stack = SipStack(reactor, sip)
    sip.attach(stack)
    stack.listen("127.0.0.1", 0)
    dialogs = DialogStates()
    features = FeatureSync(clock, sip, acd, site, store, dialogs,
                           feature_policy=ExpiresPolicy(minimum=60, maximum=600, default=600))
    r = Rig(site, store, clock, acd, stack, sip, features, dialogs, [])
    try:
        yield r
    finally:
        features.stop()
        acd.stop()
        sip.stop()
        for port in r.phones:
            await port.stopListening()
        await stack.stop()
        store.close()


async def _subscribed(rig: Rig, user: str) -> Phone:
    phone = await rig.phone(user)
    response = await phone.subscribe(body=b"")
    assert response.status == 200 and response.headers.get("Expires") == "600"
    assert await phone.event() == DoNotDisturbEvent(user, False)
    return phone


@pytest_twisted.ensureDeferred
async def test_subscribe_gets_state_and_changes_from_any_source(rig: Rig) -> None:
    phone = await _subscribed(rig, "2101")
    assert await phone.event() == AgentEvent(AgentEventKind.LOGGED_OFF, "2101", "")
    # a change made elsewhere (a short code, the API...): the ACD service's listeners
    rig.acd.execute(Login("3000", "1234", "2101"))
    assert await phone.event() == AgentEvent(AgentEventKind.LOGGED_ON, "2101", "3000")
    assert await phone.event() == AgentEvent(AgentEventKind.NOT_READY, "2101", "3000")
    rig.acd.execute(SetState("3000", AgentState.READY))
    assert await phone.event() == AgentEvent(AgentEventKind.READY, "2101", "3000")
    # the phone's own key: SetAgentState in a re-SUBSCRIBE
    body = build_request(SetAgentState(RequestedAgentState.NOT_READY, reason_code=2))
    assert (await phone.subscribe(body=body)).status == 200
    assert await phone.event() == AgentEvent(AgentEventKind.NOT_READY, "2101", "3000", 2)
    agent = rig.acd.acd.agent("3000")
    assert agent is not None and (agent.state, agent.reason_code) == (AgentState.NOT_READY, 2)
    # a refused request still gets the real state
    body = build_request(SetAgentState(RequestedAgentState.WORKING_AFTER_CALL))
    assert (await phone.subscribe(body=body)).status == 200
    assert await phone.event() == AgentEvent(AgentEventKind.NOT_READY, "2101", "3000", 2)
    body = build_request(SetAgentState(RequestedAgentState.LOGGED_OFF))
    assert (await phone.subscribe(body=body)).status == 200
    assert await phone.event() == AgentEvent(AgentEventKind.LOGGED_OFF, "2101", "3000")
    # loggedOn with the last user of the station and the PIN in <password>
    body = build_request(SetAgentState(RequestedAgentState.LOGGED_ON, password="1234"))
    assert (await phone.subscribe(body=body)).status == 200
    assert await phone.event() == AgentEvent(AgentEventKind.LOGGED_ON, "2101", "3000")
    assert await phone.event() == AgentEvent(AgentEventKind.NOT_READY, "2101", "3000")


@pytest_twisted.ensureDeferred
async def test_other_stations_see_nothing_and_dnd_persists(rig: Rig) -> None:
    one = await _subscribed(rig, "2101")
    two = await _subscribed(rig, "2102")
    assert (await one.event()).kind is AgentEventKind.LOGGED_OFF  # type: ignore[union-attr]
    assert (await two.event()).kind is AgentEventKind.LOGGED_OFF  # type: ignore[union-attr]
    rig.acd.execute(Login("3001", "1234", "2102"))
    assert (await two.event()).kind is AgentEventKind.LOGGED_ON  # type: ignore[union-attr]
    assert (await two.event()).kind is AgentEventKind.NOT_READY  # type: ignore[union-attr]
    assert (await two.subscribe(body=build_request(SetDoNotDisturb(True)))).status == 200
    assert await two.event() == DoNotDisturbEvent("2102", True)
    assert rig.store.load_snapshot(DND_SNAPSHOT) == {"stations": {"2102": True}}
    assert rig.features.dnd("2102") and not rig.features.dnd("2101")
    assert len(one.notifies.pending) == 0


@pytest_twisted.ensureDeferred
async def test_loggedon_without_anyone_before_is_refused_with_the_state(rig: Rig) -> None:
    # a site whose stations name no owner (`agent`): the key cannot know whom to log on
    rig.features.site = dataclasses.replace(
        rig.site, stations=tuple(dataclasses.replace(s, agent=None) for s in rig.site.stations))
    phone = await _subscribed(rig, "2103")
    await phone.event()
    body = build_request(SetAgentState(RequestedAgentState.LOGGED_ON, password="1234"))
    assert (await phone.subscribe(body=body)).status == 200
    assert await phone.event() == AgentEvent(AgentEventKind.LOGGED_OFF, "2103", "")
    assert rig.acd.acd.agent_at_station("2103") is None


@pytest_twisted.ensureDeferred
async def test_loggedon_without_a_pin_logs_the_stations_own_agent_on(rig: Rig) -> None:
    """BroadWorks phones send no PIN: the digest-authenticated station vouches for its owner."""
    phone = await _subscribed(rig, "2103")
    assert await phone.event() == AgentEvent(AgentEventKind.LOGGED_OFF, "2103", "")
    body = build_request(SetAgentState(RequestedAgentState.LOGGED_ON))
    assert (await phone.subscribe(body=body)).status == 200
    assert await phone.event() == AgentEvent(AgentEventKind.LOGGED_ON, "2103", "3002")
    agent = rig.acd.acd.agent_at_station("2103")
    assert agent is not None and agent.user_id == "3002"
    # a user who is not the station's owner still needs the PIN
    other = await _subscribed(rig, "2104")
    await other.event()
    body = build_request(SetAgentState(RequestedAgentState.LOGGED_ON, agent_id="3005"))
    assert (await other.subscribe(body=body)).status == 200
    assert await other.event() == AgentEvent(AgentEventKind.LOGGED_OFF, "2104", "")
    assert rig.acd.acd.agent("3005") is None or rig.acd.acd.agent("3005").station is None  # type: ignore[union-attr]


@pytest_twisted.ensureDeferred
async def test_bad_requests(rig: Rig) -> None:
    phone = await rig.phone("2101")
    assert (await phone.subscribe(event="presence")).status == 489
    assert (await phone.subscribe(target="2102")).status == 403
    assert (await phone.subscribe(expires=10)).status == 423
    assert (await phone.subscribe(body=b"<SetAgentState/>")).status == 400
    assert (await phone.subscribe(event="dialog", target="9999")).status == 404


@pytest_twisted.ensureDeferred
async def test_expiry_unsubscribe_and_481(rig: Rig) -> None:
    phone = await _subscribed(rig, "2101")
    await phone.event()
    rig.clock.advance(601)
    final = await phone.notify()
    assert final.headers.get("Subscription-State") == "terminated;reason=timeout"
    assert len(rig.features.table) == 0
    again = await _subscribed(rig, "2102")
    await again.event()
    response = await again.subscribe(expires=0)
    assert response.status == 200 and response.headers.get("Expires") == "0"
    assert (await again.notify()).headers.get("Subscription-State") == "terminated;reason=timeout"
    third = await _subscribed(rig, "2103")
    await third.event()
    third.notify_status = 481
    gave_up: defer.Deferred[Any] = defer.Deferred()
    rig.features.gave_up_listeners.append(gave_up.callback)
    rig.acd.execute(Login("3002", "1234", "2103"))
    await third.notify()
    gave_up.addTimeout(5, reactor)
    sub = await gave_up
    assert sub.resource == "2103" and len(rig.features.table) == 0


@pytest_twisted.ensureDeferred
async def test_busy_lamp_field(rig: Rig) -> None:
    supervisor = await rig.phone("2110")
    response = await supervisor.subscribe(event="dialog", target="2101")
    assert response.status == 200
    first = await supervisor.notify()
    assert first.headers.get("Content-Type") == "application/dialog-info+xml"
    info = parse_dialog_info(first.body)
    assert (info.version, info.full, info.dialogs) == (0, True, ())
    rig.dialogs.set("2101", "early", "call-1", "recipient")
    info = parse_dialog_info((await supervisor.notify()).body)
    assert info.version == 1 and [d.state for d in info.dialogs] == [DialogState.EARLY]
    rig.dialogs.set("2101", "confirmed", "call-1", "recipient")
    assert [d.state for d in parse_dialog_info((await supervisor.notify()).body).dialogs] == [DialogState.CONFIRMED]
    rig.dialogs.set("2101", "terminated", "call-1")
    info = parse_dialog_info((await supervisor.notify()).body)
    # RFC 4235 3.7.1: the watcher is told the dialog ended (as it was: a recipient), then it is gone
    assert info.version == 3 and [(d.state, d.direction) for d in info.dialogs] == [
        (DialogState.TERMINATED, Direction.RECIPIENT)]
    assert rig.dialogs.dialogs("2101") == ()
    rig.dialogs.set("2102", "early", "call-2")  # another station: nothing for this BLF
    assert len(supervisor.notifies.pending) == 0


@pytest_twisted.ensureDeferred
async def test_agent_id_is_an_agent_id_or_a_login_name_in_any_case(tmp_path: Path) -> None:
    """agentID resolves as the XML login screen's ID field does (acd.login_names)."""
    demo = load_site(None)
    names = {"3003": "Dave", "3005": "eve"}
    site = dataclasses.replace(demo, users=tuple(
        dataclasses.replace(u, login_name=names.get(u.user_id)) for u in demo.users))
    async with _rig(tmp_path, site) as r:
        # the station's owner (3003 owns 2104) by name: no PIN, the station vouches for them
        own = await _subscribed(r, "2104")
        await own.event()
        body = build_request(SetAgentState(RequestedAgentState.LOGGED_ON, agent_id="DAVE"))
        assert (await own.subscribe(body=body)).status == 200
        assert await own.event() == AgentEvent(AgentEventKind.LOGGED_ON, "2104", "3003")
        # another user by name, with the PIN
        other = await _subscribed(r, "2106")
        await other.event()
        body = build_request(SetAgentState(RequestedAgentState.LOGGED_ON, agent_id="Eve", password="1234"))
        assert (await other.subscribe(body=body)).status == 200
        assert await other.event() == AgentEvent(AgentEventKind.LOGGED_ON, "2106", "3005")
        agent = r.acd.acd.agent_at_station("2106")
        assert agent is not None and agent.user_id == "3005"


@pytest_twisted.ensureDeferred
async def test_a_key_press_while_the_wrapup_code_is_owed_is_refused(tmp_path: Path) -> None:
    """A feature key cannot prompt (SetAgentState has no wrap-up code, SUBSCRIBE collects no
    digits): refused, the key keeps the real state, and once the code is given the key works."""
    demo = load_site(None)
    site = dataclasses.replace(demo, policy=dataclasses.replace(demo.policy, wrapup_code_required=True))
    async with _rig(tmp_path, site) as r:
        pushed: list[str] = []
        r.features.owed_listeners.append(pushed.append)
        phone = await _subscribed(r, "2101")
        await phone.event()
        r.acd.execute(Login("3000", "1234", "2101"))
        r.acd.execute(SetState("3000", AgentState.READY))
        r.acd.execute(CallArrived("c1", "6000", ani="2301", dnis="6000"))
        r.acd.execute(CallAnswered("c1", "3000"))
        r.acd.execute(SetState("3000", AgentState.WORK_NOT_READY))  # no code during the call
        r.acd.execute(CallEnded("c1"))
        agent = r.acd.acd.agent("3000")
        assert agent is not None and agent.wrapup_owed is not None
        assert agent.state is AgentState.WORK_NOT_READY
        for kind in (AgentEventKind.LOGGED_ON, AgentEventKind.NOT_READY, AgentEventKind.READY,
                     AgentEventKind.WORKING_AFTER_CALL):  # Work Not Ready shows once chosen
            assert (await phone.event()).kind is kind  # type: ignore[union-attr]
        for requested in (RequestedAgentState.READY, RequestedAgentState.NOT_READY,
                          RequestedAgentState.LOGGED_OFF):
            body = build_request(SetAgentState(requested))
            assert (await phone.subscribe(body=body)).status == 200
            assert await phone.event() == AgentEvent(AgentEventKind.WORKING_AFTER_CALL, "2101", "3000")
        agent = r.acd.acd.agent("3000")
        assert agent is not None and agent.state is AgentState.WORK_NOT_READY
        assert agent.wrapup_owed is not None
        assert pushed == ["2101"] * 3  # each refusal: the phone is to show Wrap-up Data
        r.acd.execute(GiveWrapupCode("3000", 1))  # the state is unchanged: no NOTIFY
        agent = r.acd.acd.agent("3000")
        assert agent is not None and agent.wrapup_owed is None
        body = build_request(SetAgentState(RequestedAgentState.READY))
        assert (await phone.subscribe(body=body)).status == 200
        assert await phone.event() == AgentEvent(AgentEventKind.READY, "2101", "3000")
        assert pushed == ["2101"] * 3


# -- SIPp against a running gateway --------------------------------------------------------


def _sipp(tmp: Path, scenario: str, target: tuple[str, int], station: str, user: str) -> str:
    """The SIPp command line; field0 station, field1 its digest, field2 a user (or watched station), field3 PIN."""
    users = tmp / f"users_{station}.csv"
    users.write_text(f"SEQUENTIAL\n{station};[authentication username={station} password=pw{station}];{user};1234\n")
    errors = tmp / f"errors_{station}.log"
    args = ["sipp", "-sf", str(SUPPORT / "sipp" / scenario), "-inf", str(users),
            "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-timeout", "30s", "-nostdin",
            "-trace_err", "-error_file", str(errors), f"{target[0]}:{target[1]}"]
    return " ".join(args)


def _check(proc: subprocess.Popen[str], tmp: Path, station: str) -> None:
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    errors = (tmp / f"errors_{station}.log")
    text = errors.read_text() if errors.exists() else ""
    assert proc.returncode == 0, f"SIPp {station} failed ({proc.returncode}):\n{out[-3000:]}\n{text[-3000:]}"
    assert re.search(r"Successful call\s+\|\s+\d+\s+\|\s+1", out), out[-2000:]


def test_sipp_phones_drive_their_agents_and_see_only_their_own_state(start_gateway: StartGateway, tmp_path: Path) -> None:
    gw = start_gateway()
    # 2101 walks its agent through every state; 2102 does the same for its own agent at
    # the same time, and each checks every NOTIFY it gets (so a stray one fails it)
    procs = {}
    for station, user in (("2101", "3000"), ("2102", "3001")):
        procs[station] = subprocess.Popen(
            _sipp(tmp_path, "feature_event_agent.xml", gw.sip, station, user).split(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        for station, proc in procs.items():
            _check(proc, tmp_path, station)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # a supervisor's BLF key on station 2101 (idle: no calls yet)
    blf = subprocess.Popen(_sipp(tmp_path, "feature_event_blf.xml", gw.sip, "2110", "2101").split(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    _check(blf, tmp_path, "2110")
    agents = {a["user"]: a for a in gw.get("/api/agents")}
    assert agents["3000"]["station"] == "2101" and agents["3000"]["state"] == "READY"
    assert agents["3001"]["station"] == "2102" and agents["3001"]["state"] == "READY"
