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


def test_a_retransmitted_unauthenticated_register_gets_a_fresh_challenge(world: World) -> None:
    request = world.request("2101", 1)
    world.send(request)
    world.read_one()
    first = world.answer()
    world.send(request)  # the same REGISTER again (the 401 was lost): no transaction absorbs it
    world.read_one()
    second = world.answer()
    assert first.startswith("SIP/2.0 401 ") and second.startswith("SIP/2.0 401 ")
    assert _nonce(first) != _nonce(second)
    for answer in (first, second):  # a proper response all the same
        assert "Server: acdgate" in answer
        assert re.search(r"^To: <sip:2101@127\.0\.0\.1>;tag=\w+\r$", answer, re.M), answer
        assert f"rport={world.phone_port}" in answer
    # nothing is left running for it: no server transaction, so no Timer J on the clock
    assert not any("_fire_due" in repr(c) for c in world.clock.getDelayedCalls())
    # either nonce is good for the authenticated REGISTER, which is transactional
    world.send(world.request("2101", 2, world.authorization("2101", first)))
    world.read_one()
    assert world.answer().startswith("SIP/2.0 200 ")
    assert any("_fire_due" in repr(c) for c in world.clock.getDelayedCalls())  # its Timer J


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
