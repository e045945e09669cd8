"""RFC 3261 8.2.7: the challenge to a REGISTER without credentials is sent statelessly (no
server transaction, no Timer J); everything else about a registration stays transactional."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from inprocess_gateway import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "state")
    try:
        yield w
    finally:
        w.close()


def _nonce(answer: str) -> str:
    found = re.search(r'nonce="([^"]+)"', answer)
    assert found, answer
    return found[1]


def test_an_unauthenticated_register_is_challenged_without_a_transaction(world: World) -> None:
    request = world.request("2101", 1)
    world.send(request)
    world.read_one()
    first = world.answer()
    assert first.startswith("SIP/2.0 401 ")
    assert "Server: acdgate" in first  # a proper response all the same
    assert re.search(r"^To: <sip:2101@127\.0\.0\.1>;tag=\w+\r$", first, re.M), first
    assert f"rport={world.phone_port}" in first
    # nothing is left running for it: no server transaction, so no Timer J on the clock
    assert not any("_fire_due" in repr(c) for c in world.clock.getDelayedCalls())
    # the authenticated REGISTER is transactional
    world.send(world.request("2101", 2, world.authorization("2101", first)))
    world.read_one()
    assert world.answer().startswith("SIP/2.0 200 ")
    assert any("_fire_due" in repr(c) for c in world.clock.getDelayedCalls())  # its Timer J


def test_a_retransmission_gets_the_same_challenge_for_a_few_seconds(world: World) -> None:
    request = world.request("2101", 1)
    world.send(request)
    world.read_one()
    first = world.answer()
    world.clock.advance(0.5)  # the client's Timer E: it retransmits (our 401 was late)
    world.send(request)
    world.read_one()
    assert world.answer() == first  # byte for byte: a client that took the first sees a copy
    world.clock.advance(8.0)  # long after any retransmission: answered afresh
    world.send(request)
    world.read_one()
    later = world.answer()
    assert later.startswith("SIP/2.0 401 ") and _nonce(later) != _nonce(first)
    other = world.request("2102", 1)  # another request is another answer
    world.send(other)
    world.read_one()
    assert _nonce(world.answer()) not in (_nonce(first), _nonce(later))


def test_a_retransmitted_authenticated_register_is_absorbed_not_replayed(world: World) -> None:
    credentials = world.challenged("2101")
    request = world.request("2101", 2, credentials)
    world.send(request)
    world.read_one()
    first = world.answer()
    world.send(request)  # a retransmission: the transaction resends its 200 (no nc replay 401)
    world.read_one()
    assert world.answer() == first
    assert first.startswith("SIP/2.0 200 ")
