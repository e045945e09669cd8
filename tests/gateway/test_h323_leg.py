"""`H323Leg` on the real call signalling edge with an in-memory TCP transport and in-memory RTP
ports on a fake clock: fastStart answered in the Connect and RTP sent where the caller asked,
one Alerting however often the call layer says ringing, digits from userInputIndication and
the Keypad IE, refusals and hang-ups as Release Complete causes, the caller's Release Complete
ending the leg."""

from __future__ import annotations

import pytest
from acdgate.codecs.tones import CONFIRMATION_TONE
from acdgate.gateway.h323.call_signalling_actions import CallOffered
from acdgate.gateway.h323.cs_codec import CallSignalCodec
from acdgate.gateway.h323.cs_messages import (
    Alerting,
    CallProceeding,
    CallSignal,
    CallSignalDecodeError,
    Cause,
    Connect,
    Facility,
    H245Tunnel,
    Information,
    ReleaseComplete,
    Setup,
)
from acdgate.gateway.h323.cs_protocol import CallSignallingFactory, CallSignallingProtocol
from acdgate.gateway.h323.fast_start import (
    FastStartAccepted,
    offer_fast_start,
    read_fast_start_answer,
)
from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_messages import UserInputAlphanumeric
from acdgate.gateway.h323.ras_messages import TransportAddress
from acdgate.gateway.h323.tpkt import TpktReader, frame
from acdgate.gateway.legs.h323_leg import H323Leg
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.media.ports import RtpPortPool
from memory_udp import FakeUdpReactor
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

CODEC = CallSignalCodec()
H245 = H245Codec()
CALLER_RTP = TransportAddress("192.0.2.10", 5004)
REF, GUID = 9, bytes(range(16))


class Bridge:
    """The call layer's part: each offered call becomes an H323Leg, attached to the edge."""

    def __init__(self, reactor: FakeUdpReactor) -> None:
        self.reactor = reactor
        self.legs: list[H323Leg] = []
        self.digits: list[tuple[str, str]] = []
        self.ended: list[EndReason] = []

    def call_offered(self, edge: CallSignallingProtocol, offered: CallOffered) -> None:
        leg = H323Leg(self.reactor, edge, offered, station="2201", dialled="6000",
                      ports=RtpPortPool(20000, 20010), bind_ip="127.0.0.1", codec=H245)
        leg.on_digit = lambda digit, method: self.digits.append((digit, method))
        leg.on_ended = self.ended.append
        edge.attach(offered.call, leg)
        self.legs.append(leg)


@pytest.fixture
def wired() -> tuple[FakeUdpReactor, Bridge, CallSignallingProtocol, StringTransport]:
    reactor = FakeUdpReactor()
    bridge = Bridge(reactor)
    edge = CallSignallingFactory(reactor, bridge).buildProtocol(IPv4Address("TCP", "192.0.2.10", 40000))
    assert edge is not None
    transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 1720),
                                peerAddress=IPv4Address("TCP", "192.0.2.10", 40000))
    edge.makeConnection(transport)
    proposals = offer_fast_start(H245, CALLER_RTP, TransportAddress("192.0.2.10", 5005))
    edge.dataReceived(frame(CODEC.encode(Setup(REF, True, GUID, bytes(16), called_number="6000",
                                               fast_start=proposals, h245=H245Tunnel(True, ())))))
    return reactor, bridge, edge, transport


def sent(transport: StringTransport) -> list[CallSignal]:
    out: list[CallSignal] = []
    for payload in TpktReader().feed(transport.value()):
        assert isinstance(payload, bytes)
        message = CODEC.decode(payload)
        assert not isinstance(message, CallSignalDecodeError), message
        out.append(message)
    transport.clear()
    return out


def test_fast_start_answer_rides_on_connect_and_rtp_goes_to_the_caller(
        wired: tuple[FakeUdpReactor, Bridge, CallSignallingProtocol, StringTransport]) -> None:
    reactor, bridge, _, transport = wired
    (leg,) = bridge.legs
    assert leg.has_media and leg.call_id == GUID.hex()
    leg.proceed()
    leg.ringing()
    leg.ringing()  # a second target ringing: no second Alerting (Q.931 has no entry for it)
    assert [type(m) for m in sent(transport)] == [CallProceeding, Alerting]
    done: list[None] = []
    leg.answer().addCallback(done.append)
    assert done == [None]  # fastStart: media at once
    (connect,) = sent(transport)
    assert isinstance(connect, Connect)
    answer = read_fast_start_answer(H245, connect.fast_start)
    assert isinstance(answer, FastStartAccepted) and answer.remote_rtp.port == leg.media.local_port
    leg.play_tone(CONFIRMATION_TONE, 100)
    reactor.advance(0.2)
    (port,) = reactor.ports.values()
    assert port.sent and {addr for _, _, addr in port.sent} == {(CALLER_RTP.host, CALLER_RTP.port)}
    leg.hangup()
    (release,) = sent(transport)
    assert isinstance(release, ReleaseComplete) and release.cause == Cause.NORMAL_CALL_CLEARING
    assert bridge.ended == [EndReason.LOCAL_HANGUP]
    assert transport.disconnecting  # the last call on the connection ended


def test_digits_from_user_input_indication_and_the_keypad(
        wired: tuple[FakeUdpReactor, Bridge, CallSignallingProtocol, StringTransport]) -> None:
    _, bridge, edge, transport = wired
    (leg,) = bridge.legs
    leg.answer()
    uii = H245.encode(UserInputAlphanumeric("5"))
    edge.dataReceived(frame(CODEC.encode(Facility(REF, True, GUID, h245=H245Tunnel(True, (uii,))))))
    edge.dataReceived(frame(CODEC.encode(Information(REF, True, GUID, keypad="7#"))))
    assert bridge.digits == [("5", "h245-uii"), ("7", "keypad"), ("#", "keypad")]
    edge.dataReceived(frame(CODEC.encode(ReleaseComplete(REF, True, GUID, cause=16))))
    assert bridge.ended == [EndReason.REMOTE_HANGUP] and leg.ended
    leg.hangup()  # after the end: nothing more is sent
    assert not [m for m in sent(transport) if isinstance(m, ReleaseComplete)]


@pytest.mark.parametrize(("status", "cause"), [(404, 1), (486, 17), (480, 18), (403, 21),
                                               (503, 41), (488, 31)])
def test_a_refusal_is_a_release_complete_with_its_cause(
        wired: tuple[FakeUdpReactor, Bridge, CallSignallingProtocol, StringTransport],
        status: int, cause: int) -> None:
    _, bridge, _, transport = wired
    (leg,) = bridge.legs
    leg.refuse(Refusal(status, "no"))
    (release,) = sent(transport)
    assert isinstance(release, ReleaseComplete) and release.cause == cause
    assert bridge.ended == [EndReason.LOCAL_HANGUP]
