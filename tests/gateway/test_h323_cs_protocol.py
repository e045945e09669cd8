"""The call signalling TCP edge with an in-memory transport and a fake clock: TPKT segments
split anywhere reach the engine, the engine's timer runs on the reactor, a broken stream
releases its calls with cause 95, a flood of connections is capped, and the Q.850 causes a
refusal maps to."""

from __future__ import annotations

from acdgate.gateway.h323.call_signalling_actions import CallOffered
from acdgate.gateway.h323.cs_codec import CallSignalCodec
from acdgate.gateway.h323.cs_messages import (
    CallProceeding,
    CallSignal,
    CallSignalDecodeError,
    Cause,
    H245Tunnel,
    ReleaseComplete,
    ReleaseCompleteReason,
    Setup,
)
from acdgate.gateway.h323.cs_protocol import (
    CallSignallingFactory,
    CallSignallingProtocol,
)
from acdgate.gateway.h323.tpkt import TpktReader, frame
from acdgate.gateway.legs.h323_leg import release_cause
from acdgate.gateway.legs.leg import Refusal
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

CODEC = CallSignalCodec()


class Bridge:
    """The layer above, as far as these tests need it: it records the calls offered."""

    def __init__(self) -> None:
        self.offered: list[CallOffered] = []

    def call_offered(self, edge: CallSignallingProtocol, offered: CallOffered) -> None:
        self.offered.append(offered)


def connect(factory: CallSignallingFactory) -> tuple[CallSignallingProtocol, StringTransport]:
    edge = factory.buildProtocol(IPv4Address("TCP", "192.0.2.10", 40000))
    assert edge is not None
    transport = StringTransport(hostAddress=IPv4Address("TCP", "192.0.2.1", 1720),
                                peerAddress=IPv4Address("TCP", "192.0.2.10", 40000))
    edge.makeConnection(transport)
    return edge, transport


def written(transport: StringTransport) -> list[CallSignal]:
    out: list[CallSignal] = []
    for payload in TpktReader().feed(transport.value()):
        assert isinstance(payload, bytes)
        message = CODEC.decode(payload)
        assert not isinstance(message, CallSignalDecodeError), message
        out.append(message)
    return out


def setup(reference: int = 7) -> bytes:
    return frame(CODEC.encode(Setup(reference, True, bytes(range(16)), bytes(16),
                                    called_number="6000", h245=H245Tunnel(True, ()))))


def test_a_setup_split_anywhere_is_offered_and_the_engine_timer_answers_it() -> None:
    clock, bridge = Clock(), Bridge()
    edge, transport = connect(CallSignallingFactory(clock, bridge))
    data = setup()
    edge.dataReceived(data[:3])  # inside the TPKT header
    edge.dataReceived(data[3:20])
    assert bridge.offered == []
    edge.dataReceived(data[20:])
    (offered,) = bridge.offered
    assert offered.setup.called_number == "6000"
    assert transport.value() == b""  # the bridge has not answered
    clock.advance(3.0)  # H.225.0: the engine proceeds itself within the caller's T303
    (proceeding,) = written(transport)
    assert isinstance(proceeding, CallProceeding) and proceeding.call_reference == 7
    edge.connectionLost()
    assert clock.getDelayedCalls() == []


def test_a_broken_tpkt_releases_every_call_with_cause_95_and_closes() -> None:
    clock, bridge = Clock(), Bridge()
    edge, transport = connect(CallSignallingFactory(clock, bridge))
    edge.dataReceived(setup(7) + setup(8))
    assert len(bridge.offered) == 2
    edge.dataReceived(b"\x03\x00\x00\x02")  # length below 5
    releases = written(transport)
    assert [(m.call_reference, m.cause, m.reason) for m in releases
            if isinstance(m, ReleaseComplete)] == [
        (7, Cause.INVALID_MESSAGE, ReleaseCompleteReason.UNDEFINED_REASON),
        (8, Cause.INVALID_MESSAGE, ReleaseCompleteReason.UNDEFINED_REASON)]
    assert transport.disconnecting
    edge.connectionLost()
    assert clock.getDelayedCalls() == []


def test_connections_beyond_the_cap_are_refused() -> None:
    clock, bridge = Clock(), Bridge()
    factory = CallSignallingFactory(clock, bridge, max_connections=2)
    edges = [connect(factory)[0] for _ in range(2)]
    assert factory.buildProtocol(IPv4Address("TCP", "192.0.2.11", 40000)) is None
    edges[0].connectionLost()
    assert factory.buildProtocol(IPv4Address("TCP", "192.0.2.11", 40000)) is not None
    edges[1].connectionLost()


def test_refusals_map_to_q850_causes() -> None:
    assert release_cause(Refusal(404, "Not Found")) == (
        Cause.UNALLOCATED_NUMBER, ReleaseCompleteReason.UNREACHABLE_DESTINATION)
    assert release_cause(Refusal(486, "Busy Here")) == (Cause.USER_BUSY, None)
    assert release_cause(Refusal(480, "No Answer")) == (Cause.NO_USER_RESPONDING, None)
    assert release_cause(Refusal(403, "Forbidden")) == (
        Cause.CALL_REJECTED, ReleaseCompleteReason.DESTINATION_REJECTION)
    assert release_cause(Refusal(503, "Service Unavailable"))[0] == Cause.TEMPORARY_FAILURE
    assert release_cause(Refusal(503, "Congestion"))[0] == Cause.SWITCHING_EQUIPMENT_CONGESTION
    assert release_cause(Refusal(488, "Not Acceptable Here")) == (Cause.NORMAL_UNSPECIFIED, None)
