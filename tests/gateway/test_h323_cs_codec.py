"""The H.225.0 call signalling codec: round trips of every message, the Q.931 octets it writes,
each defect class answered with its Q.850 cause, the hostile corpus, and fuzzing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from acdgate.gateway.h323 import q931
from acdgate.gateway.h323.cs_codec import CallSignalCodec
from acdgate.gateway.h323.cs_messages import (
    Alerting,
    CallProceeding,
    CallSignal,
    CallSignalDecodeError,
    CallState,
    Cause,
    Connect,
    Facility,
    FacilityReason,
    H245Tunnel,
    Information,
    MessageType,
    Notify,
    Presentation,
    Progress,
    ReleaseComplete,
    ReleaseCompleteReason,
    Setup,
    SetupAcknowledge,
    Status,
    StatusEnquiry,
    TransferCapability,
)
from acdgate.gateway.h323.q931 import Ie, Q931Message
from acdgate.gateway.h323.ras_messages import TransportAddress
from acdgate.gateway.h323.tpkt import TpktError, TpktReader
from h323_cs_corpus import CORPUS_DIR, GUID, build, message, setup_ies, uuie
from h323_cs_support import CONF, STRATEGIES, messages
from hypothesis import example, given
from hypothesis import strategies as st

CODEC = CallSignalCodec()

MINIMAL: list[CallSignal] = [
    Setup(1, True, GUID, CONF), SetupAcknowledge(1, False, GUID), CallProceeding(1, False, GUID), Alerting(1, False, GUID),
    Progress(1, False, GUID), Connect(1, False, GUID, CONF),
    ReleaseComplete(1, False, GUID, cause=16), ReleaseComplete(1, False, GUID,
                                                               reason=ReleaseCompleteReason.IN_CONF),
    Facility(1, True, b""), Facility(1, True, GUID, FacilityReason.START_H245),
    Information(1, True, GUID), Notify(1, True, GUID), StatusEnquiry(1, True),
    Status(1, False, 30, CallState.NULL),
]


@pytest.mark.parametrize("m", MINIMAL, ids=lambda m: type(m).__name__)
def test_every_message_with_its_optional_fields_unset_round_trips(m: CallSignal) -> None:
    assert CODEC.decode(CODEC.encode(m)) == m


def _round_trips(strategy: st.SearchStrategy[CallSignal]) -> Callable[[], None]:
    @given(strategy)
    def test(m: CallSignal) -> None:
        assert CODEC.decode(CODEC.encode(m)) == m
    return test


# one property test per message type, every optional field drawn set or unset (pytest-twisted
# does not run parametrized tests that draw with st.data(), hence the loop)
for _kind, _strategy in STRATEGIES.items():
    globals()[f"test_{_kind.__name__}_round_trips"] = _round_trips(_strategy)


def test_a_setup_has_the_q931_octets_h225_wants() -> None:
    setup = Setup(0x1234, True, GUID, CONF, calling_number="2201", called_number="6000",
                  display="Alice", calling_presentation=Presentation.RESTRICTED)
    data = CODEC.encode(setup)
    # discriminator 8, call reference length 2, flag 0 (we allocated it), value, type Setup
    assert data[:5] == bytes([0x08, 0x02, 0x12, 0x34, 0x05])
    parsed = q931.parse(data)
    assert isinstance(parsed, Q931Message)
    assert [ie for ie, _ in parsed.ies] == [0x04, 0x28, 0x6C, 0x70, 0x7E]  # ascending (Q.931 4.5.1)
    # H.225.0 7.2.2.1: unrestricted digital information, 384 kbit/s, H.221 and H.242
    assert data[5:10] == bytes([0x04, 0x03, 0x88, 0x93, 0xA5])
    assert parsed.get(Ie.DISPLAY) == b"Alice"
    # type unknown, plan E.164; octet 3a: presentation restricted, user-provided not screened
    assert parsed.get(Ie.CALLING_PARTY_NUMBER) == b"\x01\xa0" + b"2201"
    assert parsed.get(Ie.CALLED_PARTY_NUMBER) == b"\x81" + b"6000"
    user_user = data[data.index(b"\x7e", 10):]
    assert user_user[3] == 0x05  # the User-user IE's discriminator (H.225.0 7.2.2)
    assert int.from_bytes(user_user[1:3], "big") == len(user_user) - 3


def test_the_answering_side_sets_the_call_reference_flag() -> None:
    assert CODEC.encode(Alerting(0x1234, False, GUID))[2:4] == b"\x92\x34"


def test_cause_and_call_state_octets() -> None:
    data = CODEC.encode(Status(5, False, Cause.RESPONSE_TO_STATUS_ENQUIRY, CallState.ACTIVE))
    parsed = q931.parse(data)
    assert isinstance(parsed, Q931Message)
    assert parsed.get(Ie.CAUSE) == b"\x80\x9e"  # ITU-T, location user; value 30
    assert parsed.get(Ie.CALL_STATE) == b"\x0a"
    release = q931.parse(CODEC.encode(ReleaseComplete(5, False, GUID, cause=16)))
    assert isinstance(release, Q931Message) and release.get(Ie.CAUSE) == b"\x80\x90"


def test_a_long_display_is_cut_to_82_characters_and_non_ia5_becomes_a_question_mark() -> None:
    result = CODEC.decode(CODEC.encode(Alerting(1, False, GUID, display="x" * 300)))
    assert isinstance(result, Alerting) and result.display == "x" * 82
    result = CODEC.decode(CODEC.encode(Alerting(1, False, GUID, display="Zoë")))
    assert isinstance(result, Alerting) and result.display == "Zo?"


def test_what_cannot_be_encoded_is_our_bug() -> None:
    with pytest.raises(ValueError):
        CODEC.encode(ReleaseComplete(1, False, GUID))
    with pytest.raises(ValueError):
        CODEC.encode(Facility(1, True, b"", h245_address=TransportAddress("192.0.2.1", 5000)))
    with pytest.raises(ValueError):
        CODEC.encode(Setup(0x8000, True, GUID, CONF))
    with pytest.raises(ValueError):
        CODEC.encode(Setup(1, True, GUID, CONF, source_endpoint_type="phone"))


# ------------------------------------------------------------------------------ defects


def _error(data: bytes) -> CallSignalDecodeError:
    result = CODEC.decode(data)
    assert isinstance(result, CallSignalDecodeError), result
    return result


def test_a_header_that_does_not_read_is_an_invalid_message_without_a_call_reference() -> None:
    for data in (b"", b"\x08\x02\x00", b"\x09\x02\x00\x07\x05", b"\x08\x03\x00\x00\x07\x05",
                 b"\x08\x01\x07\x05\x00"):
        error = _error(data)
        assert error.cause is Cause.INVALID_MESSAGE
        assert error.call_reference is None


def test_an_ie_past_the_end_is_an_invalid_message_on_its_call() -> None:
    error = _error(message(0x05, setup_ies()) + b"\x70\x09123")
    assert (error.cause, error.call_reference, error.from_originator, error.message_type) == (
        Cause.INVALID_MESSAGE, 7, True, 0x05)
    assert "0x70" in error.defect


def test_message_type_bit_8_is_an_invalid_message() -> None:
    error = _error(b"\x08\x02\x00\x07\x85")
    assert error.cause is Cause.INVALID_MESSAGE and error.call_reference == 7


@pytest.mark.parametrize("kind", [0x45, 0x4D, 0x0F, 0x00, 0x7F])
def test_a_message_type_we_do_not_take_is_97(kind: int) -> None:
    error = _error(message(kind, setup_ies()))
    assert (error.cause, error.call_reference, error.message_type) == (
        Cause.MESSAGE_TYPE_NONEXISTENT, 7, kind)


@pytest.mark.parametrize("kind", [MessageType.SETUP, MessageType.SETUP_ACKNOWLEDGE,
                                  MessageType.CALL_PROCEEDING,
                                  MessageType.ALERTING, MessageType.PROGRESS, MessageType.CONNECT,
                                  MessageType.RELEASE_COMPLETE, MessageType.FACILITY,
                                  MessageType.NOTIFY])
def test_a_message_that_needs_a_uuie_and_has_none_is_96(kind: MessageType) -> None:
    ies = [(Ie.BEARER_CAPABILITY.value, b"\x88\x93\xa5"), (Ie.CAUSE.value, b"\x80\x90")]
    error = _error(message(kind, ies))
    assert (error.cause, error.call_reference) == (Cause.MANDATORY_IE_MISSING, 7)
    assert "User-user" in error.defect


def test_information_and_status_enquiry_may_come_without_a_uuie() -> None:
    assert CODEC.decode(message(MessageType.INFORMATION, [(Ie.KEYPAD_FACILITY, b"12#")])) == (
        Information(7, True, b"", keypad="12#"))
    assert CODEC.decode(message(MessageType.STATUS_ENQUIRY, [])) == StatusEnquiry(7, True)
    assert CODEC.decode(message(MessageType.STATUS, [(Ie.CAUSE, b"\x80\x9e"),
                                                     (Ie.CALL_STATE, b"\x0a")])) == (
        Status(7, True, 30, CallState.ACTIVE))


def test_mandatory_ies() -> None:
    ies = setup_ies()
    without_bearer = _error(message(0x05, [(i, c) for i, c in ies if i != Ie.BEARER_CAPABILITY]))
    assert without_bearer.cause is Cause.MANDATORY_IE_MISSING
    short_bearer = _error(message(0x05, [(i, b"\x88" if i == Ie.BEARER_CAPABILITY else c)
                                         for i, c in ies]))
    assert short_bearer.cause is Cause.INVALID_IE_CONTENTS
    unknown_capability = _error(message(0x05, [(i, b"\x9f\x90" if i == Ie.BEARER_CAPABILITY else c)
                                               for i, c in ies]))
    assert unknown_capability.cause is Cause.INVALID_IE_CONTENTS
    status_uu = [(Ie.USER_USER.value, dict(_ies(CODEC.encode(Status(7, True, 30, CallState.ACTIVE,
                                                                    GUID))))[Ie.USER_USER])]
    assert _error(message(0x7D, [(Ie.CAUSE, b"\x80\x9e"), *status_uu])).cause is (
        Cause.MANDATORY_IE_MISSING)
    assert _error(message(0x7D, [(Ie.CAUSE, b"\x80\x9e"), (Ie.CALL_STATE, b"\x05"),
                                 *status_uu])).cause is Cause.INVALID_IE_CONTENTS
    assert _error(message(0x7D, [(Ie.CAUSE, b"\x80"), (Ie.CALL_STATE, b"\x0a"),
                                 *status_uu])).cause is Cause.INVALID_IE_CONTENTS


def _ies(data: bytes) -> list[tuple[int, bytes]]:
    parsed = q931.parse(data)
    assert isinstance(parsed, Q931Message)
    return list(parsed.ies)


def _with_uu(content: bytes) -> bytes:
    return message(0x05, [(i, content if i == Ie.USER_USER else c) for i, c in setup_ies()])


@pytest.mark.parametrize(("content", "words"), [
    (b"", "empty User-user"),
    (b"\x04\x20\x00", "discriminator 4"),
    (b"\x05", "without user information"),
    (b"\x05\xff\xff\xff", "PER"),
    (uuie({"h323-uu-pdu": {"h323-message-body": ("_ext_20", b"\x00"),
                           "h245Tunnelling": False}}), "alternative 20 is unknown"),
    (uuie({"h323-uu-pdu": {"h323-message-body": ("empty", 0), "h245Tunnelling": False}}),
     "carries a empty UUIE"),
])
def test_a_uuie_that_does_not_read_is_100(content: bytes, words: str) -> None:
    error = _error(_with_uu(content))
    assert (error.cause, error.call_reference) == (Cause.INVALID_IE_CONTENTS, 7)
    assert words in error.defect


def test_unknown_ies_and_other_codesets_are_skipped() -> None:
    ies = setup_ies()
    uu = ies.pop()
    # a Redirecting number (0x74), unknown to us, then a locking shift to codeset 6 whose
    # 0x28 is not our Display, then a non-locking shift to 5 for one IE, back in codeset 6
    tail = (b"\x74\x03\x81\x31\x32" + b"\x96" + b"\x28\x03abc" + b"\x9d\x28\x01x"
            + b"\x28\x01y")
    data = message(0x05, [*ies, uu]) + tail
    result = CODEC.decode(data)
    assert isinstance(result, Setup)
    assert result.display is None
    assert result.called_number == "6000"


def test_an_optional_ie_that_does_not_read_is_ignored() -> None:
    # Q.931 5.8.7.2: a Calling party number with presentation 3 (reserved), a 1-octet Progress
    ies = [(i, b"\x01\xe0" + b"2201" if i == Ie.CALLING_PARTY_NUMBER else c)
           for i, c in setup_ies()]
    result = CODEC.decode(message(0x05, ies))
    assert isinstance(result, Setup) and result.calling_number is None
    progress_uu = dict(_ies(CODEC.encode(Progress(7, True, GUID))))[Ie.USER_USER]
    result = CODEC.decode(message(0x03, [(Ie.PROGRESS_INDICATOR, b"\x80"),
                                         (Ie.USER_USER, progress_uu)]))
    assert result == Progress(7, True, GUID)


def test_a_repeated_ie_reads_its_first() -> None:
    ies = setup_ies()
    ies.insert(1, (Ie.DISPLAY, b"first"))
    ies.insert(2, (Ie.DISPLAY, b"second"))
    result = CODEC.decode(message(0x05, ies))
    assert isinstance(result, Setup) and result.display == "first"


def test_what_an_opal_setup_carries_reads() -> None:
    """Ekiga 2.0.2 (OPAL 2.2.2) writes the Display with a trailing NUL and its capability set in
    the Setup's parallelH245Control (seen in its Setup, dpkt's h225 test data; not kept here)."""
    uu = uuie({"h323-uu-pdu": {"h323-message-body": ("setup", {
        "protocolIdentifier": (0, 0, 8, 2250, 0, 4),
        "sourceInfo": {"terminal": {}, "mc": False, "undefinedNode": False,
                       "vendor": {"vendor": {"t35CountryCode": 9, "t35Extension": 0,
                                             "manufacturerCode": 61},
                                  "productId": b"ekiga\x00\x00",
                                  "versionId": b"2.0.2 (OPAL v2.2.2)\x00\x00"}},
        "activeMC": False, "conferenceID": CONF, "conferenceGoal": ("create", 0),
        "callType": ("pointToPoint", 0), "callIdentifier": {"guid": GUID},
        "mediaWaitForConnect": False, "canOverlapSend": False, "multipleCalls": False,
        "maintainConnection": False, "parallelH245Control": [b"\x4a\x40"]}),
        "h245Tunnelling": True}})
    result = CODEC.decode(message(0x05, [(Ie.BEARER_CAPABILITY, b"\x88\x93\xa5"),
                                         (Ie.DISPLAY, b"Jon Oberheide\x00"), (Ie.USER_USER, uu)]))
    assert isinstance(result, Setup)
    assert result.display == "Jon Oberheide"
    assert result.vendor == "ekiga 2.0.2 (OPAL v2.2.2)"
    assert result.h245 == H245Tunnel(True, (b"\x4a\x40",))


def test_a_calling_number_without_octet_3a_is_allowed_and_not_screened() -> None:
    ies = [(i, b"\x81" + b"2201" if i == Ie.CALLING_PARTY_NUMBER else c) for i, c in setup_ies()]
    result = CODEC.decode(message(0x05, ies))
    assert isinstance(result, Setup)
    assert (result.calling_number, result.calling_presentation) == ("2201", Presentation.ALLOWED)


def test_a_speech_bearer_reads() -> None:
    ies = [(i, b"\x80\x90\xa3" if i == Ie.BEARER_CAPABILITY else c) for i, c in setup_ies()]
    result = CODEC.decode(message(0x05, ies))
    assert isinstance(result, Setup) and result.bearer_capability is TransferCapability.SPEECH


def test_a_release_reason_of_a_later_version_reads_as_undefined() -> None:
    uu = uuie({"h323-uu-pdu": {"h323-message-body": ("releaseComplete", {
        "protocolIdentifier": (0, 0, 8, 2250, 0, 7), "reason": ("newConnectionNeeded", 0),
        "callIdentifier": {"guid": GUID}}), "h245Tunnelling": False}})
    result = CODEC.decode(message(0x5A, [(Ie.USER_USER, uu)]))
    assert result == ReleaseComplete(7, True, GUID, reason=ReleaseCompleteReason.UNDEFINED_REASON)


def test_an_empty_facility_carries_the_tunnelled_h245() -> None:
    m = Facility(9, False, b"", h245=H245Tunnel(True, (b"\x4a\x40",)))
    assert CODEC.decode(CODEC.encode(m)) == m
    # the callIdentifier is not in an empty body (H.225.0 7.4.2): it is not sent
    assert CODEC.decode(CODEC.encode(Facility(9, False, GUID))) == Facility(9, False, b"")


# ------------------------------------------------------------------------------ corpus and fuzz

# what each corpus file must give: a TPKT defect, or the cause of a decode error
CORPUS_EXPECTED: dict[str, str | Cause] = {
    "tpkt_truncated.bin": "stream ended inside a TPKT",
    "tpkt_oversized_length.bin": "length above the maximum",
    "tpkt_length_below_5.bin": "length below 5",
    "tpkt_bad_version.bin": "bad version",
    "q931_bad_discriminator.bin": Cause.INVALID_MESSAGE,
    "q931_call_reference_3_octets.bin": Cause.INVALID_MESSAGE,
    "q931_shorter_than_header.bin": Cause.INVALID_MESSAGE,
    "q931_ie_past_end.bin": Cause.INVALID_MESSAGE,
    "q931_user_user_past_end.bin": Cause.INVALID_MESSAGE,
    "q931_message_type_disconnect.bin": Cause.MESSAGE_TYPE_NONEXISTENT,
    "setup_without_user_user.bin": Cause.MANDATORY_IE_MISSING,
    "setup_without_bearer_capability.bin": Cause.MANDATORY_IE_MISSING,
    "setup_bearer_capability_1_octet.bin": Cause.INVALID_IE_CONTENTS,
    "user_user_discriminator_4.bin": Cause.INVALID_IE_CONTENTS,
    "per_truncated.bin": Cause.INVALID_IE_CONTENTS,
    "per_octet_string_length_past_end.bin": Cause.INVALID_IE_CONTENTS,
    "per_sequence_of_count_64k.bin": Cause.INVALID_IE_CONTENTS,
    "per_unknown_message_body_extension.bin": Cause.INVALID_IE_CONTENTS,
    "per_status_body_in_setup.bin": Cause.INVALID_IE_CONTENTS,
    "status_without_cause.bin": Cause.MANDATORY_IE_MISSING,
}


def _read_stream(data: bytes) -> list[CallSignal | CallSignalDecodeError | TpktError]:
    """What the bridge gets from one connection that sent `data` and closed."""
    reader = TpktReader()
    out: list[CallSignal | CallSignalDecodeError | TpktError] = [
        item if isinstance(item, TpktError) else CODEC.decode(item) for item in reader.feed(data)]
    end = reader.eof()
    return out + ([end] if end is not None else [])


def test_the_corpus_is_what_its_recipe_makes() -> None:
    on_disk = {p.name: p.read_bytes() for p in CORPUS_DIR.iterdir()}
    assert on_disk == build()
    assert set(on_disk) == set(CORPUS_EXPECTED)


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_hostile_corpus(name: str) -> None:
    (result,) = _read_stream((CORPUS_DIR / name).read_bytes())
    expected = CORPUS_EXPECTED[name]
    if isinstance(expected, Cause):
        assert isinstance(result, CallSignalDecodeError), result
        assert result.cause is expected
    else:
        assert isinstance(result, TpktError) and result.defect == expected


def _decodes_in_bounded_time(data: bytes) -> CallSignal | CallSignalDecodeError:
    start = time.perf_counter()
    result = CODEC.decode(data)
    # generous for a loaded 2-core machine: a decode takes well under 10 ms
    assert time.perf_counter() - start < 2.0
    assert isinstance(result, CallSignalDecodeError | CallSignal)
    return result


@given(st.binary(max_size=400))
@example(b"\x08\x02\x00\x01\x05\x7e\x00\x01\x05")
@example(b"\x08\x02\x01\xe4\x7b\x70\x02\x05\x24")  # octets 3 and 3a with bit 8 clear (fuzzing)
@example(b"\x08\x02\x00\x01\x05\x7e\x00\x02\x05\x00")
def test_random_bytes_never_raise(data: bytes) -> None:
    _decodes_in_bounded_time(data)


@given(st.binary(max_size=400))
def test_random_bytes_after_a_valid_header_never_raise(data: bytes) -> None:
    _decodes_in_bounded_time(b"\x08\x02\x00\x01\x05" + data)


@given(messages, st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1,
                          max_size=6), st.integers(0, 2000))
def test_mutated_messages_never_raise(m: CallSignal, flips: list[tuple[int, int]],
                                      cut: int) -> None:
    data = bytearray(CODEC.encode(m))
    for at, value in flips:
        data[at % len(data)] = value
    _decodes_in_bounded_time(bytes(data))
    _decodes_in_bounded_time(bytes(data[: cut % (len(data) + 1)]))


@given(messages, st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_mutated_user_user_never_raises(m: CallSignal, at: int, junk: bytes) -> None:
    """Mutations inside the PER only (the Q.931 framing kept), where pycrate does the reading."""
    parsed = q931.parse(CODEC.encode(m))
    assert isinstance(parsed, Q931Message)
    uu = dict(parsed.ies)[Ie.USER_USER]
    spot = 1 + at % max(1, len(uu) - 1)
    mutated = uu[:spot] + junk + uu[spot + len(junk):]
    _decodes_in_bounded_time(message(parsed.message_type, [
        (i, mutated if i == Ie.USER_USER else c) for i, c in parsed.ies]))
