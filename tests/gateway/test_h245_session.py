"""The H.245 session engine: two engines talking, master/slave determination, timers, answers
to what it cannot do, and every state with every input (hypothesis)."""

from __future__ import annotations

import copy

from acdgate.gateway.h323.h245_events import (
    ChannelClosed,
    DigitReceived,
    DigitSource,
    MediaReady,
    SendH245,
    SessionEnded,
    SessionFailed,
)
from acdgate.gateway.h323.h245_messages import (
    AudioCapability,
    AudioCodec,
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
    UserInputSignal,
)
from acdgate.gateway.h323.h245_session import (
    N100,
    ChannelState,
    H245Session,
    MsdState,
    MsdStatus,
    msd_status,
    our_capabilities,
)
from h245_support import CODEC, GW_RTCP, GW_RTP, PHONE_RTCP, PHONE_RTP, Pair, numbers, session
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule


def sent(actions: list[object]) -> list[H245Message]:
    return [a.message for a in actions if isinstance(a, SendH245)]


def phone_tcs(seq: int = 1, *caps: AudioCapability | TelephonyEventCapability
              ) -> TerminalCapabilitySet:
    table = caps or (AudioCapability(1, AudioCodec.G711_ALAW, 30),
                     AudioCapability(2, AudioCodec.G711_ULAW, 30))
    return TerminalCapabilitySet(seq, table, ((tuple(c.entry for c in table),),))


def started_pair() -> Pair:
    gw = session()
    phone = session(PHONE_RTP, PHONE_RTCP, numbers(0x800001), terminal_type=50)
    pair = Pair(gw, phone)
    pair.run(gw.start(0.0), "a")
    pair.run(phone.start(0.0), "b")
    return pair


# ------------------------------------------------------------------------- two engines


def test_two_engines_end_with_media_ready_on_both_sides_with_each_others_addresses() -> None:
    pair = started_pair()
    gw_ready = [e for e in pair.events["a"] if isinstance(e, MediaReady)]
    phone_ready = [e for e in pair.events["b"] if isinstance(e, MediaReady)]
    assert gw_ready == [MediaReady(AudioCodec.G711_ULAW, PHONE_RTP, PHONE_RTCP,
                                   AudioCodec.G711_ULAW, 101)]
    assert phone_ready == [MediaReady(AudioCodec.G711_ULAW, GW_RTP, GW_RTCP,
                                      AudioCodec.G711_ULAW, 101)]
    assert pair.a.msd_status is MsdStatus.MASTER  # terminal type 60 beats 50
    assert pair.b.msd_status is MsdStatus.SLAVE
    assert pair.a.next_timer() is None and pair.b.next_timer() is None
    assert not [e for e in pair.events["a"] + pair.events["b"] if isinstance(e, SessionFailed)]


def test_a_law_only_peer_gets_a_law() -> None:
    gw = session()
    phone = session(PHONE_RTP, PHONE_RTCP, codecs=(AudioCodec.G711_ALAW,), terminal_type=50,
                    rfc2833_payload_type=None)
    pair = Pair(gw, phone)
    pair.run(gw.start(0.0), "a")
    pair.run(phone.start(0.0), "b")
    (ready,) = [e for e in pair.events["a"] if isinstance(e, MediaReady)]
    assert (ready.codec, ready.receive_codec, ready.rfc2833_payload_type) == (
        AudioCodec.G711_ALAW, AudioCodec.G711_ALAW, None)


def test_end_session_both_ways() -> None:
    pair = started_pair()
    pair.run(pair.a.end(1.0), "a")
    assert pair.events["b"][-1] == SessionEnded(by_peer=True)
    assert pair.events["a"][-1] == SessionEnded(by_peer=False)
    assert pair.a.ended and pair.b.ended
    # after the end nothing is answered
    assert pair.a.receive(RoundTripDelayRequest(1), 2.0) == []


def test_the_peer_closing_its_channel_is_acknowledged_and_reported() -> None:
    pair = started_pair()
    pair.run(pair.b.close_channel(1.0), "b")
    assert ChannelClosed(1, ours=False) in pair.events["a"]
    assert ChannelClosed(1, ours=True) in pair.events["b"]
    assert pair.b.channel_state is ChannelState.RELEASED


def test_request_channel_close_closes_our_channel() -> None:
    pair = started_pair()
    actions = pair.a.receive(RequestChannelClose(1), 1.0)
    assert sent(actions) == [RequestChannelCloseAck(1),
                             CloseLogicalChannel(1, ChannelCloseSource.USER)]
    assert ChannelClosed(1, ours=True) in actions
    # again, or for a channel we never opened: refused
    assert sent(pair.a.receive(RequestChannelClose(1), 1.5)) == [RequestChannelCloseReject(1)]
    assert sent(pair.a.receive(RequestChannelClose(7), 1.5)) == [RequestChannelCloseReject(7)]


# ------------------------------------------------------------------------- master/slave (C.2)


def test_msd_status_rules() -> None:
    assert msd_status(60, 5, 50, 5) is MsdStatus.MASTER
    assert msd_status(50, 5, 60, 5) is MsdStatus.SLAVE
    assert msd_status(60, 5, 60, 5) is MsdStatus.INDETERMINATE
    assert msd_status(60, 0, 60, 0x800000) is MsdStatus.INDETERMINATE
    assert msd_status(60, 10, 60, 11) is MsdStatus.MASTER  # (11 - 10) mod 2**24 < 2**23
    assert msd_status(60, 11, 60, 10) is MsdStatus.SLAVE
    assert msd_status(60, 0xFFFFFF, 60, 1) is MsdStatus.MASTER  # wraps


def test_msd_tie_break_retries_with_new_numbers_and_decides() -> None:
    """Same terminal type, same first numbers, MSDs crossing on the wire: indeterminate on both
    sides, both retry with new numbers (H.245 C.2), the numbers decide, media comes up."""
    a = session(randoms=numbers(7, 100))
    b = session(PHONE_RTP, PHONE_RTCP, numbers(7, 200))
    start_a, start_b = sent(a.start(0.0)), sent(b.start(0.0))
    assert MasterSlaveDetermination(60, 7) in start_a and MasterSlaveDetermination(60, 7) in start_b
    assert sent(a.receive(MasterSlaveDetermination(60, 7), 0.1)) == [
        MasterSlaveDetermination(60, 100)]
    assert sent(b.receive(MasterSlaveDetermination(60, 7), 0.1)) == [
        MasterSlaveDetermination(60, 200)]
    # (200 - 100) mod 2**24 < 2**23: a is master
    assert sent(a.receive(MasterSlaveDetermination(60, 200), 0.2)) == [
        MasterSlaveDeterminationAck(MsdDecision.SLAVE)]
    assert sent(b.receive(MasterSlaveDetermination(60, 100), 0.2)) == [
        MasterSlaveDeterminationAck(MsdDecision.MASTER)]
    a.receive(MasterSlaveDeterminationAck(MsdDecision.MASTER), 0.3)
    b.receive(MasterSlaveDeterminationAck(MsdDecision.SLAVE), 0.3)
    assert (a.msd_status, b.msd_status) == (MsdStatus.MASTER, MsdStatus.SLAVE)
    assert a.next_timer() == 30.0  # only T101 runs: the capability sets are still in flight
    pair = Pair(a, b)
    pair.run([SendH245(m) for m in start_a if isinstance(m, TerminalCapabilitySet)], "a", 0.4)
    pair.run([SendH245(m) for m in start_b if isinstance(m, TerminalCapabilitySet)], "b", 0.4)
    assert [e for e in pair.events["a"] if isinstance(e, MediaReady)] == [
        MediaReady(AudioCodec.G711_ULAW, PHONE_RTP, PHONE_RTCP, AudioCodec.G711_ULAW, 101)]
    assert [e for e in pair.events["b"] if isinstance(e, MediaReady)] == [
        MediaReady(AudioCodec.G711_ULAW, GW_RTP, GW_RTCP, AudioCodec.G711_ULAW, 101)]


def test_indeterminate_n100_times_fails() -> None:
    gw = session(randoms=numbers(5, 5, 5, 5))
    first = sent(gw.start(0.0))
    assert MasterSlaveDetermination(60, 5) in first
    for attempt in range(1, N100):
        actions = gw.receive(MasterSlaveDeterminationReject(), float(attempt))
        assert sent(actions) == [MasterSlaveDetermination(60, 5)]
    actions = gw.receive(MasterSlaveDeterminationReject(), 9.0)
    assert actions == [SessionFailed(
        f"master/slave determination indeterminate after {N100} tries")]
    assert gw.msd_status is MsdStatus.INDETERMINATE and gw.msd_state is MsdState.IDLE


def test_incoming_msd_with_our_number_is_rejected_when_idle() -> None:
    gw = session(randoms=numbers(42))
    assert sent(gw.receive(MasterSlaveDetermination(60, 42), 0.0)) == [
        MasterSlaveDeterminationReject()]


def test_incoming_msd_first_then_ack_decides_and_start_sends_no_msd() -> None:
    gw = session(randoms=numbers(10))
    assert sent(gw.receive(MasterSlaveDetermination(60, 11), 0.0)) == [
        MasterSlaveDeterminationAck(MsdDecision.SLAVE)]
    assert gw.msd_state is MsdState.INCOMING_AWAITING_RESPONSE
    assert not any(isinstance(m, MasterSlaveDetermination) for m in sent(gw.start(0.0)))
    gw.receive(MasterSlaveDeterminationAck(MsdDecision.MASTER), 0.5)
    assert gw.msd_status is MsdStatus.MASTER and gw.msd_state is MsdState.IDLE


def test_contradicting_ack_fails() -> None:
    gw = session(randoms=numbers(10))
    gw.receive(MasterSlaveDetermination(60, 11), 0.0)  # we are master
    assert gw.receive(MasterSlaveDeterminationAck(MsdDecision.SLAVE), 0.5) == [
        SessionFailed("the peer's Ack contradicts the determination")]


# ------------------------------------------------------------------------- timers


def test_t101_expiry_releases_the_capability_set() -> None:
    gw = session(t101=5.0, t106=50.0)
    gw.start(0.0)
    assert gw.next_timer() == 5.0
    assert gw.handle_timer(4.9) == []
    actions = gw.handle_timer(5.0)
    assert sent(actions) == [TerminalCapabilitySetRelease()]
    assert SessionFailed("T101: our capabilities were not acknowledged") in actions
    assert gw.next_timer() == 50.0


def test_t106_expiry_releases_msd() -> None:
    gw = session(t101=50.0, t106=3.0)
    gw.start(0.0)
    actions = gw.handle_timer(3.0)
    assert sent(actions) == [MasterSlaveDeterminationRelease()]
    assert gw.msd_status is MsdStatus.INDETERMINATE


def test_t103_expiry_closes_our_channel() -> None:
    gw = session(t103=7.0, randoms=numbers(1))
    gw.start(0.0)
    gw.receive(TerminalCapabilitySetAck(1), 0.1)
    gw.receive(MasterSlaveDeterminationAck(MsdDecision.MASTER), 0.2)
    actions = gw.receive(phone_tcs(), 0.3)
    assert sent(actions) == [TerminalCapabilitySetAck(1), OpenLogicalChannel(
        1, ChannelParameters(AudioCodec.G711_ULAW, 20, 1, None, GW_RTCP))]
    assert gw.next_timer() == 7.3
    actions = gw.handle_timer(7.3)
    assert sent(actions) == [CloseLogicalChannel(1, ChannelCloseSource.LCSE)]
    assert SessionFailed("T103: our audio channel was not acknowledged") in actions
    assert gw.next_timer() is None
    # a late Ack changes nothing
    assert gw.receive(OpenLogicalChannelAck(1, PHONE_RTP, PHONE_RTCP), 8.0) == []


# ------------------------------------------------------------------------- answers


def ready_for_channels() -> H245Session:
    gw = session(randoms=numbers(1))
    gw.start(0.0)
    gw.receive(TerminalCapabilitySetAck(1), 0.1)
    gw.receive(MasterSlaveDeterminationAck(MsdDecision.MASTER), 0.2)
    return gw


def test_peer_tcs_naming_absent_entries_is_rejected() -> None:
    gw = session()
    bad = TerminalCapabilitySet(4, (AudioCapability(1, AudioCodec.G711_ULAW, 20),), (((1, 9),),))
    assert sent(gw.receive(bad, 0.0)) == [
        TerminalCapabilitySetReject(4, TcsRejectCause.UNDEFINED_TABLE_ENTRY_USED)]
    assert gw.peer_capabilities is None


def test_peer_without_g711_fails_with_no_common_codec() -> None:
    gw = ready_for_channels()
    tcs = TerminalCapabilitySet(1, (), ((((3,),)),), other_entries=(3,))  # a G.729 entry, say
    actions = gw.receive(tcs, 1.0)
    assert sent(actions) == [TerminalCapabilitySetAck(1)]
    assert SessionFailed("no common audio codec: the peer receives no G.711") in actions


def test_rfc2833_payload_type_from_the_peers_tcs() -> None:
    gw = session()
    gw.receive(phone_tcs(1, AudioCapability(1, AudioCodec.G711_ULAW, 20),
                         TelephonyEventCapability(2, 96)), 0.0)
    assert gw.rfc2833_payload_type == 96


def test_peer_olc_is_acked_with_our_addresses() -> None:
    gw = session()
    olc = OpenLogicalChannel(
        7, ChannelParameters(AudioCodec.G711_ALAW, 20, 1, None, PHONE_RTCP))
    assert sent(gw.receive(olc, 0.0)) == [OpenLogicalChannelAck(7, GW_RTP, GW_RTCP, 1)]


def test_unsupported_olcs_are_rejected_with_their_cause() -> None:
    gw = session()
    video = OpenLogicalChannel(3, None, None, unsupported="videoData")
    assert sent(gw.receive(video, 0.0)) == [
        OpenLogicalChannelReject(3, OlcRejectCause.DATA_TYPE_NOT_SUPPORTED)]
    session2 = OpenLogicalChannel(4, ChannelParameters(AudioCodec.G711_ULAW, 20, 2))
    assert sent(gw.receive(session2, 0.0)) == [
        OpenLogicalChannelReject(4, OlcRejectCause.INVALID_SESSION_ID)]


def test_user_input_becomes_digits() -> None:
    gw = session()
    assert gw.receive(UserInputAlphanumeric("*35#x"), 0.0) == [
        DigitReceived("*", None, DigitSource.ALPHANUMERIC),
        DigitReceived("3", None, DigitSource.ALPHANUMERIC),
        DigitReceived("5", None, DigitSource.ALPHANUMERIC),
        DigitReceived("#", None, DigitSource.ALPHANUMERIC)]
    assert gw.receive(UserInputSignal("7", 120), 0.0) == [
        DigitReceived("7", 120, DigitSource.SIGNAL)]
    assert gw.receive(UserInputSignal("!"), 0.0) == []  # hookflash is no digit


def test_garbage_and_unknown_requests_get_function_not_supported() -> None:
    gw = session()
    assert sent(gw.receive(H245DecodeError("PER: truncated", b"\x02\x70"), 0.0)) == [
        FunctionNotSupported(FunctionNotSupportedCause.SYNTAX_ERROR, b"\x02\x70")]
    assert sent(gw.receive(OtherH245Message("request", "requestMode", b"\x0a"), 0.0)) == [
        FunctionNotSupported(FunctionNotSupportedCause.UNKNOWN_FUNCTION, b"\x0a")]
    assert gw.receive(OtherH245Message("indication", "jitterIndication", b"\x6a"), 0.0) == []
    assert sent(gw.receive(RoundTripDelayRequest(9), 0.0)) == [RoundTripDelayResponse(9)]


def test_peer_ending_first_is_answered_once() -> None:
    gw = session()
    assert gw.receive(EndSessionCommand(), 0.0) == [SendH245(EndSessionCommand()),
                                                    SessionEnded(by_peer=True)]
    assert gw.receive(EndSessionCommand(), 0.0) == []


# ------------------------------------------------------------------------- every state, every input

INPUTS: list[H245Message | H245DecodeError] = [
    phone_tcs(), phone_tcs(2, AudioCapability(1, AudioCodec.G711_ALAW, 10)),
    TerminalCapabilitySet(3), TerminalCapabilitySet(5, (), (((1,),),)),
    TerminalCapabilitySetAck(1), TerminalCapabilitySetAck(2),
    TerminalCapabilitySetReject(1), TerminalCapabilitySetRelease(),
    MasterSlaveDetermination(50, 3), MasterSlaveDetermination(60, 1),
    MasterSlaveDetermination(60, 0x800001), MasterSlaveDetermination(190, 9),
    MasterSlaveDeterminationAck(MsdDecision.MASTER), MasterSlaveDeterminationAck(MsdDecision.SLAVE),
    MasterSlaveDeterminationReject(), MasterSlaveDeterminationRelease(),
    OpenLogicalChannel(2, ChannelParameters(AudioCodec.G711_ULAW, 20, 1, None, PHONE_RTCP)),
    OpenLogicalChannel(3, ChannelParameters(AudioCodec.G711_ALAW, 20, 1, None, PHONE_RTCP)),
    OpenLogicalChannel(4, None, ChannelParameters(AudioCodec.G711_ALAW, 20, 1, PHONE_RTP)),
    OpenLogicalChannel(5, None, None, "videoData"),
    OpenLogicalChannelAck(1, PHONE_RTP, PHONE_RTCP), OpenLogicalChannelAck(1, None, None),
    OpenLogicalChannelAck(9, PHONE_RTP, None), OpenLogicalChannelReject(1),
    CloseLogicalChannel(1), CloseLogicalChannel(2), CloseLogicalChannelAck(1),
    RequestChannelClose(1), RequestChannelClose(8), RequestChannelCloseAck(1),
    RequestChannelCloseReject(1),
    RoundTripDelayRequest(1), RoundTripDelayResponse(1), EndSessionCommand(),
    UserInputAlphanumeric("12#"), UserInputSignal("5", 100), UserInputSignal("!"),
    FunctionNotSupported(FunctionNotSupportedCause.SEMANTIC_ERROR),
    OtherH245Message("request", "requestMode"), OtherH245Message("response", "requestModeAck"),
    OtherH245Message("command", "flowControlCommand"),
    OtherH245Message("indication", "vendorIdentification"),
    H245DecodeError("PER: junk", b"\xff"),
]
LONGEST_TIMER = 30.0


class EngineMachine(RuleBasedStateMachine):
    """Any order of inputs, starts, ends and clock steps: nothing raises, every answer encodes,
    timers are never in the past after handle_timer and never further than the longest timer."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = session(randoms=numbers(0x800001, 1, 2))
        self.now = 0.0

    def _check(self, actions: list[object]) -> None:
        for m in sent(actions):
            CODEC.decode(CODEC.encode(m))

    @rule(message=st.sampled_from(INPUTS))
    def receive(self, message: H245Message | H245DecodeError) -> None:
        self._check(self.engine.receive(message, self.now))

    @rule()
    def start(self) -> None:
        self._check(self.engine.start(self.now))

    @rule()
    def end(self) -> None:
        self._check(self.engine.end(self.now))

    @rule()
    def close(self) -> None:
        self._check(self.engine.close_channel(self.now))

    @rule(step=st.floats(min_value=0.0, max_value=40.0))
    def advance(self, step: float) -> None:
        self.now += step
        self._check(self.engine.handle_timer(self.now))
        timer = self.engine.next_timer()
        assert timer is None or timer > self.now

    @invariant()
    def timers_bounded(self) -> None:
        timer = self.engine.next_timer()
        assert timer is None or timer <= self.now + LONGEST_TIMER
        if self.engine.ended:
            assert timer is None


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(max_examples=150, stateful_step_count=40)


@given(st.lists(st.sampled_from(INPUTS), max_size=30))
def test_any_input_sequence_to_a_started_engine_never_raises(
        inputs: list[H245Message | H245DecodeError]) -> None:
    gw = session()
    gw.start(0.0)
    for n, message in enumerate(inputs):
        gw.receive(message, float(n))


def test_our_capabilities_are_consistent() -> None:
    tcs = our_capabilities(session().settings, 1)
    assert tcs.undefined_entries() == ()
    assert [type(c).__name__ for c in tcs.capabilities] == [
        "AudioCapability", "AudioCapability", "UserInputCapability", "UserInputCapability",
        "TelephonyEventCapability"]


def _signature(engine: H245Session) -> tuple[object, ...]:
    """What distinguishes one engine state from another, for the exhaustive walk below."""
    return (engine.msd_state, engine.msd_status, engine.channel_state, engine.ended,
            engine.peer_capabilities is not None, frozenset(engine._deadlines),
            engine._tcs_sequence, engine._tcs_acked, engine._end_sent,
            engine._receive is not None, engine._media_ready)


def test_every_reachable_state_with_every_input() -> None:
    """Breadth-first over the states the inputs (and start/end/close/timers) reach from a new
    engine: every state found gets every input; none raises, every answer encodes and decodes,
    and no timer is set further than the longest H.245 timer."""
    steps: list[tuple[str, H245Message | H245DecodeError | None]] = [
        ("receive", m) for m in INPUTS] + [("start", None), ("end", None), ("close", None),
                                            ("timer", None)]
    first = session(randoms=numbers(0x800001, 1, 2))
    seen = {_signature(first)}
    frontier = [first]
    applied = 0
    while frontier and len(seen) < 5000:
        next_frontier = []
        for engine in frontier:
            for kind, message in steps:
                e = copy.deepcopy(engine)
                now = 1.0
                if kind == "receive":
                    assert message is not None
                    actions = e.receive(message, now)
                elif kind == "start":
                    actions = e.start(now)
                elif kind == "end":
                    actions = e.end(now)
                elif kind == "close":
                    actions = e.close_channel(now)
                else:
                    actions = e.handle_timer(1000.0)
                applied += 1
                for m in sent(actions):
                    assert not isinstance(CODEC.decode(CODEC.encode(m)), H245DecodeError)
                timer = e.next_timer()
                assert timer is None or timer <= now + LONGEST_TIMER or kind == "timer"
                signature = _signature(e)
                if signature not in seen:
                    seen.add(signature)
                    next_frontier.append(e)
        frontier = next_frontier
    assert not frontier, f"more than 5000 states: {len(seen)}"
    assert applied == len(seen) * len(steps)  # every state found got every input
    assert len(seen) > 500  # 638 today: every MSD state with every channel state among them
