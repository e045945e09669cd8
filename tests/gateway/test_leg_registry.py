"""The registry of live legs: one lookup by Call-ID, each leg with the controller that owns it.

Real outgoing legs (made, never started: no socket, no timer); the in-dialog lookups through
it (BYE, REFER, CANCEL) are exercised end to end with SIPp in test_b2bua, test_direct_calls,
test_routed_calls and test_supervision.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from acdgate.gateway.legs.registry import LegOwner, LegRegistry, SipLegs, leg_call_id
from acdgate.gateway.legs.sip_uac import OutgoingSipLeg
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.sip.message import Request
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.registrar import Binding
from acdgate.gateway.sip.stack import SipStack
from twisted.internet import task


class Owner(LegOwner):
    """A controller that owns legs and knows nothing else."""


class Partnered(LegOwner):
    """A controller whose every leg has one partner."""

    def __init__(self, partner: SipLegs) -> None:
        self.partner = partner

    def partners(self, leg: SipLegs) -> list[tuple[str, SipLegs]]:
        return [("callee", self.partner)]


@pytest.fixture
def legs() -> Iterator[list[OutgoingSipLeg]]:
    clock = task.Clock()
    stack = SipStack(clock, handler=None)  # type: ignore[arg-type]  (never listens: no requests come)
    ports = RtpPortPool(40000, 40100)
    binding = Binding("2101", "sip:2101@127.0.0.1:5070", 3600.0, "reg-1", 1, ("127.0.0.1", 5070), "UDP")
    made = [OutgoingSipLeg(clock, stack, binding, station="2101", caller_number="2100", caller_name="x",
                           ports=ports, bind_ip="127.0.0.1") for _ in range(3)]
    yield made
    assert clock.getDelayedCalls() == []


def test_each_leg_is_found_with_its_owner_until_it_is_removed(legs: list[OutgoingSipLeg]) -> None:
    registry = LegRegistry()
    first, second = Owner(), Owner()
    registry.add(legs[0], first)
    registry.add(legs[1], second, transaction_key="z9hG4bK-1")
    assert (registry.owner(legs[0]), registry.owner(legs[1]), registry.owner(legs[2])) == (first, second, None)
    assert registry.by_transaction("z9hG4bK-1") is legs[1] and registry.by_transaction("other") is None
    assert set(registry) == {legs[0], legs[1]} and len(registry) == 2
    registry.remove(legs[1])
    assert registry.owner(legs[1]) is None and registry.by_transaction("z9hG4bK-1") is None
    registry.remove(legs[1])  # twice: nothing left to remove
    assert list(registry) == [legs[0]]


def test_a_transfer_takes_a_leg_over_and_answers_for_its_partners(legs: list[OutgoingSipLeg]) -> None:
    registry = LegRegistry()
    direct, transfers = Owner(), Partnered(legs[2])
    registry.add(legs[0], direct)
    assert direct.partners(legs[0]) == [] and direct.handover(legs[0]) is None
    registry.reown(legs[0], transfers)
    owner = registry.owner(legs[0])
    assert owner is transfers and owner.partners(legs[0]) == [("callee", legs[2])]
    registry.reown(legs[1], transfers)  # not registered: not added by a take-over
    assert registry.owner(legs[1]) is None


def _bye(call_id: str) -> Request:
    request = parse_message(
        f"BYE sip:acdgate@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-2\r\n"
        f"From: <sip:2101@127.0.0.1>;tag=a\r\nTo: <sip:2100@127.0.0.1>;tag=b\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n".encode())
    assert isinstance(request, Request)
    return request


def test_a_request_is_found_by_call_id_only_when_its_leg_has_a_dialog(legs: list[OutgoingSipLeg]) -> None:
    registry = LegRegistry()
    registry.add(legs[0], Owner())
    assert registry.find(_bye(leg_call_id(legs[0]))) is None  # not started: no dialog to match the tags
    assert registry.find(_bye("other@host")) is None
