"""RFC 3261 8.2.7: the challenge to a REGISTER without credentials is sent statelessly (no
server transaction, no Timer J); everything else about a registration stays transactional."""

from __future__ import annotations

import re

from inprocess_gateway import World


def _nonce(answer: str) -> str:
    found = re.search(r'nonce="([^"]+)"', answer)
    assert found, answer
    return found[1]


def test_an_unauthenticated_register_is_challenged_without_a_transaction(local_gateway: World) -> None:
    request = local_gateway.request("2101", 1)
    local_gateway.send(request)
    local_gateway.read_one()
    first = local_gateway.answer()
    assert first.startswith("SIP/2.0 401 ")
    assert "Server: acdgate" in first  # a proper response all the same
    assert re.search(r"^To: <sip:2101@127\.0\.0\.1>;tag=\w+\r$", first, re.M), first
    assert f"rport={local_gateway.phone_port}" in first
    # nothing is left running for it: no server transaction, so no Timer J on the clock
    assert not any("_fire_due" in repr(c) for c in local_gateway.clock.getDelayedCalls())
    # the authenticated REGISTER is transactional
    local_gateway.send(local_gateway.request("2101", 2, local_gateway.authorization("2101", first)))
    local_gateway.read_one()
    assert local_gateway.answer().startswith("SIP/2.0 200 ")
    assert any("_fire_due" in repr(c) for c in local_gateway.clock.getDelayedCalls())  # its Timer J


def test_a_retransmission_gets_the_same_challenge_for_a_few_seconds(local_gateway: World) -> None:
    request = local_gateway.request("2101", 1)
    local_gateway.send(request)
    local_gateway.read_one()
    first = local_gateway.answer()
    local_gateway.clock.advance(0.5)  # the client's Timer E: it retransmits (our 401 was late)
    local_gateway.send(request)
    local_gateway.read_one()
    assert local_gateway.answer() == first  # byte for byte: a client that took the first sees a copy
    local_gateway.clock.advance(8.0)  # long after any retransmission: answered afresh
    local_gateway.send(request)
    local_gateway.read_one()
    later = local_gateway.answer()
    assert later.startswith("SIP/2.0 401 ") and _nonce(later) != _nonce(first)
    other = local_gateway.request("2102", 1)  # another request is another answer
    local_gateway.send(other)
    local_gateway.read_one()
    assert _nonce(local_gateway.answer()) not in (_nonce(first), _nonce(later))


def test_a_retransmitted_authenticated_register_is_absorbed_not_replayed(local_gateway: World) -> None:
    credentials = local_gateway.challenged("2101")
    request = local_gateway.request("2101", 2, credentials)
    local_gateway.send(request)
    local_gateway.read_one()
    first = local_gateway.answer()
    local_gateway.send(request)  # a retransmission: the transaction resends its 200 (no nc replay 401)
    local_gateway.read_one()
    assert local_gateway.answer() == first
    assert first.startswith("SIP/2.0 200 ")


def test_a_require_still_gets_its_420_before_any_challenge(local_gateway: World) -> None:
    # RFC 3261 10.3 step 2 comes before authentication (step 3), stateless or not
    request = local_gateway.request("2101", 1).replace(b"Expires: 600\r\n", b"Expires: 600\r\nRequire: gruu\r\n")
    local_gateway.send(request)
    local_gateway.read_one()
    answer = local_gateway.answer()
    assert answer.startswith("SIP/2.0 420 "), answer
    assert "Unsupported: gruu" in answer
