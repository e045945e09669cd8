"""End-to-end routing: SIPp customers call groups 6000-6003 and 6500; the agent chosen over a
sequence of calls follows each group's rule (linear, circular, most idle, collective, skills),
and ring-no-answer, abandon, overflow and a call waiting for the first agent to become READY
behave as the IP Office / Cisco references describe.

Agents' phones are SIPp UASes (`sipp_agents.py`), one per station, plus a baresip 1.0 and a
pyVoIP phone; agents log on and go Ready through the phone XML service. Who got a call is read
from the gateway's journal (`OfferCall` / `CallConnected` records with the ACD call id, which
is the caller's Call-ID), and what each SIPp phone saw (INVITE, CANCEL, answer) from its log.
The test waits on the gateway's log: the ACD logs each event (`CallConnected(...)`,
`StateChanged(...)`) once it is committed to the journal and the HTTP views, so after the line
one read of either is the assertion.

Everything runs in a private network namespace (baresip wants a non-loopback address): the
gateway on 198.18.0.1, SIPp and baresip on 198.18.0.2, pyVoIP on the namespace's loopback.
The test site has short timers: no wrap-up, 2 s ring-no-answer, overflow after 4 s.
"""

from __future__ import annotations

import http.client
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from acdgate.lab.gateway_process import GatewayProcess
from baresip import Baresip
from netns import NetworkNamespace, VethPair
from sipp_agents import SippAgent, SippCaller, SippRunner, udp_port_bound

SUPPORT = Path(__file__).parent.parent / "support"
# a pyVoIP phone's ports: SIP at P, RTP picked from P+2 to P+40 (tests/support/pyvoip_answerer.py)
PYVOIP_PORTS = 44
VETH = VethPair()
GATEWAY_IP = VETH.left_address.split("/")[0]
PHONES_IP = VETH.right_address.split("/")[0]
RING_NO_ANSWER = 32767  # acd.states.SystemReason.RING_NO_ANSWER
NO_ANSWER_S = 2
OVERFLOW_S = 4
COLLECTIVE_NO_ANSWER_S = 3
SHORT_CALL_MS = 700  # a caller's stay when the agent answers at once

# user -> (name, support level, billing level)
USERS = {
    "3000": ("Alice Archer", 3, 8), "3001": ("Bob Baker", 0, 5), "3002": ("Carol Chen", 9, 0),
    "3003": ("Dave Dunn", 6, 2), "3004": ("Erin Ellis", 7, 7), "3005": ("Frank Ford", 6, 0),
    "3006": ("Grace Gill", 10, 1), "3007": ("Heidi Hart", 1, 9), "3008": ("Ivan Irwin", 2, 0),
    "3009": ("Judy Jones", 6, 6),
}
DESK = {user: str(2101 + i) for i, user in enumerate(USERS)}  # user 3000 at 2101, ...
CALLER_LINES = ["2201", "2202", "2203", "2204"]


def site_text() -> str:
    """The demo site's groups and users with test timers (3005 and 3009 tie on `support`)."""
    out = ['name = "routing-tests"', "", "[sip]", 'digest_algorithms = ["MD5"]', "qualify_seconds = 0",
           "rtp_port_min = 40000", "rtp_port_max = 40999", ""]
    for ext in [*DESK.values(), *CALLER_LINES]:
        out += ["[[stations]]", f'extension = "{ext}"', f'sip_password = "pw{ext}"', ""]
    for user, (name, support, billing) in USERS.items():
        skills = ", ".join(f"{k} = {v}" for k, v in (("support", support), ("billing", billing)) if v)
        out += ["[[users]]", f'id = "{user}"', f'name = "{name}"', 'pin = "1234"', f"skills = {{ {skills} }}", ""]
    first, second = json.dumps(list(USERS)[:5]), json.dumps(list(USERS)[5:])
    groups = [
        ("6000", "Sales", "linear", first,
         f'no_answer_seconds = {NO_ANSWER_S}\noverflow_group = "6003"\noverflow_seconds = {OVERFLOW_S}'),
        ("6001", "Billing", "circular", first, f"no_answer_seconds = {NO_ANSWER_S}"),
        ("6002", "Service", "most-idle", first, f"no_answer_seconds = {NO_ANSWER_S}"),
        ("6003", "Everyone", "collective", second, f"no_answer_seconds = {COLLECTIVE_NO_ANSWER_S}\nmonitored = false"),
        ("6500", "Support", "skills", second, f'skill = "support"\nno_answer_seconds = {NO_ANSWER_S}'),
    ]
    for number, name, mode, members, extra in groups:
        out += ["[[groups]]", f'number = "{number}"', f'name = "{name}"', f'mode = "{mode}"',
                f"members = {members}", "wrapup_seconds = 0", extra, ""]
    return "\n".join(out) + "\n"


def call_event(kind: str, call: SippCaller) -> str:
    """A regex for the gateway's log line of ACD event `kind` about `call` (by its call id)."""
    return rf"\b{kind}\([^\n]*\bcall_id='{re.escape(call.call_id_prefix)}"


def state_event(user: str, state: str) -> str:
    """A regex for the gateway's log line of `user` entering `state` (an AgentState name)."""
    return rf"\bStateChanged\([^\n]*\buser_id='{user}'[^\n]*\bnew=<AgentState\.{state}:"


def wait_for_cancel(lab: Lab, phones: Sequence[SippAgent], timeout: float) -> None:
    """Until each SIPp phone has answered the gateway's CANCEL: the gateway logs that answer,
    the proof that the phone stopped ringing."""
    for phone in phones:
        lab.gw.wait_for_output(rf"CANCEL of \S+ to station {phone.station} answered 200\b", timeout)


@dataclass(slots=True)
class PyVoipAgent:
    """`pyvoip_answerer.py` (pyVoIP is GPLv3: it runs in a process of its own)."""

    proc: subprocess.Popen[bytes]

    def event(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        return dict(json.loads(line)) if line.startswith(b"{") else {"event": "died", "line": line.decode()}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@dataclass(slots=True)
class Lab:
    """The namespace, the gateway in it, and the phones the test started."""

    ns: NetworkNamespace
    gw: GatewayProcess
    runner: SippRunner
    folder: Path
    phones: list[Any] = field(default_factory=list)
    callers: int = 0
    sources: dict[str, str] = field(default_factory=dict)  # station -> the host its phone registers from

    # -- HTTP (inside the namespace) ------------------------------------------------------

    def get_text(self, path: str) -> str:
        host, port = self.gw.info["http"]["host"], int(self.gw.info["http"]["port"])
        conn = http.client.HTTPConnection(host, port, timeout=10)
        # from the address the station's phone registers from (issue 19: the screens act only
        # from there): SIPp and baresip bind the phones' address, pyVoIP 127.0.0.1
        ext = parse_qs(urlsplit(path).query).get("ext", [""])[0]
        conn.sock = self.ns.connect((host, port), source=self.sources.get(ext, PHONES_IP))
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            assert response.status == 200, (path, response.status, body[:300])
            return body
        finally:
            conn.close()

    def agents(self) -> dict[str, dict[str, Any]]:
        return {str(a["user"]): a for a in json.loads(self.get_text("/api/agents"))}

    def groups(self) -> dict[str, dict[str, Any]]:
        return {str(g["number"]): g for g in json.loads(self.get_text("/api/groups"))}

    def state(self, user: str) -> str:
        return str(self.agents()[user]["state"])

    def log_on(self, user: str, *, ready: bool = True) -> None:
        """Log `user` on at their desk through the phone XML service; Ready or Not Ready."""
        station = DESK[user]
        self.get_text(f"/xml/login?ext={station}&id={user}&pin=1234")
        self.set(user, "ready" if ready else "not-ready")

    def set(self, user: str, to: str) -> None:
        """The phone service runs the command before it answers: the state is already set."""
        self.get_text(f"/xml/set?ext={DESK[user]}&to={to}")
        want = {"ready": "READY", "not-ready": "NOT_READY"}[to]
        assert self.state(user) == want, (user, self.agents()[user])

    # -- the gateway's log (each ACD event, once committed) ------------------------------

    def logged(self, pattern: str, what: str, timeout: float = 15.0, *, since: int = 0,
               count: int = 1) -> re.Match[str]:
        """Wait for the `count`-th line matching `pattern` after offset `since` of the log; its match."""
        found: re.Match[str] | None = None
        try:
            for _ in range(count):
                found = self.gw.wait_for_output(pattern, timeout, since=since)
                since = found.end()
        except AssertionError as exc:
            raise AssertionError(f"timed out ({timeout} s) waiting for {what}: {exc}") from None
        assert found is not None
        return found

    # -- journal (read-only) --------------------------------------------------------------

    def journal(self, *kinds: str) -> list[dict[str, Any]]:
        db = sqlite3.connect(f"file:{self.gw.state_dir / 'acdgate.sqlite3'}?mode=ro", uri=True)
        try:
            marks = ",".join("?" * len(kinds))
            rows = db.execute(f"SELECT data FROM journal WHERE kind IN ({marks}) ORDER BY seq", kinds).fetchall()
        finally:
            db.close()
        return [json.loads(row[0]) for row in rows]

    def records(self, call: SippCaller, *kinds: str) -> list[dict[str, Any]]:
        """Journal records of one call (its ACD call id is the caller's Call-ID)."""
        return [r for r in self.journal(*kinds) if str(r.get("call_id", "")).startswith(call.call_id_prefix)]

    def connected_to(self, call: SippCaller, timeout: float = 10.0) -> str:
        """The agent who answered `call` (waits for its CallConnected record)."""
        self.logged(call_event("CallConnected", call), f"{call.name} connected", timeout)
        [rec] = self.records(call, "CallConnected")
        return str(rec["user_id"])

    # -- phones ---------------------------------------------------------------------------

    def sipp_agent(self, user: str, *, answer_ms: int | None = 0, ready: bool = True) -> SippAgent:
        agent = SippAgent(self.runner, DESK[user], answer_ms).start()
        self.phones.append(agent)
        self.log_on(user, ready=ready)
        return agent

    def baresip_agent(self, user: str) -> Baresip:
        """baresip 1.0 at `user`'s desk, answering every call itself (`answermode=auto`)."""
        phone = Baresip(self.folder / "baresip", netns=self.ns, net_interface=VETH.right).start()
        self.phones.append(phone)
        host, port = self.gw.sip
        station = DESK[user]
        phone.register(f"<sip:{station}@{host}:{port};transport=udp>;auth_pass=pw{station};regint=600;answermode=auto")
        self.log_on(user)
        return phone

    def pyvoip_agent(self, user: str, *, ready: bool = True) -> PyVoipAgent:
        """A pyVoIP phone at `user`'s desk that answers one call, talks 2.5 s and hangs up."""
        station = DESK[user]
        proc = self.ns.popen(
            [sys.executable, str(SUPPORT / "pyvoip_answerer.py"), "--server", self.gw.sip[0],
             "--port", str(self.gw.sip[1]), "--user", station, "--password", f"pw{station}",
             "--sip-port", str(self.runner.next_port(span=PYVOIP_PORTS)), "--timeout", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        phone = PyVoipAgent(proc)
        self.phones.append(phone)
        self.sources[station] = "127.0.0.1"  # pyvoip_answerer.py: myIP
        first = phone.event()
        assert first.get("ok") is True, first
        self.log_on(user, ready=ready)
        return phone

    def call(self, group: str, hold_ms: int = SHORT_CALL_MS, line: str = "2201") -> SippCaller:
        self.callers += 1
        caller = SippCaller(self.runner, f"c{self.callers}", line, group, hold_ms).start()
        self.phones.append(caller)
        return caller

    def routed_in_turn(self, group: str, count: int, between: Callable[[int], None] | None = None) -> list[str]:
        """`count` calls to `group` one after the other (each ends, its agent is READY again
        before the next); the agent who answered each."""
        chosen = []
        for i in range(count):
            caller = self.call(group)
            user = self.connected_to(caller)
            assert caller.wait() == "CALLER-BYE"
            self.wait_ready_after(caller, user)
            chosen.append(user)
            if between is not None:
                between(i)
        return chosen

    def wait_ready_after(self, caller: SippCaller, user: str) -> None:
        """The call has completed in the ACD and `user` is READY again (no wrap-up)."""
        done = self.logged(call_event("CallCompleted", caller), f"{caller.name} completed")
        self.logged(state_event(user, "READY"), f"{user} READY again", since=done.end())
        assert self.records(caller, "CallCompleted")
        assert self.state(user) == "READY", self.agents()[user]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    site = tmp_path / "site.toml"
    site.write_text(site_text())
    with NetworkNamespace(VETH) as ns:
        gw = GatewayProcess(tmp_path / "state", config=site, bind=GATEWAY_IP, command_prefix=ns.command([]),
                            extra=["--sip-trace", str(tmp_path / "sip.pcap")]).start()
        runner = SippRunner(ns.command([]), PHONES_IP, gw.sip, tmp_path,
                            port_in_use=lambda ip, port: ns.call_inside(lambda: udp_port_bound(ip, port)))
        lab = Lab(ns, gw, runner, tmp_path)
        try:
            yield lab
        finally:
            for phone in reversed(lab.phones):
                phone.stop()
            gw.stop()
            (tmp_path / "gateway.log").write_text(gw.output())
        problems = [line for line in gw.output().splitlines() if "Traceback" in line or "Unhandled" in line]
        assert not problems, "the gateway logged errors (see gateway.log):\n" + "\n".join(problems[:10])


def test_linear_first_free_member_in_list_order_each_time(lab: Lab) -> None:
    baresip = lab.baresip_agent("3000")
    for user in ("3001", "3002", "3003", "3004"):
        lab.sipp_agent(user)
    long_call = lab.call("6000", hold_ms=4000)
    assert lab.connected_to(long_call) == "3000"
    # 3000 is busy: the next in list order, every time
    assert lab.routed_in_turn("6000", 2) == ["3001", "3001"]
    assert long_call.wait() == "CALLER-BYE"
    lab.wait_ready_after(long_call, "3000")
    assert lab.routed_in_turn("6000", 2) == ["3000", "3000"]
    handled = {u: a["calls_handled"] for u, a in lab.agents().items()}
    assert handled == {"3000": 3, "3001": 2, "3002": 0, "3003": 0, "3004": 0}, handled
    baresip.command("listcalls")  # a round trip: every earlier ctrl_tcp event has been read
    kinds = [e.type for e in baresip.events if e.type in ("CALL_ESTABLISHED", "CALL_CLOSED")]
    assert kinds == ["CALL_ESTABLISHED", "CALL_CLOSED"] * 3, kinds  # auto-answered, the caller hung up


def test_circular_rotates_past_the_member_offered_last(lab: Lab) -> None:
    for user in ("3000", "3001", "3002", "3003", "3004"):
        lab.sipp_agent(user, ready=user != "3002")
    # 3002 is Not Ready: skipped; after 3004 the rotation wraps to 3000
    assert lab.routed_in_turn("6001", 5) == ["3000", "3001", "3003", "3004", "3000"]
    lab.set("3002", "ready")
    assert lab.routed_in_turn("6001", 2) == ["3001", "3002"]


def test_most_idle_member_gets_the_call(lab: Lab) -> None:
    for user in ("3003", "3001", "3004", "3000", "3002"):  # Ready in this order: idle longest first
        lab.sipp_agent(user)

    def between(i: int) -> None:
        if i == 0:  # 3001, idle second longest, goes Not Ready and back: now the least idle
            lab.set("3001", "not-ready")
            lab.set("3001", "ready")

    # 3003 is Ready again after its call (no wrap-up), then 3001 re-enters READY after it
    assert lab.routed_in_turn("6002", 6, between) == ["3003", "3004", "3000", "3002", "3003", "3001"]


def test_skills_highest_level_first_ties_by_most_idle(lab: Lab) -> None:
    # support levels: 3006 10, 3005 6, 3009 6, 3008 2, 3007 1; 3009 Ready before 3005
    for user in ("3009", "3007", "3005", "3008", "3006"):
        lab.sipp_agent(user)
    assert lab.routed_in_turn("6500", 2) == ["3006", "3006"]
    lab.set("3006", "not-ready")
    # the 6-6 tie goes to the one idle longer, not to the one first in the member list (3005)
    assert lab.routed_in_turn("6500", 3) == ["3009", "3005", "3009"]
    lab.set("3005", "not-ready")
    lab.set("3009", "not-ready")
    assert lab.routed_in_turn("6500", 1) == ["3008"]


def test_collective_rings_every_ready_member_first_answer_wins(lab: Lab) -> None:
    slow = lab.sipp_agent("3005", answer_ms=1500)
    fast = lab.sipp_agent("3006", answer_ms=300)
    deaf = lab.sipp_agent("3007", answer_ms=None)
    lab.sipp_agent("3008", ready=False)
    slower = lab.sipp_agent("3009", answer_ms=1000)
    before = lab.gw.mark()
    caller = lab.call("6003", hold_ms=1500)
    assert lab.connected_to(caller) == "3006"
    assert caller.wait() == "CALLER-BYE"
    offered = sorted(r["user_id"] for r in lab.records(caller, "OfferCall"))
    assert offered == ["3005", "3006", "3007", "3009"], offered  # not 3008: Not Ready
    cancelled = sorted((r["user_id"], r["reason"]) for r in lab.records(caller, "OfferCancelled"))
    assert cancelled == [(u, "answered elsewhere") for u in ("3005", "3007", "3009")], cancelled
    # the phones themselves were CANCELed, never answered
    wait_for_cancel(lab, (slow, deaf, slower), 5)
    assert [p.count("ANSWERED") for p in (slow, deaf, slower)] == [0, 0, 0]
    assert fast.count("ANSWERED") == 1 and fast.count("CANCEL") == 0, fast.events()
    for user in ("3005", "3006", "3007", "3009"):  # each READY again since the call came in
        lab.logged(state_event(user, "READY"), f"{user} READY again", since=before)
    views = lab.agents()
    assert {views[u]["state"] for u in ("3005", "3006", "3007", "3009")} == {"READY"}, views


def test_collective_nobody_answers_every_phone_stops_ringing_and_the_call_waits(lab: Lab) -> None:
    phones = [lab.sipp_agent(u, answer_ms=None) for u in ("3005", "3006")]
    caller = lab.call("6003", hold_ms=(COLLECTIVE_NO_ANSWER_S + 2) * 1000)
    lab.logged(call_event("RingNoAnswer", caller), "ring-no-answer at both", COLLECTIVE_NO_ANSWER_S + 3, count=2)
    assert len(lab.records(caller, "RingNoAnswer")) == 2
    wait_for_cancel(lab, phones, 1.0)
    views = lab.agents()
    assert {(views[u]["state"], views[u]["reason_code"]) for u in ("3005", "3006")} == {("NOT_READY", RING_NO_ANSWER)}
    assert lab.groups()["6003"]["ciq"] == 1  # back in the queue, at its old place
    assert caller.wait() == "CALLER-BYE"
    lab.logged(call_event("CallAbandoned", caller), "CallAbandoned")
    assert lab.records(caller, "CallAbandoned")


def test_ring_no_answer_makes_the_agent_not_ready_and_the_next_gets_the_call(lab: Lab) -> None:
    deaf = lab.sipp_agent("3000", answer_ms=None)
    lab.sipp_agent("3001", answer_ms=1500)
    caller = lab.call("6000", hold_ms=NO_ANSWER_S * 1000 + 3000)
    lab.logged(call_event("OfferCall", caller), "the offer to the next agent", NO_ANSWER_S + 5, count=2)
    # the phone that did not answer stops ringing at once (CANCEL), not when someone else answers
    wait_for_cancel(lab, [deaf], 1.0)
    assert not lab.records(caller, "CallConnected")
    assert lab.connected_to(caller) == "3001"
    offers = [r["user_id"] for r in lab.records(caller, "OfferCall")]
    assert offers == ["3000", "3001"], offers
    assert [r["user_id"] for r in lab.records(caller, "RingNoAnswer")] == ["3000"]
    connected = lab.records(caller, "CallConnected")[0]
    assert connected["waited"] >= NO_ANSWER_S, connected
    view = lab.agents()["3000"]
    assert (view["state"], view["reason_code"]) == ("NOT_READY", RING_NO_ANSWER), view
    assert deaf.count("ANSWERED") == 0, deaf.events()
    assert caller.wait() == "CALLER-BYE"


def test_abandon_while_waiting_and_while_ringing(lab: Lab) -> None:
    deaf = lab.sipp_agent("3000", answer_ms=None, ready=False)
    waiting = lab.call("6002", hold_ms=1200)
    lab.logged(call_event("CallQueued", waiting), "the call queued in 6002")
    assert lab.groups()["6002"]["ciq"] == 1
    assert waiting.wait() == "CALLER-BYE"
    lab.logged(call_event("CallAbandoned", waiting), "CallAbandoned (waiting)")
    assert lab.groups()["6002"]["ciq"] == 0
    assert not lab.records(waiting, "OfferCall")

    lab.set("3000", "ready")
    ringing = lab.call("6000", hold_ms=800)  # hangs up while 3000's phone rings (2 s no-answer)
    assert ringing.wait() == "CALLER-BYE"
    lab.logged(call_event("CallAbandoned", ringing), "CallAbandoned (ringing)")
    cancelled = [(r["user_id"], r["reason"]) for r in lab.records(ringing, "OfferCancelled")]
    assert cancelled == [("3000", "caller hung up")], cancelled
    wait_for_cancel(lab, [deaf], 5)
    assert lab.state("3000") == "READY"
    assert not lab.journal("CallConnected")


def test_overflow_offers_the_call_in_the_overflow_group(lab: Lab) -> None:
    lab.sipp_agent("3000", ready=False)  # a 6000 member, Not Ready
    lab.sipp_agent("3005")  # in 6003 only
    caller = lab.call("6000", hold_ms=(OVERFLOW_S + 2) * 1000)
    lab.logged(call_event("CallQueued", caller), "the call queued in 6000")
    assert lab.groups()["6000"]["ciq"] == 1
    assert lab.connected_to(caller, timeout=OVERFLOW_S + 5) == "3005"
    [overflow] = lab.records(caller, "CallOverflowed")
    assert (overflow["from_group"], overflow["to_group"]) == ("6000", "6003")
    [offer] = lab.records(caller, "OfferCall")
    assert (offer["user_id"], offer["group"]) == ("3005", "6003")
    waited = lab.records(caller, "CallConnected")[0]["waited"]
    assert OVERFLOW_S <= waited < OVERFLOW_S + 3, waited
    assert lab.groups()["6000"]["ciq"] == 0
    assert caller.wait() == "CALLER-BYE"


def test_call_waits_for_the_first_agent_to_become_ready(lab: Lab) -> None:
    phone = lab.pyvoip_agent("3002", ready=False)
    lab.sipp_agent("3000", ready=False)
    caller = lab.call("6001", hold_ms=15000)
    lab.logged(call_event("CallQueued", caller), "the call queued in 6001")
    assert lab.groups()["6001"]["ciq"] == 1
    assert [r["position"] for r in lab.records(caller, "CallQueued")] == [1]
    assert not lab.records(caller, "OfferCall")
    lab.get_text(f"/xml/set?ext={DESK['3002']}&to=ready")
    assert lab.connected_to(caller) == "3002"
    assert lab.groups()["6001"]["ciq"] == 0
    call = phone.event()
    assert (call["event"], call.get("number")) == ("call", "2201"), call  # ANI in From
    # the pyVoIP phone talks 2.5 s, then hangs up: the gateway ends the caller's leg
    assert caller.wait() == "FAR-END-BYE"
    lab.wait_ready_after(caller, "3002")
    lab.set("3000", "ready")  # the call was not kept for anyone else
    assert [r["user_id"] for r in lab.journal("OfferCall")] == ["3002"]
