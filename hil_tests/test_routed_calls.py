"""Routed calls on softphone agents (issue 7): the agent each group's rule picks over a short
sequence of calls (linear, circular, most idle), ring-no-answer, recording, and a supervisor's
monitor, barge-in and intercept checked by tones; on a clean and a lossy lab LAN.

`kind` is the agents' endpoint kind; callers are softphones of the other kind (both play
tones and keep what they heard). Agents log on and go Ready through the phone XML service
(`/xml/login`, `/xml/set`), as the gateway tests do, so each scenario is about the calls. Who
was offered and who answered a call is read from the gateway's journal (`OfferCall`,
`CallConnected`), states and counts from `/api/agents`. The lab site has 1 s of wrap-up and
8 s of ring-no-answer (`acdgate.lab.lab_site`).

Audio: the caller plays 600 Hz, the agent 1000 Hz, the supervisor 3200 Hz while monitoring
and 2400 Hz when barging in, so one recording of a call tells the phases apart. On the lossy
LAN tones lose some 5-10 % of their windows; thresholds ask for a fraction of the time a
tone played (never zero) and allow a few stray windows where a tone must be absent.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from acdgate.lab.desk_registration import register_desk_once
from acdgate.lab.drivers.base import Endpoint, Observation, ObservationKind
from acdgate.lab.drivers.heard import read_wav, tone_seconds
from acdgate.lab.inventory import EndpointKind
from acdgate.lab.lab_site import NO_ANSWER_SECONDS
from conftest import Lab, LabNetwork

K = ObservationKind
OTHER = {EndpointKind.PYVOIP: EndpointKind.BARESIP, EndpointKind.BARESIP: EndpointKind.PYVOIP}
# 3200 and 2400 Hz are at least 200 Hz from every product of 600, 1000 (and each other) up to
# the third order: G.711 companding and mixing make those, and 3 x 600 = 1800 Hz was heard
CALLER, AGENT, MONITOR, BARGE = 600.0, 1000.0, 3200.0, 2400.0
RING_NO_ANSWER = 32767  # acd.states.SystemReason.RING_NO_ANSWER
STRAY = 0.3  # seconds of a tone tolerated where it must be absent (clicks as media paths switch)
TALK = 0.6  # how long an agent talks on the routing scenarios' short calls


# -- the gateway, seen from the lab LAN ------------------------------------------------------

def log_on(lab: Lab, user: str, at: Endpoint | str, *, pin: str = "1234", ready: bool = True) -> None:
    """`user` logs on at an endpoint's station (or a station with no phone in the lab) by the
    phone XML service (the IP Phone Agent screens)."""
    station = at if isinstance(at, str) else at.spec.station
    if isinstance(at, str):  # a desk with no phone: registered from the gateway's host, where
        # the requests below come from (issue 19: screens and supervisor actions act for a
        # station only from where it registered; the demo's desk passwords are pw<station>)
        gw = lab.network.gateway_host()
        sip = lab.gateway.sip

        def register() -> None:
            register_desk_once(sip, station, f"pw{station}")

        gw.call_inside(register) if gw else register()
    for path in [f"/xml/login?ext={station}&id={user}&pin={pin}", *([f"/xml/set?ext={station}&to=ready"] * ready)]:
        # from the phone's lab host (issue 19: the screens act only from where it registered)
        status, text = lab.request("GET", path, via=None if isinstance(at, str) else at)
        assert status == 200, (path, status, text[:300])
    agent = lab.agent(user)
    assert agent is not None and agent["station"] == station, lab.api("/api/agents")
    assert agent["state"] == ("READY" if ready else "NOT_READY"), agent


def status_line(lab: Lab, agent: Endpoint) -> str:
    """The agent phone's status screen (guide: "Talking : Mon" while monitored)."""
    status, text = lab.request("GET", f"/xml/stats?ext={agent.spec.station}")
    assert status == 200, text[:300]
    return text


def post(lab: Lab, path: str, body: dict[str, str], *, via: Endpoint | None = None) -> tuple[int, Any]:
    """A supervisor action over HTTP; `via`: from the supervisor phone's lab host (issue 19:
    without the API token an action is taken only from the supervisor's registered desk)."""
    status, text = lab.request("POST", path, body, via=via)
    return status, json.loads(text) if text else None


def logged(lab: Lab, pattern: str, what: str, timeout: float = 15.0, since: int = 0) -> re.Match[str]:
    """Wait for the gateway to log `pattern` (a regex) after offset `since` of its output. The
    ACD logs each event (`OfferCall(...)`, `StateChanged(...)`) once it is committed to the
    journal and the HTTP views, a supervisor's joining once the media is switched: after the
    line, one read of either is the assertion. The match's `end()` is a `since` for the next."""
    try:
        return lab.gateway.wait_for_output(pattern, timeout, since=since)
    except AssertionError as exc:
        raise AssertionError(f"timed out ({timeout} s) waiting for {what}: {exc}") from None


def acd_event(kind: str, user: str) -> str:
    """A regex for the gateway's log line of ACD event `kind` (`OfferCall`, ...) naming `user`."""
    return rf"\b{kind}\([^\n]*\buser_id='{user}'"


def wait_state(lab: Lab, user: str, *states: str, timeout: float = 15.0, since: int = 0) -> int:
    """Wait for `user`'s log line entering one of `states` (AgentState names) after `since`;
    check the API agrees, and return where the line ends."""
    names = "|".join(states)
    found = logged(lab, rf"\bStateChanged\([^\n]*\buser_id='{user}'[^\n]*\bnew=<AgentState\.(?:{names}):",
                   f"{user} {'/'.join(states)}", timeout, since)
    assert state(lab, user) in states, lab.agent(user)
    return found.end()


def state(lab: Lab, user: str) -> str:
    agent = lab.agent(user)
    return str(agent["state"]) if agent else "LOGGED_OUT"


def journal(lab: Lab, kind: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{lab.gateway.state_dir / 'acdgate.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT data FROM journal WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    finally:
        db.close()
    return [json.loads(row[0]) for row in rows]


def users_of(lab: Lab, kind: str) -> list[str]:
    return [str(r["user_id"]) for r in journal(lab, kind)]


# -- endpoints ---------------------------------------------------------------------------------

def endpoints(lab: Lab, *kinds: EndpointKind) -> list[Endpoint]:
    """Endpoints of these kinds, started and registered at once (each registration waits on
    its own phone)."""
    eps = [lab.endpoint(k, register=False) for k in kinds]
    with ThreadPoolExecutor(len(eps)) as pool:
        for ep, obs in zip(eps, pool.map(lambda e: e.register(timeout=30), eps), strict=True):
            assert obs.kind is K.REGISTERED, f"{ep.spec.name} did not register: {obs}"
    return eps


def answer(ep: Endpoint, tone: float | None = None, ring_within: float = 15) -> Observation:
    """The phone rings (the gateway offers it a call): answer, and maybe play a tone."""
    incoming = ep.wait_for(K.CALL_INCOMING, ring_within)
    ep.answer()
    ep.wait_for(K.CALL_ANSWERED, 15)
    if tone is not None:
        ep.play_tone(tone, 60)
    return incoming


def dial(ep: Endpoint, number: str, tone: float | None = None) -> None:
    obs = ep.call(number, timeout=20)
    assert obs.kind is K.CALL_ANSWERED, f"{ep.spec.name} dialled {number}: {obs}"  # answered at once, queued
    if tone is not None:
        ep.play_tone(tone, 60)


def hang_up(ep: Endpoint) -> Observation:
    ep.hangup()
    return ep.wait_for(K.CALL_ENDED, 15)


def heard(obs: Observation) -> npt.NDArray[np.int16]:
    path = obs.data.get("audio", "")
    assert path and Path(path).is_file(), f"no audio kept for this call: {obs}"
    return read_wav(Path(path))


def talk(seconds: float, *parties: Endpoint) -> None:
    """The scenario's talking time, `seconds` with audio flowing: every party's call must stay
    up through it (the first waits it out; the others must not have seen their call end)."""
    deadline = time.monotonic() + seconds
    for party in parties:
        party.stays_in_call(max(0.0, deadline - time.monotonic()))


def routed(lab: Lab, caller: Endpoint, group: str, agents: dict[str, Endpoint], expected: str) -> None:
    """One call from `caller` to `group`: `expected` is offered it, answers, talks, hangs up;
    the caller's leg ends with it and the agent is READY again after wrap-up."""
    offers = len(users_of(lab, "OfferCall"))
    before = lab.gateway.mark()
    dial(caller, group)
    logged(lab, r"\bOfferCall\(", f"an offer of call {offers + 1} in {group}", since=before)
    offered = users_of(lab, "OfferCall")[offers:]
    assert offered[0] == expected, f"{group} offered call {offers + 1} to {offered[0]}, expected {expected}"
    answer(agents[expected])
    connected = logged(lab, r"\bCallConnected\(", "the call connected", since=before)
    assert users_of(lab, "CallConnected")[offers:] == [expected]
    talk(TALK, agents[expected], caller)
    assert hang_up(agents[expected]).data["by"] == "local"
    caller.wait_for(K.CALL_ENDED, 15)
    wait_state(lab, expected, "READY", since=connected.end())  # after wrap-up
    assert {u: state(lab, u) for u in agents} == dict.fromkeys(agents, "READY")  # the others stayed READY


# -- scenarios -------------------------------------------------------------------------------

def test_linear_group_offers_the_first_free_member_each_time(lab: Lab, conditions: LabNetwork,
                                                             kind: EndpointKind) -> None:
    a, b, first, second = endpoints(lab, kind, kind, OTHER[kind], OTHER[kind])
    log_on(lab, "3001", b)  # 3001 Ready first: idle longer, but 3000 comes first in 6000's list
    log_on(lab, "3000", a)
    routed(lab, first, "6000", {"3000": a, "3001": b}, "3000")
    # 3000 busy: the next member in list order
    before = lab.gateway.mark()
    dial(first, "6000")
    logged(lab, acd_event("OfferCall", "3000"), "the second offer", since=before)
    answer(a)
    third = lab.gateway.mark()
    dial(second, "6000")
    logged(lab, r"\bOfferCall\(", "the third offer", since=third)
    assert users_of(lab, "OfferCall")[2:] == ["3001"]
    answer(b)
    talk(TALK, a, b, first, second)
    hang_up(b)
    hang_up(a)
    for caller in (first, second):
        caller.wait_for(K.CALL_ENDED, 15)
    for user in ("3000", "3001"):  # READY again, after wrap-up
        wait_state(lab, user, "READY", since=before)
    routed(lab, first, "6000", {"3000": a, "3001": b}, "3000")
    assert users_of(lab, "CallConnected") == ["3000", "3000", "3001", "3000"]
    handled = {u: lab.agent(u)["calls_handled"] for u in ("3000", "3001")}  # type: ignore[index]
    assert handled == {"3000": 3, "3001": 1}, handled


def test_circular_group_rotates_past_the_member_offered_last(lab: Lab, conditions: LabNetwork,
                                                            kind: EndpointKind) -> None:
    a, b, caller = endpoints(lab, kind, kind, OTHER[kind])
    log_on(lab, "3000", a)
    log_on(lab, "3001", b)
    agents = {"3000": a, "3001": b}
    for expected in ("3000", "3001", "3000"):  # both Ready before each call: linear would be 3000 x 3
        routed(lab, caller, "6001", agents, expected)
    assert users_of(lab, "CallConnected") == ["3000", "3001", "3000"]


def test_most_idle_member_gets_the_call(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    a, b, caller = endpoints(lab, kind, kind, OTHER[kind])
    log_on(lab, "3001", b)  # idle longest: first, although 3000 comes first in the member list
    log_on(lab, "3000", a)
    agents = {"3000": a, "3001": b}
    for expected in ("3001", "3000", "3001"):  # after its call an agent is the least idle
        routed(lab, caller, "6002", agents, expected)
    handled = {u: lab.agent(u)["calls_handled"] for u in agents}  # type: ignore[index]
    assert handled == {"3000": 1, "3001": 2}, handled


def test_ring_no_answer_makes_the_agent_not_ready_and_the_next_gets_the_call(
        lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    deaf, b, caller = endpoints(lab, kind, kind, OTHER[kind])
    log_on(lab, "3000", deaf)
    log_on(lab, "3001", b)
    dial(caller, "6000")
    deaf.wait_for(K.CALL_INCOMING, 15)  # it rings, and nobody answers
    answer(b, ring_within=NO_ANSWER_SECONDS + 15)  # after the no-answer time, the next member's rings
    offered_at = [r["at"] for r in journal(lab, "OfferCall")]
    assert users_of(lab, "OfferCall") == ["3000", "3001"]
    assert offered_at[1] - offered_at[0] >= NO_ANSWER_SECONDS - 0.1, offered_at
    assert users_of(lab, "RingNoAnswer") == ["3000"]
    agent = lab.agent("3000")
    assert agent is not None and (agent["state"], agent["reason_code"]) == ("NOT_READY", RING_NO_ANSWER), agent
    # the phone that did not answer stopped ringing (CANCEL, 487), no call was set up on it
    ended = deaf.wait_for(K.CALL_ENDED, 10)
    assert not [o for o in deaf.observed if o.kind is K.CALL_ANSWERED], deaf.observed
    assert ended.data.get("by") != "local", ended
    # the phone has answered when it sends its 200; the gateway when that (maybe resent) arrives
    logged(lab, r"\bCallConnected\(", "the call connected")
    assert users_of(lab, "CallConnected") == ["3001"]
    hang_up(b)
    caller.wait_for(K.CALL_ENDED, 15)
    assert lab.agent("3001")["calls_handled"] == 1  # type: ignore[index]


def test_recording_keeps_caller_and_agent_on_their_channels(lab: Lab, conditions: LabNetwork,
                                                          kind: EndpointKind) -> None:
    agent, caller = endpoints(lab, kind, OTHER[kind])
    log_on(lab, "3000", agent)
    log_on(lab, "3900", "2110", pin="9999", ready=False)  # the supervisor desk: records by HTTP
    dial(caller, "6000", tone=CALLER)
    answer(agent, tone=AGENT)
    wait_state(lab, "3000", "TALKING")
    status, body = post(lab, "/api/agents/3000/record", {"user": "3900"})
    assert status == 200, body
    talk(3.0, agent, caller)
    agent_end = hang_up(agent)
    caller_end = caller.wait_for(K.CALL_ENDED, 15)
    # the gateway closes the call's recording before it tells the ACD the call ended
    logged(lab, acd_event("CallCompleted", "3000"), "the call completed")
    rows = [r for r in lab.api("/api/recordings") if r["ended"] is not None]
    assert [(r["agent"], r["group"], r["by"]) for r in rows] == [("3000", "6000", "3900")], rows
    path = Path(rows[0]["path"])
    assert path.is_file() and path.suffix == ".wav" and rows[0]["size"] == path.stat().st_size
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    left, right = stereo[:, 0], stereo[:, 1]
    length = len(left) / 8000
    assert 2.0 < length < 6.0, length
    # caller left, agent right (each for most of the recording, the other hardly at all)
    assert tone_seconds(left, CALLER) > 0.6 * length, (tone_seconds(left, CALLER), length)
    assert tone_seconds(left, AGENT) <= STRAY, tone_seconds(left, AGENT)
    assert tone_seconds(right, AGENT) > 0.6 * length, (tone_seconds(right, AGENT), length)
    assert tone_seconds(right, CALLER) <= STRAY, tone_seconds(right, CALLER)
    # and the two phones heard each other (for most of what each kept of the call)
    for end, other in ((caller_end, AGENT), (agent_end, CALLER)):
        audio = heard(end)
        assert tone_seconds(audio, other) > max(1.0, 0.6 * len(audio) / 8000 - 1.0), (end, len(audio))


def test_a_phones_tone_ends_with_its_call(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    """The harness's own promise: a tone a scenario plays lasts its call. The next call on the
    same phones starts silent (a softphone whose audio source outlived the call would replay
    the tone into it: a supervisor barging in once started with its monitoring tone)."""
    agent, caller = endpoints(lab, kind, OTHER[kind])
    log_on(lab, "3000", agent)
    for tone_of_caller, tone_of_agent in ((CALLER, AGENT), (None, None)):
        before = lab.gateway.mark()
        dial(caller, "6000", tone=tone_of_caller)
        answer(agent, tone=tone_of_agent)
        talk(1.5, agent, caller)
        agent_end, caller_end = hang_up(agent), caller.wait_for(K.CALL_ENDED, 15)
        # READY after this call's wrap-up: looked for after the call's end, not after `before`.
        # `before` may come before log_on's own READY line on the first call (the harness reads
        # the gateway's output in a thread of its own, so a mark can lag the HTTP replies).
        completed = logged(lab, acd_event("CallCompleted", "3000"), "the call completed", since=before)
        wait_state(lab, "3000", "READY", since=completed.end())  # after wrap-up
        at_agent, at_caller = heard(agent_end), heard(caller_end)
        if tone_of_caller is not None:  # the tones carry, so their absence below is meaningful
            assert tone_seconds(at_agent, CALLER) > 0.5, "the agent did not hear the caller's tone"
            assert tone_seconds(at_caller, AGENT) > 0.5, "the caller did not hear the agent's tone"
        else:
            assert tone_seconds(at_agent, CALLER) <= STRAY, "the caller's tone of its last call came back"
            assert tone_seconds(at_caller, AGENT) <= STRAY, "the agent's tone of its last call came back"


def test_supervisor_monitors_barges_in_and_intercepts(lab: Lab, conditions: LabNetwork,
                                                      kind: EndpointKind) -> None:
    agent, supervisor, caller = endpoints(lab, kind, kind, OTHER[kind])
    log_on(lab, "3000", agent)
    log_on(lab, "3900", supervisor, pin="9999", ready=False)
    dial(caller, "6000", tone=CALLER)
    answer(agent, tone=AGENT)
    talking = wait_state(lab, "3000", "TALKING")

    # monitor by short code: the supervisor hears both, nobody hears the supervisor
    dial(supervisor, "*45*3000#", tone=MONITOR)
    logged(lab, r"\b3900 monitor on 3000's call", "the supervisor monitoring")
    assert "Mon" in status_line(lab, agent)
    talk(2.5, agent, caller, supervisor)
    monitored = hang_up(supervisor)
    # the phone is done when it sends its BYE; the gateway when that BYE (maybe resent) arrives
    logged(lab, r"\b3900 left 3000's call", "the monitoring ending with the supervisor's hang-up")
    assert "Mon" not in status_line(lab, agent)

    # barge-in over HTTP: the gateway rings the supervisor's station; three-way talk
    status, body = post(lab, "/api/agents/3000/barge", {"user": "3900", "station": supervisor.spec.station},
                        via=supervisor)
    assert status == 202, body
    answer(supervisor, tone=BARGE)
    talk(2.5, agent, caller, supervisor)

    # intercept: the agent's leg is released, the supervisor has the caller
    status, body = post(lab, "/api/agents/3000/intercept", {"user": "3900", "station": supervisor.spec.station},
                        via=supervisor)
    assert status == 200, body
    agent_end = agent.wait_for(K.CALL_ENDED, 15)
    assert agent_end.data["by"] != "local", agent_end
    talk(2.0, supervisor, caller)
    caller.hangup()
    caller_end = caller.wait_for(K.CALL_ENDED, 15)
    sup_end = supervisor.wait_for(K.CALL_ENDED, 15)
    wait_state(lab, "3000", "WORK_READY", "READY", since=talking)
    assert lab.agent("3000")["calls_handled"] == 1  # type: ignore[index]

    on_monitor, at_agent, at_caller, on_barge = (heard(o) for o in (monitored, agent_end, caller_end, sup_end))
    assert tone_seconds(on_monitor, CALLER) > 1.0, "the monitoring supervisor did not hear the caller"
    assert tone_seconds(on_monitor, AGENT) > 1.0, "the monitoring supervisor did not hear the agent"
    assert tone_seconds(at_agent, MONITOR) <= STRAY, "the agent heard the monitoring supervisor"
    assert tone_seconds(at_caller, MONITOR) <= STRAY, "the caller heard the monitoring supervisor"
    assert tone_seconds(at_agent, BARGE) > 1.0, "the agent did not hear the barging supervisor"
    assert tone_seconds(at_caller, BARGE) > 2.0, "the caller did not hear the supervisor (barge, intercept)"
    assert tone_seconds(on_barge, AGENT) > 1.0, "the barging supervisor did not hear the agent"
    assert tone_seconds(on_barge, CALLER) > 2.0, "the supervisor did not hear the caller"
    assert tone_seconds(at_caller, AGENT) > 3.0, "the caller did not hear the agent before the intercept"
