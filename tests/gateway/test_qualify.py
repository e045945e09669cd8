"""Qualify: OPTIONS schedule per binding, one probe in flight, station reachability events."""

from __future__ import annotations

import itertools

import pytest
from acdgate.gateway.sip.qualify import (
    _TABLE,
    ProbeInput,
    ProbeState,
    Qualifier,
    QualifyError,
    StationReachable,
    StationUnreachable,
)
from acdgate.gateway.sip.registrar import Binding


def binding(user: str = "201", contact: str = "sip:201@10.0.0.1", at: float = 3600.0) -> Binding:
    return Binding(user, contact, at, "cid", 1, ("10.0.0.1", 5060), "UDP")


def test_schedule_every_interval_and_one_probe_in_flight() -> None:
    q = Qualifier(30)
    b = binding()
    assert q.track(b, 0.0) == []
    assert q.next_due() == 30.0
    assert q.due(29.9) == []
    assert q.due(30.0) == [b]
    assert q.next_due() is None  # in flight: nothing else scheduled
    assert q.due(100.0) == []
    assert q.answered(b.key(), 31.0) == []
    assert q.next_due() == 60.0
    assert q.due(60.0) == [b]


def test_late_answer_makes_it_due_at_once() -> None:
    q = Qualifier(10)
    b = binding()
    q.track(b, 0.0)
    q.due(10.0)
    q.answered(b.key(), 25.0)
    assert q.next_due() == 20.0
    assert q.due(25.0) == [b]


def test_station_unreachable_when_all_contacts_stop_answering_and_back_on_answer() -> None:
    q = Qualifier(30)
    a, c = binding(contact="sip:201@10.0.0.1"), binding(contact="sip:201@10.0.0.2")
    q.track(a, 0.0)
    q.track(c, 0.0)
    assert set(map(Binding.key, q.due(30.0))) == {a.key(), c.key()}
    assert q.timed_out(a.key(), 62.0) == []  # c may still answer
    assert q.reachable("201")
    assert q.timed_out(c.key(), 62.0) == [StationUnreachable("201", 62.0)]
    assert not q.reachable("201")
    q.due(62.0)
    assert q.timed_out(a.key(), 94.0) == []  # no repeated event
    assert q.answered(c.key(), 63.0) == [StationReachable("201", 63.0)]
    assert q.reachable("201")


def test_reregistration_counts_as_alive() -> None:
    q = Qualifier(30)
    b = binding()
    q.track(b, 0.0)
    q.due(30.0)
    assert q.timed_out(b.key(), 62.0) == [StationUnreachable("201", 62.0)]
    assert q.track(b, 70.0) == [StationReachable("201", 70.0)]
    assert q.state(b.key()) is ProbeState.IDLE_UP


def test_forget_removes_from_schedule_and_ignores_late_results() -> None:
    q = Qualifier(30)
    a, c = binding(contact="sip:201@10.0.0.1"), binding(contact="sip:201@10.0.0.2")
    q.track(a, 0.0)
    q.track(c, 0.0)
    q.due(30.0)
    q.timed_out(a.key(), 40.0)
    # the reachable one goes away: the station is now unreachable
    assert q.forget(c.key(), 41.0) == [StationUnreachable("201", 41.0)]
    assert q.answered(c.key(), 42.0) == []
    # the last one goes away: unregistered, not an event here
    assert q.forget(a.key(), 43.0) == []
    assert q.next_due() is None
    assert q.due(1000.0) == []
    assert q.track(a, 50.0) == []  # a new registration starts reachable, no stale "down"


def test_stations_are_independent() -> None:
    q = Qualifier(30)
    x, y = binding("201"), binding("202", "sip:202@10.0.0.3")
    q.track_all([x, y], 0.0)
    q.due(30.0)
    assert q.timed_out(x.key(), 62.0) == [StationUnreachable("201", 62.0)]
    assert q.answered(y.key(), 31.0) == []
    assert q.reachable("202") and not q.reachable("201")


def test_interval_zero_never_probes() -> None:
    q = Qualifier(0)
    q.track(binding(), 0.0)
    assert q.next_due() is None
    assert q.due(1e9) == []


def test_answer_without_probe_is_a_protocol_error() -> None:
    q = Qualifier(30)
    b = binding()
    q.track(b, 0.0)
    with pytest.raises(QualifyError):
        q.answered(b.key(), 1.0)
    with pytest.raises(QualifyError):
        q.timed_out(b.key(), 1.0)


def test_table_covers_exactly_the_valid_pairs() -> None:
    # every state can be refreshed; only probing states take answers and timeouts; only idle
    # states send
    for state, event in itertools.product(ProbeState, ProbeInput):
        probing = state in (ProbeState.PROBING_UP, ProbeState.PROBING_DOWN)
        valid = event is ProbeInput.REFRESH or (probing == (event is not ProbeInput.SEND))
        assert ((state, event) in _TABLE) is valid, (state, event)


def test_each_station_answers_for_its_own_bindings_only() -> None:
    q = Qualifier(30)
    mine = binding("201", "sip:201@10.0.0.1")
    theirs = [binding("202", "sip:202@10.0.0.2"), binding("202", "sip:202@10.0.0.3")]
    for b in (mine, *theirs):
        q.track(b, 0.0)
    q.due(30.0)
    assert q.timed_out(mine.key(), 62.0) == [StationUnreachable("201", 62.0)]
    assert q.reachable("202") and not q.reachable("201")
    assert q.forget(theirs[0].key(), 63.0) == []  # 202 keeps a binding: still reachable
    assert q.reachable("202")
    assert q.forget(mine.key(), 64.0) == []  # gone, not unreachable
    assert not q.reachable("201") and q.state(mine.key()) is None
    assert q.forget(theirs[1].key(), 65.0) == [] and not q.reachable("202")
    q.track(mine, 70.0)  # registered again: a fresh binding, believed up
    assert q.reachable("201")
