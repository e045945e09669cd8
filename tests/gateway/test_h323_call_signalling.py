"""The H.225.0/Q.931 call-state engine with a fake clock (plain floats): both directions, every
state with every input, every timer, the peer's errors, tunnelled H.245, and a hypothesis state
machine over random peer messages and bridge commands."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest
from acdgate.gateway.h323.call_signalling import (
    CallSignallingConnection,
    CallSignallingError,
    CallSignallingSettings,
)
from acdgate.gateway.h323.call_signalling_actions import (
    Call,
    CallAnswered,
    CallOffered,
    CallProgressed,
    CallReleased,
    CallSignallingAction,
    CallTimer,
    CloseConnection,
    DigitSource,
    DigitsReceived,
    H245AddressOffered,
    H245Received,
    LogDefect,
    ProgressKind,
    SendSignal,
)
from acdgate.gateway.h323.call_signalling_table import (
    INCOMING_STATES,
    LOCAL,
    OUTGOING_STATES,
    PEER,
    STATE_TIMER,
    Command,
    message_type,
)
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
    Progress,
    ReleaseComplete,
    ReleaseCompleteReason,
    Setup,
    SetupAcknowledge,
    Status,
    StatusEnquiry,
)
from acdgate.gateway.h323.ras_messages import TransportAddress
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

CID = bytes(range(16))
CONF = bytes(range(16, 32))
REF = 5
T0 = 1000.0
TUNNEL = H245Tunnel(tunnelling=True)
PEER_H245 = TransportAddress("192.0.2.10", 30000)
S = CallState


def counting_random() -> Callable[[int], bytes]:
    """A deterministic random source: 0x01 0x02 ... (the first call reference is 0x0102 + 1)."""
    counter = itertools.count(1)
    return lambda n: bytes(next(counter) % 256 for _ in range(n))


def engine(**settings: object) -> CallSignallingConnection:
    return CallSignallingConnection(CallSignallingSettings(**settings),  # type: ignore[arg-type]
                                    random_bytes=counting_random())


def sent(actions: list[CallSignallingAction]) -> list[CallSignal]:
    return [a.message for a in actions if isinstance(a, SendSignal)]


def of(kind: type[object], actions: list[CallSignallingAction]) -> list[object]:
    return [a for a in actions if isinstance(a, kind)]


def setup_in(ref: int = REF, **fields: object) -> Setup:
    return replace(Setup(ref, True, CID, CONF, called_number="3000", h245=TUNNEL), **fields)


def peer_message(kind: MessageType, call: Call, **fields: object) -> CallSignal:
    """A message of `kind` the peer sends on `call` (its flag as the peer must set it)."""
    ref, flag = call.reference, not call.outgoing
    made: dict[MessageType, CallSignal] = {
        MessageType.SETUP: Setup(ref, flag, CID, CONF),
        MessageType.SETUP_ACKNOWLEDGE: SetupAcknowledge(ref, flag, CID, TUNNEL),
        MessageType.CALL_PROCEEDING: CallProceeding(ref, flag, CID, h245=TUNNEL),
        MessageType.ALERTING: Alerting(ref, flag, CID, h245=TUNNEL),
        MessageType.PROGRESS: Progress(ref, flag, CID, h245=TUNNEL),
        MessageType.CONNECT: Connect(ref, flag, CID, CONF, h245=TUNNEL),
        MessageType.RELEASE_COMPLETE: ReleaseComplete(ref, flag, CID, cause=Cause.NORMAL_CALL_CLEARING),
        MessageType.FACILITY: Facility(ref, flag, CID, h245=TUNNEL),
        MessageType.INFORMATION: Information(ref, flag, CID, keypad="1", h245=TUNNEL),
        MessageType.NOTIFY: Notify(ref, flag, CID, h245=TUNNEL),
        MessageType.STATUS_ENQUIRY: StatusEnquiry(ref, flag, CID, TUNNEL),
        MessageType.STATUS: Status(ref, flag, Cause.RESPONSE_TO_STATUS_ENQUIRY, S.ACTIVE, CID),
    }
    return replace(made[kind], **fields)  # type: ignore[type-var]


def offered(conn: CallSignallingConnection, ref: int = REF, **fields: object) -> Call:
    actions = conn.receive(setup_in(ref, **fields), T0)
    (event,) = of(CallOffered, actions)
    assert isinstance(event, CallOffered)
    return event.call


def placed(conn: CallSignallingConnection) -> Call:
    call, _ = conn.setup(T0, called_number="2201")
    return call


def in_state(state: CallState, outgoing: bool, **settings: object) -> tuple[CallSignallingConnection, Call]:
    """A connection with one call driven into `state`."""
    conn = engine(**settings)
    if outgoing:
        call = placed(conn)
        steps = {S.CALL_INITIATED: [], S.OUTGOING_CALL_PROCEEDING: [MessageType.CALL_PROCEEDING],
                 S.CALL_DELIVERED: [MessageType.ALERTING], S.ACTIVE: [MessageType.CONNECT]}[state]
        for kind in steps:
            conn.receive(peer_message(kind, call), T0)
    else:
        call = offered(conn, can_overlap_send=True)
        command: Callable[[Call, float], list[CallSignallingAction]] | None = {
            S.CALL_PRESENT: None, S.OVERLAP_RECEIVING: conn.acknowledge_setup,
            S.INCOMING_CALL_PROCEEDING: conn.proceed, S.CALL_RECEIVED: conn.alert,
            S.ACTIVE: conn.connect}[state]
        if command is not None:
            command(call, T0)
    assert conn.state(call) is state
    return conn, call


ALL_STATES = [(s, True) for s in OUTGOING_STATES] + [(s, False) for s in INCOMING_STATES]
STATE_IDS = [f"{'out' if o else 'in'}-{s.name}" for s, o in ALL_STATES]


# -- happy paths ------------------------------------------------------------------------------


def test_an_offered_call_proceeds_rings_is_answered_and_released_by_the_peer() -> None:
    conn = engine()
    actions = conn.receive(setup_in(), T0)
    call = Call(REF, outgoing=False)
    assert actions == [CallOffered(call, setup_in())]
    assert conn.state(call) is S.CALL_PRESENT
    assert conn.timer(call) == (CallTimer.SETUP_ANSWER, T0 + 3.0)

    (proceeding,) = sent(conn.proceed(call, T0 + 0.1))
    assert proceeding == CallProceeding(REF, False, CID, multiple_calls=True, h245=TUNNEL)
    assert conn.state(call) is S.INCOMING_CALL_PROCEEDING and conn.timer(call) is None

    (alerting,) = sent(conn.alert(call, T0 + 0.2, display="Agent 3000"))
    assert alerting == Alerting(REF, False, CID, display="Agent 3000", multiple_calls=True, h245=TUNNEL)
    assert conn.state(call) is S.CALL_RECEIVED

    (connect,) = sent(conn.connect(call, T0 + 5, fast_start=(b"olc",), h245_address=PEER_H245))
    assert connect == Connect(REF, False, CID, CONF, h245_address=PEER_H245, fast_start=(b"olc",),
                              multiple_calls=True, h245=TUNNEL)
    assert conn.state(call) is S.ACTIVE

    actions = conn.receive(peer_message(MessageType.RELEASE_COMPLETE, call), T0 + 60)
    assert actions == [CallReleased(call, Cause.NORMAL_CALL_CLEARING, None, True,
                                    "Release Complete from the peer"),
                       CloseConnection("the last call on the connection ended")]
    assert conn.state(call) is S.NULL and conn.calls() == [] and conn.closed


def test_a_placed_call_proceeds_rings_is_answered_and_released_by_us() -> None:
    conn = engine()
    call, actions = conn.setup(T0, called_number="2201", calling_number="3000", display="ACD",
                               fast_start=(b"olc-a", b"olc-u"))
    assert call == Call(0x0102 % 0x7FFF + 1, outgoing=True)
    (setup,) = sent(actions)
    assert isinstance(setup, Setup)
    assert (setup.call_reference, setup.from_originator) == (call.reference, True)
    assert setup.call_identifier == bytes(range(3, 19)) and setup.conference_id == bytes(range(19, 35))
    assert (setup.called_number, setup.calling_number, setup.display) == ("2201", "3000", "ACD")
    assert setup.fast_start == (b"olc-a", b"olc-u") and setup.h245 == TUNNEL
    assert conn.timer(call) == (CallTimer.T303, T0 + 4.0)

    answer = CallProceeding(call.reference, False, setup.call_identifier, h245=TUNNEL)
    assert conn.receive(answer, T0 + 0.5) == [CallProgressed(call, ProgressKind.PROCEEDING, answer)]
    assert conn.state(call) is S.OUTGOING_CALL_PROCEEDING
    assert conn.timer(call) == (CallTimer.T310, T0 + 30.5)

    ringing = Alerting(call.reference, False, setup.call_identifier, fast_start=(b"olc-a",),
                       h245=TUNNEL)
    assert conn.receive(ringing, T0 + 1) == [
        CallProgressed(call, ProgressKind.ALERTING, ringing, fast_start=(b"olc-a",))]
    assert conn.state(call) is S.CALL_DELIVERED and conn.timer(call) == (CallTimer.T301, T0 + 181)

    connect = Connect(call.reference, False, setup.call_identifier, setup.conference_id,
                      h245=TUNNEL)
    assert conn.receive(connect, T0 + 4) == [CallAnswered(call, connect)]
    assert conn.state(call) is S.ACTIVE and conn.next_timer() is None

    actions = conn.release(call, T0 + 30)
    assert sent(actions) == [ReleaseComplete(call.reference, True, setup.call_identifier,
                                             cause=Cause.NORMAL_CALL_CLEARING, h245=TUNNEL)]
    assert actions[1:] == [CallReleased(call, Cause.NORMAL_CALL_CLEARING, None, False,
                                        "released by the bridge"),
                           CloseConnection("the last call on the connection ended")]
    assert conn.release(call, T0 + 31) == []  # already over: nothing to do


def test_call_references_of_placed_calls_are_unique_and_wrap() -> None:
    conn = CallSignallingConnection(random_bytes=lambda n: b"\xff" * n)
    first = placed(conn)
    second = placed(conn)
    assert (first.reference, second.reference) == (0xFFFF % 0x7FFF + 1, 0xFFFF % 0x7FFF + 2)
    conn = CallSignallingConnection(random_bytes=lambda n: b"\x7f\xfe" if n == 2 else bytes(n))
    assert [placed(conn).reference for _ in range(3)] == [0x7FFF, 1, 2]


# -- overlap dialling -------------------------------------------------------------------------


def test_overlap_digits_by_keypad_and_called_number_restart_t302() -> None:
    conn = engine()
    call = offered(conn, can_overlap_send=True, called_number="#")
    (ack,) = sent(conn.acknowledge_setup(call, T0 + 0.1))
    assert ack == SetupAcknowledge(REF, False, CID, TUNNEL)
    assert conn.timer(call) == (CallTimer.T302, T0 + 15.1)

    info = Information(REF, True, CID, keypad="30", h245=TUNNEL)
    assert conn.receive(info, T0 + 5) == [DigitsReceived(call, "30", DigitSource.KEYPAD)]
    assert conn.timer(call) == (CallTimer.T302, T0 + 20)
    info = Information(REF, True, CID, called_number="00", h245=TUNNEL)
    assert conn.receive(info, T0 + 6) == [DigitsReceived(call, "00", DigitSource.CALLED_NUMBER)]
    assert conn.timer(call) == (CallTimer.T302, T0 + 21)

    (proceeding,) = sent(conn.proceed(call, T0 + 6.5))
    assert isinstance(proceeding, CallProceeding)
    assert conn.state(call) is S.INCOMING_CALL_PROCEEDING and conn.timer(call) is None


def test_setup_acknowledge_needs_a_caller_that_can_overlap_send() -> None:
    conn = engine()
    call = offered(conn)
    with pytest.raises(CallSignallingError, match="canOverlapSend"):
        conn.acknowledge_setup(call, T0)
    assert conn.state(call) is S.CALL_PRESENT


def test_t302_expiry_releases_with_cause_28() -> None:
    conn, call = in_state(S.OVERLAP_RECEIVING, outgoing=False)
    assert conn.handle_timer(T0 + 14.9) == []
    actions = conn.handle_timer(T0 + 15)
    assert sent(actions) == [ReleaseComplete(REF, False, CID, cause=Cause.INVALID_NUMBER_FORMAT,
                                             h245=TUNNEL)]
    assert of(CallReleased, actions) == [CallReleased(call, Cause.INVALID_NUMBER_FORMAT, None,
                                                      False, "T302: overlap digits incomplete")]
    assert conn.next_timer() is None and conn.closed


# -- timers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "timer", "after"), [
    (S.CALL_INITIATED, CallTimer.T303, 4.0),
    (S.OUTGOING_CALL_PROCEEDING, CallTimer.T310, 30.0),
    (S.CALL_DELIVERED, CallTimer.T301, 180.0),
])
def test_a_placed_call_timer_releases_with_cause_102(state: CallState, timer: CallTimer,
                                                     after: float) -> None:
    conn, call = in_state(state, outgoing=True)
    assert conn.timer(call) == (timer, T0 + after)
    assert conn.next_timer() == T0 + after
    assert conn.handle_timer(T0 + after - 0.01) == []
    actions = conn.handle_timer(T0 + after)
    (release,) = sent(actions)
    assert isinstance(release, ReleaseComplete)
    assert (release.call_reference, release.from_originator, release.cause) == (
        call.reference, True, Cause.RECOVERY_ON_TIMER_EXPIRY)
    assert of(CallReleased, actions) == [CallReleased(call, Cause.RECOVERY_ON_TIMER_EXPIRY, None,
                                                      False, f"{timer} expired")]
    assert conn.state(call) is S.NULL and conn.next_timer() is None


def test_timers_follow_the_settings() -> None:
    conn, call = in_state(S.CALL_INITIATED, outgoing=True, t303=2.5)
    assert conn.timer(call) == (CallTimer.T303, T0 + 2.5)


def test_progress_stops_t310_but_not_t303() -> None:
    conn, call = in_state(S.CALL_INITIATED, outgoing=True)
    conn.receive(peer_message(MessageType.PROGRESS, call), T0 + 1)
    assert conn.timer(call) == (CallTimer.T303, T0 + 4)
    conn.receive(peer_message(MessageType.CALL_PROCEEDING, call), T0 + 2)
    actions = conn.receive(peer_message(MessageType.PROGRESS, call, fast_start=(b"x",)), T0 + 3)
    assert of(CallProgressed, actions)[0] == CallProgressed(
        call, ProgressKind.PROGRESS, peer_message(MessageType.PROGRESS, call, fast_start=(b"x",)),
        fast_start=(b"x",))
    assert conn.timer(call) is None and conn.state(call) is S.OUTGOING_CALL_PROCEEDING


def test_an_unanswered_setup_gets_call_proceeding_from_the_engine() -> None:
    conn = engine()
    call = offered(conn)
    assert conn.handle_timer(T0 + 2.9) == []
    actions = conn.handle_timer(T0 + 3)
    assert actions == [SendSignal(CallProceeding(REF, False, CID, multiple_calls=True, h245=TUNNEL))]
    assert conn.state(call) is S.INCOMING_CALL_PROCEEDING and conn.next_timer() is None
    assert conn.proceed(call, T0 + 4) == []  # the bridge's late answer adds nothing
    assert sent(conn.proceed(call, T0 + 4, fast_start=(b"olc",))) == [
        Facility(REF, False, CID, FacilityReason.UNDEFINED_REASON, fast_start=(b"olc",),
                 multiple_calls=True, h245=TUNNEL)]
    assert sent(conn.proceed(call, T0 + 4, h245=(b"tcs",))) == [
        Facility(REF, False, CID, multiple_calls=True, h245=H245Tunnel(True, (b"tcs",)))]
    assert isinstance(sent(conn.alert(call, T0 + 5))[0], Alerting)


# -- Status Enquiry, peer release, connection loss: every state --------------------------------


@pytest.mark.parametrize(("state", "outgoing"), ALL_STATES, ids=STATE_IDS)
def test_status_enquiry_is_answered_with_our_state_and_cause_30(state: CallState,
                                                                outgoing: bool) -> None:
    conn, call = in_state(state, outgoing)
    timer = conn.timer(call)
    actions = conn.receive(peer_message(MessageType.STATUS_ENQUIRY, call), T0 + 1)
    # a placed call's callIdentifier is the engine's own: the 16 bytes after the 2 of the reference
    cid = bytes(range(3, 19)) if outgoing else CID
    assert actions == [SendSignal(Status(call.reference, outgoing, Cause.RESPONSE_TO_STATUS_ENQUIRY,
                                         state, cid, TUNNEL))]
    assert conn.state(call) is state and conn.timer(call) == timer


@pytest.mark.parametrize(("state", "outgoing"), ALL_STATES, ids=STATE_IDS)
def test_release_complete_from_the_peer_ends_the_call_in_every_state(state: CallState,
                                                                     outgoing: bool) -> None:
    conn, call = in_state(state, outgoing)
    message = peer_message(MessageType.RELEASE_COMPLETE, call, cause=None,
                           reason=ReleaseCompleteReason.DESTINATION_REJECTION,
                           h245=H245Tunnel(True, (b"endSession",)))
    actions = conn.receive(message, T0 + 1)
    assert actions == [H245Received(call, (b"endSession",)),
                       CallReleased(call, Cause.NORMAL_UNSPECIFIED,
                                    ReleaseCompleteReason.DESTINATION_REJECTION, True,
                                    "Release Complete from the peer"),
                       CloseConnection("the last call on the connection ended")]
    assert conn.state(call) is S.NULL and conn.next_timer() is None


@pytest.mark.parametrize(("state", "outgoing"), ALL_STATES, ids=STATE_IDS)
def test_connection_loss_releases_the_call_in_every_state(state: CallState, outgoing: bool) -> None:
    conn, call = in_state(state, outgoing)
    cause = Cause.NORMAL_CALL_CLEARING if state is S.ACTIVE else Cause.TEMPORARY_FAILURE
    assert conn.connection_lost(T0 + 1) == [CallReleased(call, cause, None, True, "connection lost")]
    assert conn.calls() == [] and conn.next_timer() is None and conn.closed
    assert of(LogDefect, conn.receive(peer_message(MessageType.CONNECT, call), T0 + 2))
    assert conn.release(call, T0 + 2) == []
    with pytest.raises(CallSignallingError):
        conn.setup(T0 + 2)


@pytest.mark.parametrize(("state", "outgoing"), ALL_STATES, ids=STATE_IDS)
def test_status_reporting_null_ends_the_call(state: CallState, outgoing: bool) -> None:
    conn, call = in_state(state, outgoing)
    message = peer_message(MessageType.STATUS, call, call_state=S.NULL,
                           cause=Cause.MESSAGE_NOT_COMPATIBLE_WITH_CALL_STATE)
    actions = conn.receive(message, T0 + 1)
    assert sent(actions) == []
    assert of(CallReleased, actions) == [CallReleased(
        call, Cause.MESSAGE_NOT_COMPATIBLE_WITH_CALL_STATE, None, True,
        "Status reports the Null state")]


# -- messages out of state ---------------------------------------------------------------------

OUT_OF_STATE = [(s, o, k) for s, o in ALL_STATES for k in MessageType
                if k is not MessageType.SETUP and (o, s, k) not in PEER]


@pytest.mark.parametrize(("state", "outgoing", "kind"), OUT_OF_STATE,
                         ids=[f"{'out' if o else 'in'}-{s.name}-{k.name}" for s, o, k in OUT_OF_STATE])
def test_a_message_out_of_state_gets_status_101_and_changes_nothing(
        state: CallState, outgoing: bool, kind: MessageType) -> None:
    conn, call = in_state(state, outgoing)
    timer = conn.timer(call)
    message = peer_message(kind, call, h245=H245Tunnel(True, (b"tcs",)))  # no action on any of it
    actions = conn.receive(message, T0 + 1)
    assert of(LogDefect, actions) == [LogDefect(f"{kind.name} in state {state.name}", call)]
    assert len(actions) == 2
    (status,) = sent(actions)
    assert isinstance(status, Status)
    assert (status.call_reference, status.from_originator, status.cause, status.call_state) == (
        call.reference, outgoing, Cause.MESSAGE_NOT_COMPATIBLE_WITH_CALL_STATE, state)
    assert conn.state(call) is state and conn.timer(call) == timer


def test_out_of_state_covers_both_directions() -> None:
    kinds = {(o, k) for _, o, k in OUT_OF_STATE}
    assert (False, MessageType.CONNECT) in kinds and (True, MessageType.INFORMATION) in kinds
    assert (False, MessageType.SETUP_ACKNOWLEDGE) in kinds


@pytest.mark.parametrize(("state", "outgoing"), ALL_STATES, ids=STATE_IDS)
def test_a_setup_for_a_call_in_progress_is_ignored(state: CallState, outgoing: bool) -> None:
    conn, call = in_state(state, outgoing)
    message = replace(setup_in(call.reference), from_originator=not outgoing)
    actions = conn.receive(message, T0 + 1)
    assert sent(actions) == [] and len(of(LogDefect, actions)) == 1
    assert conn.state(call) is state


# -- unknown and global call references ---------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k in MessageType
                                  if k not in (MessageType.SETUP, MessageType.RELEASE_COMPLETE,
                                               MessageType.STATUS_ENQUIRY, MessageType.STATUS)])
def test_an_unknown_call_reference_gets_release_complete_81(kind: MessageType) -> None:
    conn = engine()
    message = peer_message(kind, Call(77, outgoing=True))  # as an answer to a call we never placed
    actions = conn.receive(message, T0)
    assert sent(actions) == [ReleaseComplete(77, True, CID, cause=Cause.INVALID_CALL_REFERENCE)]
    assert len(of(LogDefect, actions)) == 1 and conn.calls() == [] and not conn.closed


def test_unknown_call_reference_release_complete_status_and_enquiry() -> None:
    conn = engine()
    unknown = Call(77, outgoing=False)
    assert conn.receive(peer_message(MessageType.RELEASE_COMPLETE, unknown), T0) == []
    assert sent(conn.receive(peer_message(MessageType.STATUS_ENQUIRY, unknown), T0)) == [
        Status(77, False, Cause.RESPONSE_TO_STATUS_ENQUIRY, S.NULL, CID)]
    assert conn.receive(peer_message(MessageType.STATUS, unknown, call_state=S.NULL), T0) == []
    assert sent(conn.receive(peer_message(MessageType.STATUS, unknown), T0)) == [
        ReleaseComplete(77, False, CID, cause=Cause.MESSAGE_NOT_COMPATIBLE_WITH_CALL_STATE)]


def test_a_setup_with_the_answer_flag_is_ignored() -> None:
    conn = engine()
    actions = conn.receive(replace(setup_in(), from_originator=False), T0)
    assert sent(actions) == [] and len(of(LogDefect, actions)) == 1 and conn.calls() == []


def test_the_global_call_reference_gets_status_81() -> None:
    conn = engine()
    actions = conn.receive(StatusEnquiry(0, True), T0)
    assert sent(actions) == [Status(0, False, Cause.INVALID_CALL_REFERENCE, S.NULL)]
    assert conn.receive(Status(0, True, Cause.NORMAL_UNSPECIFIED, S.NULL), T0) == []
    assert sent(conn.receive(setup_in(0), T0)) == [Status(0, False, Cause.INVALID_CALL_REFERENCE,
                                                          S.NULL)]
    assert conn.calls() == []


# -- decode errors ----------------------------------------------------------------------------


def test_a_decode_error_without_a_call_reference_is_only_logged() -> None:
    conn, call = in_state(S.ACTIVE, outgoing=False)
    error = CallSignalDecodeError("TPKT length 3", Cause.INVALID_MESSAGE)
    assert conn.receive(error, T0 + 1) == [LogDefect("TPKT length 3")]
    assert conn.state(call) is S.ACTIVE


def test_a_decode_error_on_a_call_gets_status_with_its_cause() -> None:
    conn, call = in_state(S.CALL_RECEIVED, outgoing=False)
    error = CallSignalDecodeError("Facility UUIE: bad PER", Cause.INVALID_IE_CONTENTS, REF, True,
                                  MessageType.FACILITY)
    assert conn.receive(error, T0 + 1) == [
        LogDefect("Facility UUIE: bad PER", call),
        SendSignal(Status(REF, False, Cause.INVALID_IE_CONTENTS, S.CALL_RECEIVED, CID, TUNNEL))]
    assert conn.state(call) is S.CALL_RECEIVED


def test_an_undecodable_release_complete_still_ends_its_call() -> None:
    conn, call = in_state(S.ACTIVE, outgoing=True)
    error = CallSignalDecodeError("no UUIE", Cause.MANDATORY_IE_MISSING, call.reference, False,
                                  MessageType.RELEASE_COMPLETE)
    actions = conn.receive(error, T0 + 1)
    assert actions[0] == LogDefect("no UUIE", call) and sent(actions) == []
    assert of(CallReleased, actions) == [CallReleased(call, Cause.NORMAL_UNSPECIFIED, None, True,
                                                      "Release Complete from the peer (undecodable)")]


def test_an_undecodable_setup_gets_release_complete_with_its_cause() -> None:
    conn = engine()
    error = CallSignalDecodeError("Setup without Bearer capability", Cause.MANDATORY_IE_MISSING,
                                  9, True, MessageType.SETUP)
    assert conn.receive(error, T0) == [
        LogDefect("Setup without Bearer capability", Call(9, False)),
        SendSignal(ReleaseComplete(9, False, b"", cause=Cause.MANDATORY_IE_MISSING))]
    assert conn.calls() == []


def test_an_undecodable_message_for_an_unknown_call_gets_release_complete_81() -> None:
    conn = engine()
    error = CallSignalDecodeError("bad", Cause.INVALID_MESSAGE, 9, False, 0x33)
    assert sent(conn.receive(error, T0)) == [ReleaseComplete(9, True, b"",
                                                             cause=Cause.INVALID_CALL_REFERENCE)]
    for kind in (MessageType.RELEASE_COMPLETE, MessageType.STATUS):
        error = CallSignalDecodeError("bad", Cause.INVALID_MESSAGE, 9, False, kind)
        assert conn.receive(error, T0) == [LogDefect("bad", Call(9, True))]


# -- several calls, maintainConnection ----------------------------------------------------------


def test_two_calls_on_one_connection_are_told_apart_by_the_flag() -> None:
    conn = engine()
    theirs = offered(conn, ref=0x0103)
    ours = placed(conn)
    assert ours.reference == theirs.reference == 0x0103
    conn.connect(theirs, T0)
    answer = peer_message(MessageType.ALERTING, ours)
    assert of(CallProgressed, conn.receive(answer, T0))
    assert (conn.state(theirs), conn.state(ours)) == (S.ACTIVE, S.CALL_DELIVERED)

    actions = conn.receive(peer_message(MessageType.RELEASE_COMPLETE, theirs), T0 + 1)
    assert of(CallReleased, actions) and not of(CloseConnection, actions)
    assert conn.calls() == [ours] and conn.state(ours) is S.CALL_DELIVERED
    actions = conn.release(ours, T0 + 2)
    assert of(CloseConnection, actions) == [CloseConnection("the last call on the connection ended")]


def test_a_second_setup_without_multiple_calls_is_refused() -> None:
    conn = engine(multiple_calls=False)
    first = offered(conn)
    actions = conn.receive(setup_in(REF + 1), T0)
    assert sent(actions) == [ReleaseComplete(REF + 1, False, CID, cause=Cause.RESOURCE_UNAVAILABLE)]
    assert conn.calls() == [first]


def test_the_connection_stays_when_both_sides_maintain_it() -> None:
    conn = engine(maintain_connection=True)
    call = offered(conn, maintain_connection=True)
    actions = conn.release(call, T0)
    assert not of(CloseConnection, actions) and not conn.closed
    call = offered(conn, ref=REF + 1, maintain_connection=True)
    tunnelled = Facility(REF + 1, True, CID, h245=H245Tunnel(True, (b"tcs",)))  # no UUIE flags
    conn.receive(tunnelled, T0)
    assert not of(CloseConnection, conn.release(call, T0))
    call = offered(conn, ref=REF + 2, maintain_connection=False)
    assert of(CloseConnection, conn.release(call, T0))


# -- tunnelled H.245 and H.245 addresses --------------------------------------------------------


def test_tunnelled_h245_passes_both_ways() -> None:
    conn = engine()
    actions = conn.receive(setup_in(h245=H245Tunnel(True, (b"tcs", b"msd"))), T0)
    call = Call(REF, False)
    assert actions[1:] == [H245Received(call, (b"tcs", b"msd"))]
    assert conn.tunnelling(call)
    assert sent(conn.send_h245(call, (b"tcs-ack",), T0)) == [
        Facility(REF, False, CID, multiple_calls=True, h245=H245Tunnel(True, (b"tcs-ack",)))]
    (alerting,) = sent(conn.alert(call, T0, h245=(b"msd-ack",)))  # piggybacked
    assert alerting.h245 == H245Tunnel(True, (b"msd-ack",))
    facility = Facility(REF, True, CID, h245=H245Tunnel(True, (b"olc",)))
    assert conn.receive(facility, T0) == [H245Received(call, (b"olc",))]
    connect = conn.connect(call, T0)
    assert sent(connect)[0].h245 == TUNNEL  # the flag on every message while tunnelling
    (release,) = sent(conn.release(call, T0, h245=(b"endSession",)))
    assert release.h245 == H245Tunnel(True, (b"endSession",))


def test_a_peer_that_does_not_tunnel_gets_no_tunnel() -> None:
    conn = engine()
    call = offered(conn, h245=H245Tunnel(False))
    (proceeding,) = sent(conn.proceed(call, T0))
    assert proceeding.h245 == H245Tunnel(False)
    with pytest.raises(CallSignallingError, match="does not tunnel"):
        conn.send_h245(call, (b"tcs",), T0)
    with pytest.raises(CallSignallingError, match="does not tunnel"):
        conn.alert(call, T0, h245=(b"tcs",))
    assert conn.state(call) is S.INCOMING_CALL_PROCEEDING


def test_tunnelling_ends_when_the_first_answer_to_our_setup_does_not_tunnel() -> None:
    conn = engine()
    call = placed(conn)
    assert conn.tunnelling(call)
    assert sent(conn.send_h245(call, (b"tcs",), T0))  # offered in the Setup: allowed meanwhile
    conn.receive(peer_message(MessageType.CALL_PROCEEDING, call, h245=H245Tunnel(False)), T0)
    assert not conn.tunnelling(call)
    conn.receive(peer_message(MessageType.ALERTING, call, h245=TUNNEL), T0)  # too late
    assert not conn.tunnelling(call)


def test_our_setting_can_refuse_tunnelling() -> None:
    conn = engine(h245_tunnelling=False)
    call = offered(conn)
    assert not conn.tunnelling(call)
    assert sent(conn.connect(call, T0))[0].h245 == H245Tunnel(False)


def test_an_h245_address_is_offered_once_from_any_message() -> None:
    conn = engine()
    call = offered(conn, h245_address=PEER_H245)
    conn2 = engine()
    assert of(H245AddressOffered, conn2.receive(setup_in(h245_address=PEER_H245), T0)) == [
        H245AddressOffered(call, PEER_H245)]
    start = Facility(REF, True, CID, FacilityReason.START_H245, h245_address=PEER_H245)
    assert conn.receive(start, T0) == []  # the same address again
    other = TransportAddress("192.0.2.10", 30002)
    start = replace(start, h245_address=other)
    assert conn.receive(start, T0) == [H245AddressOffered(call, other)]
    conn, ours = in_state(S.CALL_INITIATED, outgoing=True)
    connect = peer_message(MessageType.CONNECT, ours, h245_address=PEER_H245)
    assert conn.receive(connect, T0) == [CallAnswered(ours, connect),  # type: ignore[arg-type]
                                         H245AddressOffered(ours, PEER_H245)]


def test_information_and_notify_during_a_call() -> None:
    conn, call = in_state(S.ACTIVE, outgoing=True)
    assert conn.receive(peer_message(MessageType.NOTIFY, call), T0) == []
    assert conn.receive(peer_message(MessageType.INFORMATION, call, keypad="5"), T0) == [
        DigitsReceived(call, "5", DigitSource.KEYPAD)]
    (info,) = sent(conn.information(call, T0, display="Queue 2: 3 waiting"))
    assert info == Information(call.reference, True, info.call_identifier,
                               display="Queue 2: 3 waiting", h245=TUNNEL)


def test_a_bridge_command_the_state_has_no_entry_for_raises_and_changes_nothing() -> None:
    conn, call = in_state(S.CALL_INITIATED, outgoing=True)
    for command in (conn.alert, conn.connect, conn.proceed, conn.information):
        with pytest.raises(CallSignallingError):
            command(call, T0)
    conn, call = in_state(S.CALL_RECEIVED, outgoing=False)
    with pytest.raises(CallSignallingError):
        conn.alert(call, T0)
    assert conn.state(call) is S.CALL_RECEIVED


def test_every_timed_state_has_its_timer() -> None:
    for (state, outgoing) in ALL_STATES:
        conn, call = in_state(state, outgoing)
        expected = STATE_TIMER.get(state)
        assert (conn.timer(call) or (None,))[0] == expected
        assert message_type(peer_message(MessageType.NOTIFY, call)) is MessageType.NOTIFY


# -- hypothesis: random peer messages and bridge commands ----------------------------------------

REFS = st.sampled_from([0, 1, 2, 3, 0x0102, 0x0103, 0x7FFF])
PDUS = st.lists(st.binary(min_size=1, max_size=3), max_size=2).map(tuple)


class CallSignallingMachine(RuleBasedStateMachine):
    """One connection (a new one when it ends), driven by random peer messages, decode errors,
    bridge commands, clock advances and connection losses; the checks run on every step."""

    @initialize()
    def start(self) -> None:
        self.now = T0
        self.conn = engine()
        self.seen: list[Call] = []  # every call any step made (commands are tried on them)

    def _new_connection_if_ended(self) -> None:
        if self.conn.closed:
            self.conn = engine()

    def _check(self, before: dict[Call, CallState], actions: list[CallSignallingAction],
               answer_to: tuple[int, bool] | None = None, on_call: Call | None = None) -> None:
        released = [a.call for a in actions if isinstance(a, CallReleased)]
        assert len(released) == len(set(released)), "a call released twice"
        for call in released:
            assert call in before, "released a call that was not live"
            assert self.conn.state(call) is S.NULL and self.conn.timer(call) is None
            assert call not in self.conn.calls()
        for action in actions:
            if isinstance(action, CallOffered):
                assert not action.call.outgoing and action.call not in before
                self.seen.append(action.call)
            if isinstance(action, CloseConnection):
                assert self.conn.calls() == [] and self.conn.closed
            if not isinstance(action, SendSignal):
                continue
            m = action.message
            assert 0 <= m.call_reference <= 0x7FFF
            if m.h245.control:
                assert m.h245.tunnelling
            if answer_to is not None:  # answers name the peer's call reference, flag inverted
                assert (m.call_reference, m.from_originator) == (answer_to[0], not answer_to[1])
            if on_call is not None:
                assert (m.call_reference, m.from_originator) == (on_call.reference, on_call.outgoing)
            if answer_to is None and on_call is None:  # timers: only calls that were live
                assert Call(m.call_reference, m.from_originator) in before
        if of(CloseConnection, actions):
            self._new_connection_if_ended()

    def _live(self) -> dict[Call, CallState]:
        return {c: self.conn.state(c) for c in self.conn.calls()}

    @rule(data=st.data(), kind=st.sampled_from(list(MessageType)), tunnelling=st.booleans(),
          pdus=PDUS, state=st.sampled_from(list(CallState)),
          digits=st.sampled_from([None, "", "1", "*35*"]), overlap=st.booleans(),
          cause=st.sampled_from([None, 16, 81]))
    def peer_sends(self, data: st.DataObject, kind: MessageType, tunnelling: bool,
                   pdus: tuple[bytes, ...], state: CallState, digits: str | None, overlap: bool,
                   cause: int | None) -> None:
        live = self.conn.calls()
        if live and data.draw(st.integers(0, 3), "on a live call?"):
            target = data.draw(st.sampled_from(live), "call")
            ref, flag = target.reference, not target.outgoing
        else:
            ref, flag = data.draw(REFS, "ref"), data.draw(st.booleans(), "flag")
        tunnel = H245Tunnel(tunnelling, pdus)
        message = peer_message(kind, Call(ref, outgoing=not flag))
        extra: dict[str, object] = {"h245": tunnel} if kind is not MessageType.STATUS else {}
        if kind is MessageType.SETUP:
            extra["can_overlap_send"] = overlap
        if kind is MessageType.STATUS:
            extra["call_state"] = state
        if kind is MessageType.INFORMATION:
            extra.update(keypad=digits, called_number=digits)
        if kind is MessageType.RELEASE_COMPLETE:
            extra["cause"] = cause
        message = replace(message, **extra)  # type: ignore[type-var]
        before = self._live()
        call = Call(ref, outgoing=not flag)
        actions = self.conn.receive(message, self.now)
        if kind is MessageType.RELEASE_COMPLETE and call in before:
            assert next(a for a in actions if isinstance(a, CallReleased)).by_peer
            assert self.conn.state(call) is S.NULL
        self._check(before, actions, answer_to=(ref, flag))

    @rule(ref=REFS, overlap=st.booleans(), tunnelling=st.booleans(), pdus=PDUS)
    def peer_offers_a_call(self, ref: int, overlap: bool, tunnelling: bool,
                           pdus: tuple[bytes, ...]) -> None:
        before = self._live()
        setup = setup_in(ref, can_overlap_send=overlap, h245=H245Tunnel(tunnelling, pdus))
        actions = self.conn.receive(setup, self.now)
        call = Call(ref, outgoing=False)
        if ref and call not in before:
            assert actions[0] == CallOffered(call, setup)
            assert self.conn.state(call) is S.CALL_PRESENT
        self._check(before, actions, answer_to=(ref, True))

    @rule(ref=st.one_of(st.none(), REFS), flag=st.booleans(),
          kind=st.sampled_from([*MessageType, None]))
    def peer_sends_garbage(self, ref: int | None, flag: bool, kind: MessageType | None) -> None:
        before = self._live()
        error = CallSignalDecodeError("bad", Cause.INVALID_IE_CONTENTS, ref, flag, kind)
        actions = self.conn.receive(error, self.now)
        assert of(LogDefect, actions)
        self._check(before, actions, answer_to=None if ref is None else (ref, flag))

    @precondition(lambda self: not self.conn.closed)
    @rule(tunnelled=st.booleans())
    def bridge_places_a_call(self, tunnelled: bool) -> None:
        before = self._live()
        call, actions = self.conn.setup(self.now, called_number="2201", h245=(b"tcs",) * tunnelled)
        assert call.outgoing and call not in before
        self.seen.append(call)
        self._check(before, actions, on_call=call)
        assert self.conn.state(call) is S.CALL_INITIATED

    @precondition(lambda self: bool(self.seen))
    @rule(data=st.data(), command=st.sampled_from([c for c in Command if c is not Command.SETUP]),
          pdus=PDUS)
    def bridge_commands(self, data: st.DataObject, command: Command, pdus: tuple[bytes, ...]) -> None:
        live = self.conn.calls()
        if live and data.draw(st.integers(0, 3), "a live call?"):
            call = data.draw(st.sampled_from(live), "call")
        else:
            call = data.draw(st.sampled_from(self.seen), "call")
        before = self._live()
        state = self.conn.state(call)
        run: dict[Command, Callable[[], list[CallSignallingAction]]] = {
            Command.ACKNOWLEDGE_SETUP: lambda: self.conn.acknowledge_setup(call, self.now),
            Command.PROCEED: lambda: self.conn.proceed(call, self.now, h245=pdus),
            Command.ALERT: lambda: self.conn.alert(call, self.now, h245=pdus),
            Command.CONNECT: lambda: self.conn.connect(call, self.now, h245=pdus),
            Command.RELEASE: lambda: self.conn.release(call, self.now, h245=pdus),
            Command.SEND_H245: lambda: self.conn.send_h245(call, pdus or (b"x",), self.now),
            Command.INFORMATION: lambda: self.conn.information(call, self.now, display="x"),
        }
        allowed = (call.outgoing, state, command) in LOCAL
        if call not in before:
            assert run[command]() == []  # the call is over: nothing to do
            return
        try:
            actions = run[command]()
        except CallSignallingError:
            needs_tunnel = bool(pdus) or command is Command.SEND_H245
            assert (not allowed or (needs_tunnel and not self.conn.tunnelling(call))
                    or command is Command.ACKNOWLEDGE_SETUP)
            assert self.conn.state(call) is state
            return
        assert allowed
        self._check(before, actions, on_call=call)
        if command is Command.RELEASE:
            assert of(CallReleased, actions) == [CallReleased(call, Cause.NORMAL_CALL_CLEARING,
                                                              None, False, "released by the bridge")]

    @rule(seconds=st.sampled_from([0.5, 3.0, 4.0, 15.0, 30.0, 200.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        due = self.conn.next_timer()
        before = self._live()
        actions = self.conn.handle_timer(self.now)
        if due is None or due > self.now:
            assert actions == []
        self._check(before, actions)

    @rule(dice=st.integers(0, 9))
    def connection_lost(self, dice: int) -> None:
        if dice:  # one time in ten: a connection should live long enough to see its calls through
            return
        before = self._live()
        actions = self.conn.connection_lost(self.now)
        assert {a.call for a in actions if isinstance(a, CallReleased)} == set(before)
        assert sent(actions) == []
        self._check(before, actions)
        self._new_connection_if_ended()

    @invariant()
    def calls_are_live_and_their_timers_belong_to_their_state(self) -> None:
        for call in self.conn.calls():
            state = self.conn.state(call)
            assert state is not S.NULL
            timer = self.conn.timer(call)
            if timer is not None:
                assert timer[0] is STATE_TIMER[state]
            elif state is not S.OUTGOING_CALL_PROCEEDING:  # Progress stops T310 (Q.931 5.1.6)
                assert state not in STATE_TIMER
        timers = [t[1] for c in self.conn.calls() if (t := self.conn.timer(c)) is not None]
        assert self.conn.next_timer() == (min(timers) if timers else None)


CallSignallingMachine.TestCase.settings = hypothesis_settings(max_examples=300,
                                                              stateful_step_count=40)
test_call_signalling_machine = CallSignallingMachine.TestCase
