"""RFC 3261 8.2.7: REGISTERs are answered statelessly (no server transaction, no Timer J), the
challenge at once and the rest after its binding is committed; a retransmission is never
processed twice: it is absorbed while the answer is pending and gets the answer's bytes after."""

from __future__ import annotations

import re

from acdgate.gateway.sip.stack import _StreamProtocol
from inprocess_gateway import World
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport


def _nonce(answer: str) -> str:
    found = re.search(r'nonce="([^"]+)"', answer)
    assert found, answer
    return found[1]


def test_a_registration_leaves_no_transaction_behind(local_gateway: World) -> None:
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
    local_gateway.send(local_gateway.request("2101", 2, local_gateway.authorization("2101", first)))
    local_gateway.read_one()
    assert local_gateway.answer().startswith("SIP/2.0 200 ")
    assert not any("_fire_due" in repr(c) for c in local_gateway.clock.getDelayedCalls())
    assert not local_gateway.gateway.stack.layer._transactions


def test_a_retransmission_gets_the_same_challenge_until_the_client_gives_up(local_gateway: World) -> None:
    request = local_gateway.request("2101", 1)
    local_gateway.send(request)
    local_gateway.read_one()
    first = local_gateway.answer()
    local_gateway.clock.advance(0.5)  # the client's Timer E: it retransmits (our 401 was late)
    local_gateway.send(request)
    local_gateway.read_one()
    assert local_gateway.answer() == first  # byte for byte: a client that took the first sees a copy
    local_gateway.clock.advance(32.0)  # after the client's Timer F (64*T1): answered afresh
    local_gateway.send(request)
    local_gateway.read_one()
    later = local_gateway.answer()
    assert later.startswith("SIP/2.0 401 ") and _nonce(later) != _nonce(first)
    other = local_gateway.request("2102", 1)  # another request is another answer
    local_gateway.send(other)
    local_gateway.read_one()
    assert _nonce(local_gateway.answer()) not in (_nonce(first), _nonce(later))


def test_a_retransmitted_authenticated_register_gets_its_200_again_not_a_replay(local_gateway: World) -> None:
    credentials = local_gateway.challenged("2101")
    request = local_gateway.request("2101", 2, credentials)
    local_gateway.send(request)
    local_gateway.read_one()
    first = local_gateway.answer()
    assert first.startswith("SIP/2.0 200 ")
    for wait in (0.5, 1.0, 4.0, 4.0, 20.0):  # Timer E's doubling up to T2, then T2 (17.1.2.2)
        local_gateway.clock.advance(wait)  # until 29.5 s: still inside the client's Timer F
        local_gateway.send(request)  # processed again it would be a nonce-count replay: a 401
        local_gateway.read_one()
        assert local_gateway.answer() == first


def test_a_retransmission_while_the_answer_waits_for_its_commit_is_absorbed(local_gateway: World) -> None:
    credentials = local_gateway.challenged("2101")
    request = local_gateway.request("2101", 2, credentials)
    local_gateway.send(request)
    local_gateway.send(request)  # retransmitted before the first was answered
    local_gateway.read_one()  # held: more input waits in the socket
    assert local_gateway.no_answer_yet()
    local_gateway.read_one()  # the retransmission: absorbed
    assert local_gateway.no_answer_yet()
    local_gateway.clock.advance(0)  # the next reactor turn commits what the burst left held
    assert local_gateway.answer().startswith("SIP/2.0 200 ")
    assert local_gateway.no_answer_yet()  # one answer, not two


def test_a_register_over_tcp_is_answered_on_its_connection(local_gateway: World) -> None:
    connection = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40001))
    phone = _StreamProtocol(local_gateway.gateway.stack, "TCP")
    phone.makeConnection(connection)
    # a TCP client whose Via names its listening port, not the connection's (no rport)
    request = local_gateway.request("2101", 1).replace(
        f"SIP/2.0/UDP 127.0.0.1:{local_gateway.phone_port};branch=z9hG4bK-2101-1;rport".encode(),
        b"SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-2101-1")
    phone.dataReceived(request)
    first = connection.value()
    assert first.startswith(b"SIP/2.0 401 "), first
    connection.clear()
    phone.dataReceived(request)  # nothing kept for a reliable transport: answered afresh
    assert connection.value().startswith(b"SIP/2.0 401 ") and connection.value() != first


def test_a_require_still_gets_its_420_before_any_challenge(local_gateway: World) -> None:
    # RFC 3261 10.3 step 2 comes before authentication (step 3), stateless or not
    request = local_gateway.request("2101", 1).replace(b"Expires: 600\r\n", b"Expires: 600\r\nRequire: gruu\r\n")
    local_gateway.send(request)
    local_gateway.read_one()
    answer = local_gateway.answer()
    assert answer.startswith("SIP/2.0 420 "), answer
    assert "Unsupported: gruu" in answer


def _unusual(request: bytes) -> bytes:
    """The same REGISTER with a tab after a colon (valid SWS, RFC 3261 7.3.1) and a folded
    line: not the quick path's shape."""
    return request.replace(b"Expires: 600", b"Expires:\t600").replace(b"Call-ID: ", b"Call-ID:\r\n  ")


def test_plain_registers_are_answered_unparsed_and_the_others_parsed_alike(local_gateway: World) -> None:
    stats = local_gateway.gateway.stack.stats
    local_gateway.send(local_gateway.request("2101", 2, local_gateway.challenged("2101")))
    local_gateway.read_one()
    quick = local_gateway.answer()
    assert stats["scanned"] == 2  # the challenged REGISTER and the authenticated one
    local_gateway.send(_unusual(local_gateway.request("2102", 1)))
    local_gateway.read_one()
    challenge = local_gateway.answer()
    assert challenge.startswith("SIP/2.0 401 ")
    local_gateway.send(_unusual(local_gateway.request("2102", 2, local_gateway.authorization("2102", challenge))))
    local_gateway.read_one()
    general = local_gateway.answer()
    assert stats["scanned"] == 2  # the unusual ones were parsed
    assert local_gateway.stored() == {"2101", "2102"}
    # the same answer either way, but for the station and the tag
    def shape(answer: str) -> list[str]:
        text = re.sub(r"210[12]", "21XX", re.sub(r";tag=\w+", ";tag=T", answer))
        return [line for line in text.split("\r\n") if not line.startswith(("Via:", "CSeq:", "Date:"))]
    assert quick.startswith("SIP/2.0 200 ") and shape(quick) == shape(general)


def test_a_binding_that_cannot_be_stored_is_not_acknowledged_either_way(local_gateway: World) -> None:
    # RFC 3261 10.3 step 7: a binding that is not durable gets a 500 and the phone retries
    quick_credentials = local_gateway.challenged("2101")
    local_gateway.send(_unusual(local_gateway.request("2102", 1)))
    local_gateway.read_one()
    general_credentials = local_gateway.authorization("2102", local_gateway.answer())
    local_gateway.store._db.close()  # the database is gone from under the gateway
    local_gateway.send(local_gateway.request("2101", 2, quick_credentials))
    local_gateway.read_one()
    assert local_gateway.answer().startswith("SIP/2.0 500 ")
    local_gateway.send(_unusual(local_gateway.request("2102", 2, general_credentials)))
    local_gateway.read_one()
    assert local_gateway.answer().startswith("SIP/2.0 500 ")
    assert local_gateway.gateway.stack.stats["scanned"] == 2
