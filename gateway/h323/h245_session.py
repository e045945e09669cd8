"""The H.245 session engine of one H.323 call (sans-IO): capabilities, master/slave, audio.

Theory of operation. `start(now)` sends our TerminalCapabilitySet (T101 runs until its Ack)
and a MasterSlaveDetermination (T106). The peer's TCS is acknowledged, or rejected when its
descriptors name entries its table lacks. Master/slave determination follows H.245 C.2:
the larger terminalType is master, else the random statusDeterminationNumbers decide by
modulo-2**24 comparison; an indeterminate result (equal or opposite numbers) is retried with
a new number up to N100 = 3 times. Once our TCS is acknowledged, the peer's is known and the
MSD is decided, we open our transmit audio channel (OpenLogicalChannel, T103 until its Ack
gives the peer's RTP/RTCP addresses), G.711 mu-law preferred, then A-law. The peer's audio
channel is accepted with an Ack carrying our RTP/RTCP addresses. `MediaReady` goes up once
both directions are open. userInputIndication becomes `DigitReceived`; endSessionCommand
ends the session either way (H.323 8.5). A PDU that cannot be read gets functionNotSupported
(syntaxError), a request or command we do not handle functionNotSupported (unknownFunction);
nothing raises. Whether PDUs travel tunnelled in Q.931 or on their own TCP connection is the
edge's business: the engine only sees messages and `now`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from acdgate.gateway.h323.h245_events import (
    ChannelClosed,
    DigitReceived,
    DigitSource,
    H245Action,
    MediaReady,
    SendH245,
    SessionEnded,
    SessionFailed,
)
from acdgate.gateway.h323.h245_messages import (
    AudioCapability,
    AudioCodec,
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

N100 = 3  # H.245 C.2: MSD attempts before the status stays indeterminate
_MODULO = 1 << 24
_DIGITS = frozenset("0123456789*#ABCD")
_AUDIO_SESSION = 1  # H2250LogicalChannelParameters.sessionID: 1 is the audio session
_OUR_CHANNEL = 1


class MsdState(Enum):
    """H.245 C.2 MSDSE states."""

    IDLE = "idle"
    OUTGOING_AWAITING_RESPONSE = "outgoing awaiting response"
    INCOMING_AWAITING_RESPONSE = "incoming awaiting response"


class MsdStatus(Enum):
    """What master/slave determination decided."""

    INDETERMINATE = "indeterminate"
    MASTER = "master"
    SLAVE = "slave"


class ChannelState(Enum):
    """Our outgoing audio channel (H.245 C.4 LCSE, outgoing side)."""

    NONE = "none"
    AWAITING_ESTABLISHMENT = "awaiting establishment"
    ESTABLISHED = "established"
    AWAITING_RELEASE = "awaiting release"
    RELEASED = "released"


class Timer(Enum):
    """The H.245 timers the engine runs, by their H.245 names."""

    T101 = "T101"  # capability exchange: our TCS awaits its Ack
    T106 = "T106"  # master/slave determination awaits its answer
    T103 = "T103"  # our OpenLogicalChannel awaits its Ack


@dataclass(frozen=True, slots=True)
class H245Settings:
    """Our side of the session: where we receive RTP/RTCP, what we speak, the timers (s).

    terminal_type 60 is H.323's value for a gateway without MC, which a gateway
    that bridges to SIP is.
    """

    rtp: TransportAddress
    rtcp: TransportAddress
    codecs: tuple[AudioCodec, ...] = (AudioCodec.G711_ULAW, AudioCodec.G711_ALAW)
    frames: int = 20
    rfc2833_payload_type: int | None = 101
    terminal_type: int = 60
    t101: float = 30.0
    t106: float = 30.0
    t103: float = 30.0


def our_capabilities(settings: H245Settings, sequence_number: int) -> TerminalCapabilitySet:
    """Our TCS: G.711 (settings' order), user input basicString and dtmf, RFC 2833 events."""
    entries: list[AudioCapability | UserInputCapability | TelephonyEventCapability] = [
        AudioCapability(n, codec, settings.frames)
        for n, codec in enumerate(settings.codecs, start=1)]
    audio = tuple(c.entry for c in entries)
    for kind in (UserInputKind.BASIC_STRING, UserInputKind.DTMF):
        entries.append(UserInputCapability(len(entries) + 1, kind))
    if settings.rfc2833_payload_type is not None:
        entries.append(TelephonyEventCapability(len(entries) + 1, settings.rfc2833_payload_type))
    others = tuple((c.entry,) for c in entries[len(audio):])
    return TerminalCapabilitySet(sequence_number, tuple(entries), ((audio, *others),))


def msd_status(local_type: int, local_number: int, remote_type: int,
               remote_number: int) -> MsdStatus:
    """H.245 C.2: the larger terminalType is master; else the numbers, modulo 2**24."""
    if local_type != remote_type:
        return MsdStatus.MASTER if local_type > remote_type else MsdStatus.SLAVE
    diff = (remote_number - local_number) % _MODULO
    if diff in (0, _MODULO // 2):
        return MsdStatus.INDETERMINATE
    return MsdStatus.MASTER if diff < _MODULO // 2 else MsdStatus.SLAVE


class H245Session:
    """One call's H.245 session: `receive(message, now)` and timers in, actions out."""

    def __init__(self, settings: H245Settings, random_number: Callable[[], int]) -> None:
        """`random_number` gives statusDeterminationNumbers (0 .. 2**24-1; injected for tests)."""
        self.settings = settings
        self._random = random_number
        self._deadlines: dict[Timer, float] = {}
        self.ended = False
        self._end_sent = False
        # capability exchange (H.245 C.3)
        self._tcs_sequence = 0
        self._tcs_acked = False
        self.peer_capabilities: TerminalCapabilitySet | None = None
        # master/slave determination (H.245 C.2)
        self.msd_state = MsdState.IDLE
        self.msd_status = MsdStatus.INDETERMINATE
        self._msd_number: int | None = None
        self._msd_count = 0
        # our transmit channel and the peer's
        self.channel_state = ChannelState.NONE
        self._transmit: ChannelParameters | None = None
        self._remote_rtp: TransportAddress | None = None
        self._remote_rtcp: TransportAddress | None = None
        self._receive: tuple[int, AudioCodec] | None = None
        self._media_ready = False

    # ---------------------------------------------------------------- queries

    @property
    def rfc2833_payload_type(self) -> int | None:
        """The payload type of the peer's RFC 2833 telephony events, if its TCS offers them."""
        caps = self.peer_capabilities.capabilities if self.peer_capabilities else ()
        return next((c.payload_type for c in caps if isinstance(c, TelephonyEventCapability)),
                    None)

    def next_timer(self) -> float | None:
        """When `handle_timer` must next be called (None: no timer runs)."""
        return min(self._deadlines.values(), default=None)

    # ---------------------------------------------------------------- starting and ending

    def start(self, now: float) -> list[H245Action]:
        """Send our capabilities and start master/slave determination."""
        if self.ended or self._tcs_sequence:
            return []
        self._tcs_sequence = 1
        self._deadlines[Timer.T101] = now + self.settings.t101
        actions: list[H245Action] = [SendH245(our_capabilities(self.settings, 1))]
        if self.msd_state is MsdState.IDLE and self.msd_status is MsdStatus.INDETERMINATE:
            actions += self._send_msd(now)
        return actions

    def end(self, now: float) -> list[H245Action]:
        """End the session (endSessionCommand); `SessionEnded` comes with the peer's answer."""
        if self._end_sent or self.ended:
            return []
        self._end_sent = True
        self._deadlines.clear()
        return [SendH245(EndSessionCommand())]

    def close_channel(self, now: float) -> list[H245Action]:
        """Close our transmit channel (CloseLogicalChannel, source user)."""
        if self.ended or self.channel_state not in (ChannelState.AWAITING_ESTABLISHMENT,
                                                    ChannelState.ESTABLISHED):
            return []
        self.channel_state = ChannelState.AWAITING_RELEASE
        self._deadlines.pop(Timer.T103, None)
        return [SendH245(CloseLogicalChannel(_OUR_CHANNEL, ChannelCloseSource.USER)),
                ChannelClosed(_OUR_CHANNEL, ours=True)]

    # ---------------------------------------------------------------- input

    def receive(self, message: H245Message | H245DecodeError, now: float) -> list[H245Action]:
        """Everything the peer sends goes through here; the answer is a list of actions."""
        if self.ended:
            return []
        match message:
            case H245DecodeError():
                # functionNotSupported (syntaxError): what we could not read goes back to its sender
                return [SendH245(FunctionNotSupported(FunctionNotSupportedCause.SYNTAX_ERROR,
                                                      message.data or None))]
            case TerminalCapabilitySet():
                return self._on_tcs(message, now)
            case TerminalCapabilitySetAck():
                if message.sequence_number == self._tcs_sequence and not self._tcs_acked:
                    self._tcs_acked = True
                    self._deadlines.pop(Timer.T101, None)
                    return self._open_when_ready(now)
                return []
            case TerminalCapabilitySetReject():
                if message.sequence_number == self._tcs_sequence and not self._tcs_acked:
                    self._deadlines.pop(Timer.T101, None)
                    return [SessionFailed(f"our capabilities were rejected: {message.cause}")]
                return []
            case MasterSlaveDetermination():
                return self._on_msd(message, now)
            case MasterSlaveDeterminationAck():
                return self._on_msd_ack(message, now)
            case MasterSlaveDeterminationReject():
                return self._on_msd_reject(now)
            case MasterSlaveDeterminationRelease():
                if self.msd_state is MsdState.IDLE:
                    return []
                return self._msd_failed("the peer released master/slave determination")
            case OpenLogicalChannel():
                return self._on_olc(message)
            case OpenLogicalChannelAck():
                return self._on_olc_ack(message)
            case OpenLogicalChannelReject():
                if (message.number == _OUR_CHANNEL
                        and self.channel_state is ChannelState.AWAITING_ESTABLISHMENT):
                    self.channel_state = ChannelState.RELEASED
                    self._deadlines.pop(Timer.T103, None)
                    return [SessionFailed(f"our audio channel was rejected: {message.cause}")]
                return []
            case CloseLogicalChannel():
                # H.245 C.4: a close is acknowledged even for a channel already gone
                actions: list[H245Action] = [SendH245(CloseLogicalChannelAck(message.number))]
                if self._receive is not None and self._receive[0] == message.number:
                    self._receive = None
                    actions.append(ChannelClosed(message.number, ours=False))
                return actions
            case CloseLogicalChannelAck():
                if (message.number == _OUR_CHANNEL
                        and self.channel_state is ChannelState.AWAITING_RELEASE):
                    self.channel_state = ChannelState.RELEASED
                return []
            case RequestChannelClose():
                if message.number != _OUR_CHANNEL or self.channel_state not in (
                        ChannelState.AWAITING_ESTABLISHMENT, ChannelState.ESTABLISHED):
                    # H.245 5.4: a close request for a channel we do not send on is refused
                    return [SendH245(RequestChannelCloseReject(message.number))]
                return [SendH245(RequestChannelCloseAck(message.number)),
                        *self.close_channel(now)]
            case RoundTripDelayRequest():
                return [SendH245(RoundTripDelayResponse(message.sequence_number))]
            case EndSessionCommand():
                self.ended = True
                self._deadlines.clear()
                reply: list[H245Action] = ([] if self._end_sent
                                           else [SendH245(EndSessionCommand())])
                return [*reply, SessionEnded(by_peer=not self._end_sent)]
            case UserInputAlphanumeric():
                return [DigitReceived(ch, None, DigitSource.ALPHANUMERIC)
                        for ch in message.text.upper() if ch in _DIGITS]
            case UserInputSignal():
                if message.signal_type.upper() not in _DIGITS:
                    return []
                return [DigitReceived(message.signal_type.upper(), message.duration,
                                      DigitSource.SIGNAL)]
            case OtherH245Message():
                if message.kind in ("request", "command"):
                    return [SendH245(FunctionNotSupported(
                        FunctionNotSupportedCause.UNKNOWN_FUNCTION, message.data or None))]
                return []
        # responses and indications with nothing to do (RoundTripDelayResponse,
        # RequestChannelCloseAck, TerminalCapabilitySetRelease, FunctionNotSupported)
        return []

    def handle_timer(self, now: float) -> list[H245Action]:
        """Run the timers that are due; each says what its expiry does (H.245 C.2, C.3, C.4)."""
        actions: list[H245Action] = []
        for timer, deadline in sorted(self._deadlines.items(), key=lambda kv: kv[1]):
            if deadline > now or timer not in self._deadlines:
                continue
            del self._deadlines[timer]
            if timer is Timer.T101:
                # H.245 C.3: T101 expiry: TerminalCapabilitySetRelease, error to the user
                actions += [SendH245(TerminalCapabilitySetRelease()),
                            SessionFailed("T101: our capabilities were not acknowledged")]
            elif timer is Timer.T106:
                # H.245 C.2: T106 expiry: MasterSlaveDeterminationRelease when we asked
                if self.msd_state is MsdState.OUTGOING_AWAITING_RESPONSE:
                    actions.append(SendH245(MasterSlaveDeterminationRelease()))
                actions += self._msd_failed("T106: master/slave determination got no answer")
            else:
                # H.245 C.4: T103 expiry: CloseLogicalChannel, error to the user
                self.channel_state = ChannelState.RELEASED
                actions += [SendH245(CloseLogicalChannel(_OUR_CHANNEL, ChannelCloseSource.LCSE)),
                            SessionFailed("T103: our audio channel was not acknowledged")]
        return actions

    # ---------------------------------------------------------------- capability exchange

    def _on_tcs(self, tcs: TerminalCapabilitySet, now: float) -> list[H245Action]:
        if tcs.undefined_entries():
            # H.245 C.3: a set whose descriptors name absent entries is refused
            return [SendH245(TerminalCapabilitySetReject(
                tcs.sequence_number, TcsRejectCause.UNDEFINED_TABLE_ENTRY_USED))]
        actions: list[H245Action] = [SendH245(TerminalCapabilitySetAck(tcs.sequence_number))]
        if tcs.capabilities or tcs.other_entries:  # an empty set is H.323's pause: kept as is
            self.peer_capabilities = tcs
            actions += self._open_when_ready(now)
        return actions

    # ---------------------------------------------------------------- master/slave (H.245 C.2)

    def _send_msd(self, now: float) -> list[H245Action]:
        self._msd_number = self._random() % _MODULO
        self.msd_state = MsdState.OUTGOING_AWAITING_RESPONSE
        self._deadlines[Timer.T106] = now + self.settings.t106
        return [SendH245(MasterSlaveDetermination(self.settings.terminal_type, self._msd_number))]

    def _decided(self, status: MsdStatus, now: float) -> list[H245Action]:
        self.msd_status = status
        self.msd_state = MsdState.IDLE
        self._deadlines.pop(Timer.T106, None)
        return self._open_when_ready(now)

    def _msd_failed(self, reason: str) -> list[H245Action]:
        self.msd_state = MsdState.IDLE
        self.msd_status = MsdStatus.INDETERMINATE
        self._deadlines.pop(Timer.T106, None)
        return [SessionFailed(reason)]

    def _retry_msd(self, now: float) -> list[H245Action]:
        self._msd_count += 1
        if self._msd_count >= N100:
            return self._msd_failed(f"master/slave determination indeterminate after {N100} tries")
        return self._send_msd(now)

    def _on_msd(self, msd: MasterSlaveDetermination, now: float) -> list[H245Action]:
        if self.msd_state is MsdState.INCOMING_AWAITING_RESPONSE:
            return self._msd_failed("a second MasterSlaveDetermination before our Ack's answer")
        if self._msd_number is None:
            self._msd_number = self._random() % _MODULO
        status = msd_status(self.settings.terminal_type, self._msd_number,
                            msd.terminal_type, msd.status_determination_number)
        if status is MsdStatus.INDETERMINATE:
            if self.msd_state is MsdState.OUTGOING_AWAITING_RESPONSE:
                return self._retry_msd(now)
            return [SendH245(MasterSlaveDeterminationReject())]
        self.msd_status = status
        self.msd_state = MsdState.INCOMING_AWAITING_RESPONSE
        self._deadlines[Timer.T106] = now + self.settings.t106
        # the Ack's decision is the status of the terminal it goes to: the peer's
        peer = MsdDecision.SLAVE if status is MsdStatus.MASTER else MsdDecision.MASTER
        return [SendH245(MasterSlaveDeterminationAck(peer))]

    def _on_msd_ack(self, ack: MasterSlaveDeterminationAck, now: float) -> list[H245Action]:
        ours = MsdStatus.MASTER if ack.decision is MsdDecision.MASTER else MsdStatus.SLAVE
        if self.msd_state is MsdState.OUTGOING_AWAITING_RESPONSE:
            peer = MsdDecision.SLAVE if ours is MsdStatus.MASTER else MsdDecision.MASTER
            return [SendH245(MasterSlaveDeterminationAck(peer)), *self._decided(ours, now)]
        if self.msd_state is MsdState.INCOMING_AWAITING_RESPONSE:
            if ours is not self.msd_status:
                return self._msd_failed("the peer's Ack contradicts the determination")
            return self._decided(ours, now)
        return []

    def _on_msd_reject(self, now: float) -> list[H245Action]:
        if self.msd_state is MsdState.OUTGOING_AWAITING_RESPONSE:
            return self._retry_msd(now)
        if self.msd_state is MsdState.INCOMING_AWAITING_RESPONSE:
            return self._msd_failed("the peer rejected our master/slave Ack")
        return []

    # ---------------------------------------------------------------- logical channels (C.4)

    def _open_when_ready(self, now: float) -> list[H245Action]:
        """Open our transmit channel once capabilities and master/slave are settled."""
        if (self.channel_state is not ChannelState.NONE or not self._tcs_acked
                or self.peer_capabilities is None or self.msd_status is MsdStatus.INDETERMINATE
                or self._end_sent):
            return []
        receivable = {c.codec: c.frames for c in self.peer_capabilities.capabilities
                      if isinstance(c, AudioCapability)
                      and c.direction is not CapabilityDirection.TRANSMIT}
        codec = next((c for c in self.settings.codecs if c in receivable), None)
        if codec is None:
            self.channel_state = ChannelState.RELEASED
            return [SessionFailed("no common audio codec: the peer receives no G.711")]
        self._transmit = ChannelParameters(codec, min(self.settings.frames, receivable[codec]),
                                           _AUDIO_SESSION,
                                           media_control_channel=self.settings.rtcp)
        self.channel_state = ChannelState.AWAITING_ESTABLISHMENT
        self._deadlines[Timer.T103] = now + self.settings.t103
        return [SendH245(OpenLogicalChannel(_OUR_CHANNEL, self._transmit))]

    def _on_olc(self, olc: OpenLogicalChannel) -> list[H245Action]:
        forward = olc.forward
        cause: OlcRejectCause | None = None
        if olc.unsupported is not None or forward is None:
            cause = OlcRejectCause.DATA_TYPE_NOT_SUPPORTED
        elif forward.session_id != _AUDIO_SESSION:
            cause = OlcRejectCause.INVALID_SESSION_ID
        elif forward.codec not in self.settings.codecs:
            cause = OlcRejectCause.DATA_TYPE_NOT_SUPPORTED
        elif olc.reverse is not None:
            cause = OlcRejectCause.UNSUITABLE_REVERSE_PARAMETERS  # no bidirectional audio
        elif self._receive is not None and self._receive[0] != olc.number:
            cause = OlcRejectCause.DATA_TYPE_AL_COMBINATION_NOT_SUPPORTED  # one audio channel
        if cause is not None or forward is None:
            return [SendH245(OpenLogicalChannelReject(olc.number, cause
                                                      or OlcRejectCause.UNSPECIFIED))]
        self._receive = (olc.number, forward.codec)
        if self._remote_rtcp is None:
            self._remote_rtcp = forward.media_control_channel
        return [SendH245(OpenLogicalChannelAck(olc.number, self.settings.rtp, self.settings.rtcp,
                                               _AUDIO_SESSION)),
                *self._media_when_ready()]

    def _on_olc_ack(self, ack: OpenLogicalChannelAck) -> list[H245Action]:
        if (ack.number != _OUR_CHANNEL
                or self.channel_state is not ChannelState.AWAITING_ESTABLISHMENT):
            return []
        self._deadlines.pop(Timer.T103, None)
        if ack.media_channel is None:
            # an Ack without mediaChannel does not say where our RTP goes: close again
            self.channel_state = ChannelState.AWAITING_RELEASE
            return [SendH245(CloseLogicalChannel(_OUR_CHANNEL, ChannelCloseSource.LCSE)),
                    SessionFailed("the peer's OpenLogicalChannelAck has no mediaChannel")]
        self.channel_state = ChannelState.ESTABLISHED
        self._remote_rtp = ack.media_channel
        if ack.media_control_channel is not None:
            self._remote_rtcp = ack.media_control_channel
        return self._media_when_ready()

    def _media_when_ready(self) -> list[H245Action]:
        if (self._media_ready or self.channel_state is not ChannelState.ESTABLISHED
                or self._receive is None or self._transmit is None or self._remote_rtp is None):
            return []
        self._media_ready = True
        return [MediaReady(self._transmit.codec, self._remote_rtp, self._remote_rtcp,
                           self._receive[1], self.rfc2833_payload_type)]
