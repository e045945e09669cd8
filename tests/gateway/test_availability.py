"""Availability end to end (issue 16): an agent whose phone has a call is not rung for a queued
one, with pyVoIP phones on the real gateway: an agent who dials out is rung for the queued
call only when that call ends, and right then; a direct call that arrives during wrap-up keeps
the agent from being offered a call when the wrap-up time ends, until the call is over. The
rules one by one and the property test are in tests/acd/test_agent_availability.py."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from acdgate.gateway.storage.store import StateStore
from acdgate.lab.gateway_process import GatewayProcess
from pyvoip_parties import (
    agent_state,
    answerer,
    answerer_result,
    call_through,
    caller,
    dial_then_answer,
    logon,
    wait_logged,
    wait_state,
)
from sipwire import free_port


def journal(state_dir: Path, user: str) -> list[dict[str, Any]]:
    """The user's state changes and offers, and every queued call, in journal order."""
    store = StateStore(state_dir)
    try:
        return [r for r in store.journal(kinds=["StateChanged", "OfferCall", "CallQueued"])
                if r["type"] == "CallQueued" or r["user_id"] == user]
    finally:
        store.close()


def stop(*procs: subprocess.Popen[str] | None) -> None:
    """Kill the phones still running (a test that failed half way); reap every one."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.communicate(timeout=10)


def test_an_agent_who_dials_out_is_rung_for_a_queued_call_right_after_that_call_ends(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    logon(gateway, "2101", "3000")  # Ready, first member of 6000
    callee = answerer(gateway, "2103", 1000.0, talk_seconds=6.0)  # nobody logged on at 2103
    agent = dial_then_answer(gateway, "2101", "2103", 1000.0, timeout=40.0)
    queued = None
    try:
        talking = wait_state(gateway, "3000", "TALKING", timeout=20)  # its own call to 2103
        queued = caller(gateway, "2105", "6000", timeout=40.0)
        wait_logged(gateway, r"CallQueued\([^\n]*group='6000'", "the call to 6000 queued", since=talking)
        assert agent_state(gateway, "3000") == "TALKING"
        # 2103 hangs up after 6 s: the agent is free and rung for the queued call
        wait_logged(gateway, r"OfferCall\([^\n]*user_id='3000'", "the offer to 3000", timeout=20, since=talking)
        events, _ = answerer_result(agent)
        answerer_result(callee)
    finally:
        stop(agent, callee, queued)
        gateway.stop()
    rung = [e for e in events if e["event"] == "call"]
    assert [e["number"] for e in rung] == ["2105"], events
    records = journal(tmp_path / "state", "3000")
    kinds = [(r["type"], r.get("new")) for r in records]
    assert kinds[:6] == [("StateChanged", "not-ready"), ("StateChanged", "ready"),
                         ("StateChanged", "reserved"), ("StateChanged", "talking"),
                         ("CallQueued", None), ("StateChanged", "ready")], kinds
    assert kinds[6:8] == [("StateChanged", "reserved"), ("OfferCall", None)], kinds
    dialled_out, freed, offer = records[2], records[5], records[7]
    assert dialled_out["call_id"] != offer["call_id"]
    assert offer["at"] == freed["at"], "the agent was not rung as soon as its call ended"


def test_a_direct_call_during_wrap_up_keeps_the_agent_from_queued_calls_until_it_ends(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    port = free_port()  # both phones of 2101 use it: the second takes over the registration
    logon(gateway, "2101", "3000")
    first = answerer(gateway, "2101", 1000.0, talk_seconds=1.5, sip_port=port)
    try:
        result, _ = call_through(gateway, "2105", "6000", "--timeout", "20")
        answerer_result(first)
    finally:
        stop(first)
    assert result["answered"], result
    wrapping = wait_state(gateway, "3000", "WORK_READY")  # 10 s of wrap-up (group 6000)
    second = answerer(gateway, "2101", 1000.0, talk_seconds=14.0, sip_port=port)
    direct = caller(gateway, "2103", "2101", timeout=30.0)
    queued = None
    try:
        talking = wait_state(gateway, "3000", "TALKING", timeout=20, since=wrapping)
        queued = caller(gateway, "2106", "6000", timeout=60.0)
        wait_logged(gateway, r"CallQueued\([^\n]*group='6000'", "the call to 6000 queued", since=talking)
        # the wrap-up time ends during the call; the agent is offered the call only after it
        wait_logged(gateway, r"OfferCall\([^\n]*user_id='3000'", "the offer to 3000", timeout=30, since=talking)
        answerer_result(second)
    finally:
        stop(second, direct, queued)
        gateway.stop()
    records = journal(tmp_path / "state", "3000")
    changes = [(r["old"], r["new"]) for r in records if r["type"] == "StateChanged"]
    at = changes.index(("talking", "work-ready"))
    assert changes[at + 1:at + 5] == [("work-ready", "reserved"), ("reserved", "talking"),
                                      ("talking", "ready"), ("ready", "reserved")], changes
    states = [r for r in records if r["type"] == "StateChanged"]
    wrap_up, ready = states[at], states[at + 3]
    assert ready["at"] - wrap_up["at"] >= 10.0, "the call ended before the wrap-up time did"
    offers = [r for r in records if r["type"] == "OfferCall"]
    assert len(offers) == 2 and offers[1]["at"] == ready["at"], offers


def test_a_supervisor_on_an_agents_call_is_on_a_call_for_the_acd_until_leaving(
        gateway: GatewayProcess) -> None:
    """The supervisor's own leg (here a `*45*3000#` monitor call) is a call of the supervisor's
    station: Reserved/Talking meanwhile, as for any call, and back to Not Ready after it."""
    logon(gateway, "2110", "3900", pin="9999", ready=False)
    logon(gateway, "2101", "3000")
    agent = answerer(gateway, "2101", 1000.0, talk_seconds=12.0)
    call = caller(gateway, "2105", "6000", tone=600.0)
    supervisor = None
    try:
        talking = wait_state(gateway, "3000", "TALKING")
        supervisor = caller(gateway, "2110", "*45*3000#", tone=1800.0, hangup_after=3.0)
        joined = wait_logged(gateway, r"\b3900 monitor on 3000's call", "the supervisor joined", since=talking)
        assert agent_state(gateway, "3900") == "TALKING"
        wait_state(gateway, "3900", "NOT_READY", since=joined)  # hung up after 3 s
        answerer_result(agent)
    finally:
        stop(agent, call, supervisor)


def test_an_agent_calling_its_own_group_is_not_offered_its_own_call(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    """A call to a group from a station is that station's own call for the ACD: its agent,
    first in the group's order and Ready, is on that call, so the next agent gets it."""
    logon(gateway, "2101", "3000")
    logon(gateway, "2102", "3001")
    other = answerer(gateway, "2102", 1000.0, talk_seconds=2.0)
    try:
        result, _ = call_through(gateway, "2101", "6000", "--timeout", "20")
        events, _ = answerer_result(other)
    finally:
        stop(other)
        gateway.stop()
    assert result["answered"] and result["ended_by_far_end"], result
    assert [e["number"] for e in events if e["event"] == "call"] == ["2101"]
    records = journal(tmp_path / "state", "3000")
    assert not [r for r in records if r["type"] == "OfferCall"], records
    assert [r["new"] for r in records if r["type"] == "StateChanged"] == [
        "not-ready", "ready", "reserved", "talking", "ready"], records
