"""The H.245 codec: every message kind round-trips (hypothesis), the fastStart element alone,
and hostile input (the corpus in data/h245_corpus/, random and mutated octets) decodes to a
value or an H245DecodeError, never an exception, and the session engine answers it."""

from __future__ import annotations

from pathlib import Path

import pytest
from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_messages import (
    AudioCapability,
    AudioCodec,
    Capability,
    CapabilityDirection,
    ChannelCloseSource,
    ChannelParameters,
    CloseLogicalChannel,
    CloseLogicalChannelAck,
    EndSessionCommand,
    FunctionNotSupported,
    FunctionNotSupportedCause,
    H245DecodeError,
    H245Message,
    MasterSlaveDetermination,
    MasterSlaveDeterminationAck,
    MasterSlaveDeterminationReject,
    MasterSlaveDeterminationRelease,
    MsdDecision,
    OlcRejectCause,
    OpenLogicalChannel,
    OpenLogicalChannelAck,
    OpenLogicalChannelReject,
    OtherH245Message,
    RequestChannelClose,
    RequestChannelCloseAck,
    RequestChannelCloseReject,
    RoundTripDelayRequest,
    RoundTripDelayResponse,
    TcsRejectCause,
    TelephonyEventCapability,
    TerminalCapabilitySet,
    TerminalCapabilitySetAck,
    TerminalCapabilitySetReject,
    TerminalCapabilitySetRelease,
    UserInputAlphanumeric,
    UserInputCapability,
    UserInputKind,
    UserInputSignal,
)
from acdgate.gateway.h323.ras_messages import TransportAddress
from h245_support import session
from hypothesis import example, given
from hypothesis import strategies as st

CODEC = H245Codec()
CORPUS = Path(__file__).parent / "data" / "h245_corpus"

addresses = st.builds(TransportAddress, st.ip_addresses(v=4).map(str),
                      st.integers(0, 65535))
lcn = st.integers(1, 65535)
seq = st.integers(0, 255)


@st.composite
def capability_sets(draw: st.DrawFn) -> TerminalCapabilitySet:
    kinds = draw(st.lists(st.sampled_from(["audio", "ui", "rfc2833"]), max_size=6))
    caps: list[Capability] = []
    for n, kind in enumerate(kinds, start=1):
        if kind == "audio":
            caps.append(AudioCapability(n, draw(st.sampled_from(AudioCodec)),
                                        draw(st.integers(1, 256)),
                                        draw(st.sampled_from(CapabilityDirection))))
        elif kind == "ui":
            caps.append(UserInputCapability(n, draw(st.sampled_from(UserInputKind))))
        else:
            caps.append(TelephonyEventCapability(n, draw(st.integers(96, 127)),
                                                 draw(st.sampled_from(["0-16", "0-15", "0-11"]))))
    entries = [c.entry for c in caps]
    descriptors: tuple[tuple[tuple[int, ...], ...], ...] = ()
    if entries:
        alternatives = st.lists(st.sampled_from(entries), min_size=1, max_size=3).map(tuple)
        descriptors = tuple(draw(st.lists(st.lists(alternatives, min_size=1, max_size=3)
                                          .map(tuple), max_size=2)))
    return TerminalCapabilitySet(draw(seq), tuple(caps), descriptors)


parameters = st.builds(ChannelParameters, st.sampled_from(AudioCodec), st.integers(1, 256),
                       st.integers(0, 255), st.none() | addresses, st.none() | addresses,
                       st.none() | st.integers(96, 127))
olcs = st.builds(OpenLogicalChannel, lcn, st.none() | parameters, st.none() | parameters).filter(
    lambda o: o.forward is not None or o.reverse is not None)
signals = st.sampled_from(list("0123456789#*ABCD!"))

messages: st.SearchStrategy[H245Message] = st.one_of(
    capability_sets(),
    st.builds(TerminalCapabilitySetAck, seq),
    st.builds(TerminalCapabilitySetReject, seq, st.sampled_from(TcsRejectCause)),
    st.just(TerminalCapabilitySetRelease()),
    st.builds(MasterSlaveDetermination, st.integers(0, 255), st.integers(0, 2**24 - 1)),
    st.builds(MasterSlaveDeterminationAck, st.sampled_from(MsdDecision)),
    st.just(MasterSlaveDeterminationReject()),
    st.just(MasterSlaveDeterminationRelease()),
    olcs,
    st.builds(OpenLogicalChannelAck, lcn, st.none() | addresses, st.none() | addresses,
              st.none() | st.integers(1, 255)),
    st.builds(OpenLogicalChannelReject, lcn, st.sampled_from(OlcRejectCause)),
    st.builds(CloseLogicalChannel, lcn, st.sampled_from(ChannelCloseSource)),
    st.builds(CloseLogicalChannelAck, lcn),
    st.builds(RequestChannelClose, lcn),
    st.builds(RequestChannelCloseAck, lcn),
    st.builds(RequestChannelCloseReject, lcn),
    st.builds(RoundTripDelayRequest, seq),
    st.builds(RoundTripDelayResponse, seq),
    st.just(EndSessionCommand()),
    st.builds(UserInputAlphanumeric, st.text("0123456789*#ABCD", max_size=20)),
    st.builds(UserInputSignal, signals, st.none() | st.integers(1, 65535)),
    st.builds(FunctionNotSupported, st.sampled_from(FunctionNotSupportedCause),
              st.none() | st.binary(max_size=20)),
)


@given(messages)
def test_every_message_round_trips(message: H245Message) -> None:
    data = CODEC.encode(message)
    assert CODEC.decode(data) == message
    assert CODEC.encode(message) == data  # deterministic


@given(olcs)
def test_fast_start_element_round_trips(olc: OpenLogicalChannel) -> None:
    data = CODEC.encode_fast_start(olc)
    assert CODEC.decode_fast_start(data) == olc
    # the element is the OLC alone: the PDU is the same bits behind request.openLogicalChannel
    assert CODEC.encode(olc) == b"\x03" + data


def test_fast_start_element_is_the_olc_without_the_pdu_choice() -> None:
    olc = OpenLogicalChannel(1, ChannelParameters(AudioCodec.G711_ULAW, 20, 1, None,
                                                  TransportAddress("192.0.2.1", 40001)))
    # request(0) openLogicalChannel(3): 0 00 0 0011 = 0x03, then the OLC aligned
    assert CODEC.encode(olc) == b"\x03" + CODEC.encode_fast_start(olc)


def test_known_encodings() -> None:
    """A few PDUs hand-checked against X.691 and H.245's ASN.1 (and tshark, test_h245_wire)."""
    assert CODEC.encode(TerminalCapabilitySetAck(1)).hex() == "218001"
    assert CODEC.encode(MasterSlaveDetermination(60, 12345)).hex() == "01003c403039"
    assert CODEC.encode(MasterSlaveDeterminationAck(MsdDecision.MASTER)).hex() == "2080"
    assert CODEC.encode(EndSessionCommand()).hex() == "4a40"
    assert CODEC.encode(UserInputAlphanumeric("12#")).hex() == "6d4003313223"
    assert CODEC.encode(RoundTripDelayRequest(7)).hex() == "090007"


def test_other_messages_are_named_with_their_octets() -> None:
    # a request we do not model (maintenanceLoopRequest systemLoop), built with pycrate
    from pycrate_asn1dir import H245
    pdu = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
    pdu.set_val(("request", ("maintenanceLoopRequest", {"type": ("systemLoop", 0)})))
    data = pdu.to_aper()
    assert CODEC.decode(data) == OtherH245Message("request", "maintenanceLoopRequest", data)


def test_unsupported_channels_decode_to_be_refused() -> None:
    from pycrate_asn1dir import H245
    olc = H245.MULTIMEDIA_SYSTEM_CONTROL.OpenLogicalChannel
    olc.set_val({"forwardLogicalChannelNumber": 5, "forwardLogicalChannelParameters": {
        "dataType": ("audioData", ("g729", 2)),
        "multiplexParameters": ("h2250LogicalChannelParameters", {"sessionID": 1})}})
    assert CODEC.decode_fast_start(olc.to_aper()) == OpenLogicalChannel(
        5, None, None, unsupported="audioData.g729")
    olc.set_val({"forwardLogicalChannelNumber": 6, "forwardLogicalChannelParameters": {
        "dataType": ("videoData", ("h261VideoCapability", {
            "qcifMPI": 1, "temporalSpatialTradeOffCapability": False, "maxBitRate": 600,
            "stillImageTransmission": False})),
        "multiplexParameters": ("h2250LogicalChannelParameters", {"sessionID": 2})}})
    assert CODEC.decode_fast_start(olc.to_aper()) == OpenLogicalChannel(
        6, None, None, unsupported="videoData")


def test_encoding_what_only_names_a_message_is_our_bug() -> None:
    with pytest.raises(ValueError):
        CODEC.encode(OtherH245Message("request", "requestMode"))
    with pytest.raises(ValueError):
        CODEC.encode_fast_start(OpenLogicalChannel(1, None, None, unsupported="videoData"))


# ----------------------------------------------------------------------------- hostile input


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.bin"))


def test_corpus_is_there() -> None:
    assert len(corpus()) >= 10


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_corpus_decodes_without_raising_and_is_answered(path: Path) -> None:
    data = path.read_bytes()
    result = CODEC.decode(data)
    expected = path.stem.split("-")[0]  # "bad-..." must not decode; "ok-..." must
    if expected == "bad":
        assert isinstance(result, H245DecodeError), result
        assert result.data == data
    else:
        assert not isinstance(result, H245DecodeError), result
    assert isinstance(CODEC.decode_fast_start(data), (H245DecodeError, OpenLogicalChannel))
    session().receive(result, 0.0)


@given(st.binary(max_size=300))
@example(b"\x00")
@example(b"\x02\x70\x01\x06\x00\x08\x81\x75\x00\x0d\x80\xff\xff\xff")
@example(b"\x03\x00\xff\xff")
def test_random_octets_never_raise(data: bytes) -> None:
    result = CODEC.decode(data)
    assert isinstance(result, (H245DecodeError, *_MESSAGE_TYPES))
    CODEC.decode_fast_start(data)
    session().receive(result, 0.0)


@given(messages, st.data())
def test_mutated_pdus_never_raise(message: H245Message, data: st.DataObject) -> None:
    octets = bytearray(CODEC.encode(message))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(octets) - 1))
        octets[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(octets)))
    for candidate in (bytes(octets), bytes(octets[:cut]), bytes(octets) + b"\xff" * 3):
        result = CODEC.decode(candidate)
        session().receive(result, 0.0)
        CODEC.decode_fast_start(candidate[1:])


_MESSAGE_TYPES = (
    TerminalCapabilitySet, TerminalCapabilitySetAck, TerminalCapabilitySetReject,
    TerminalCapabilitySetRelease, MasterSlaveDetermination, MasterSlaveDeterminationAck,
    MasterSlaveDeterminationReject, MasterSlaveDeterminationRelease, OpenLogicalChannel,
    OpenLogicalChannelAck, OpenLogicalChannelReject, CloseLogicalChannel, CloseLogicalChannelAck,
    RequestChannelClose, RequestChannelCloseAck, RequestChannelCloseReject, RoundTripDelayRequest, RoundTripDelayResponse,
    EndSessionCommand, UserInputAlphanumeric, UserInputSignal, FunctionNotSupported,
    OtherH245Message)
