"""H.245 messages the H.323 bridge sends or reads: frozen values, no ASN.1.

Names follow H.245's ASN.1 (MultimediaSystemControlMessage, v13) so a capture read in Wireshark
maps onto them. Only audio (G.711 64k), DTMF (userInputIndication, RFC 2833 telephony events)
and the procedures around them are modelled; `h245_codec` turns everything else that decodes
into an `OtherH245Message` naming it, and what does not decode into an `H245DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from acdgate.gateway.h323.ras_messages import TransportAddress

# H.245 protocolIdentifier: itu-t(0) recommendation(0) h(8) 245 version(0) 13
PROTOCOL_IDENTIFIER: tuple[int, ...] = (0, 0, 8, 245, 0, 13)

# RFC 2833/4733 events a DTMF capability names: 0-9 * # A-D and flash (H.245 AudioTelephonyEvent)
DTMF_EVENTS = "0-16"


class AudioCodec(StrEnum):
    """AudioCapability alternatives the bridge speaks (H.245 AudioCapability)."""

    G711_ULAW = "g711Ulaw64k"
    G711_ALAW = "g711Alaw64k"


class CapabilityDirection(StrEnum):
    """Which Capability alternative carries an audio capability (H.245 Capability)."""

    RECEIVE = "receiveAudioCapability"
    TRANSMIT = "transmitAudioCapability"
    RECEIVE_AND_TRANSMIT = "receiveAndTransmitAudioCapability"


class UserInputKind(StrEnum):
    """UserInputCapability alternatives (H.245 UserInputCapability, NULL ones)."""

    BASIC_STRING = "basicString"
    IA5_STRING = "iA5String"
    GENERAL_STRING = "generalString"
    DTMF = "dtmf"
    HOOKFLASH = "hookflash"
    EXTENDED_ALPHANUMERIC = "extendedAlphanumeric"


class TcsRejectCause(StrEnum):
    """TerminalCapabilitySetReject.cause (the NULL alternatives)."""

    UNSPECIFIED = "unspecified"
    UNDEFINED_TABLE_ENTRY_USED = "undefinedTableEntryUsed"
    DESCRIPTOR_CAPACITY_EXCEEDED = "descriptorCapacityExceeded"


class MsdDecision(StrEnum):
    """MasterSlaveDeterminationAck.decision: the status of the terminal the Ack is sent to."""

    MASTER = "master"
    SLAVE = "slave"


class OlcRejectCause(StrEnum):
    """OpenLogicalChannelReject.cause alternatives the bridge sends or reads."""

    UNSPECIFIED = "unspecified"
    UNSUITABLE_REVERSE_PARAMETERS = "unsuitableReverseParameters"
    DATA_TYPE_NOT_SUPPORTED = "dataTypeNotSupported"
    DATA_TYPE_NOT_AVAILABLE = "dataTypeNotAvailable"
    UNKNOWN_DATA_TYPE = "unknownDataType"
    DATA_TYPE_AL_COMBINATION_NOT_SUPPORTED = "dataTypeALCombinationNotSupported"
    INVALID_SESSION_ID = "invalidSessionID"
    MASTER_SLAVE_CONFLICT = "masterSlaveConflict"


class ChannelCloseSource(StrEnum):
    """CloseLogicalChannel.source: the user closed it, or the protocol entity (LCSE) did."""

    USER = "user"
    LCSE = "lcse"


class FunctionNotSupportedCause(StrEnum):
    """FunctionNotSupported.cause (an IndicationMessage)."""

    SYNTAX_ERROR = "syntaxError"
    SEMANTIC_ERROR = "semanticError"
    UNKNOWN_FUNCTION = "unknownFunction"


# ------------------------------------------------------------------------------ capabilities


@dataclass(frozen=True, slots=True)
class AudioCapability:
    """A G.711 entry of the capability table; `frames` is the most frames per packet (1-256)."""

    entry: int
    codec: AudioCodec
    frames: int
    direction: CapabilityDirection = CapabilityDirection.RECEIVE


@dataclass(frozen=True, slots=True)
class UserInputCapability:
    """receiveUserInputCapability: which userInputIndication forms the sender can read."""

    entry: int
    kind: UserInputKind


@dataclass(frozen=True, slots=True)
class TelephonyEventCapability:
    """receiveRTPAudioTelephonyEventCapability: RFC 2833 events in RTP on `payload_type`."""

    entry: int
    payload_type: int
    events: str = DTMF_EVENTS


Capability = AudioCapability | UserInputCapability | TelephonyEventCapability


# ------------------------------------------------------------------------------ requests/responses


@dataclass(frozen=True, slots=True)
class TerminalCapabilitySet:
    """terminalCapabilitySet (H.245 5.2, B.2).

    `capabilities` are the table entries we understand, in the sender's order; `other_entries`
    the numbers of the entries we do not (video, data, other codecs), so that `descriptors`
    (simultaneousCapabilities: descriptors of alternative sets of entry numbers) can be
    checked against the whole table. An empty set (no table) is H.323's "pause" TCS.
    """

    sequence_number: int
    capabilities: tuple[Capability, ...] = ()
    descriptors: tuple[tuple[tuple[int, ...], ...], ...] = ()
    other_entries: tuple[int, ...] = ()

    def undefined_entries(self) -> tuple[int, ...]:
        """Entry numbers the descriptors name that the table lacks (TCSReject's cause)."""
        known = {c.entry for c in self.capabilities} | set(self.other_entries)
        return tuple(sorted({n for d in self.descriptors for alt in d for n in alt} - known))


@dataclass(frozen=True, slots=True)
class TerminalCapabilitySetAck:
    """terminalCapabilitySetAck: the set with this sequence number was accepted."""

    sequence_number: int


@dataclass(frozen=True, slots=True)
class TerminalCapabilitySetReject:
    """terminalCapabilitySetReject: the set with this sequence number was refused."""

    sequence_number: int
    cause: TcsRejectCause = TcsRejectCause.UNSPECIFIED


@dataclass(frozen=True, slots=True)
class TerminalCapabilitySetRelease:
    """terminalCapabilitySetRelease (indication): T101 expired, the outgoing TCS is dropped."""


@dataclass(frozen=True, slots=True)
class MasterSlaveDetermination:
    """masterSlaveDetermination (H.245 5.1, B.1): terminal type, random number (0..2**24-1)."""

    terminal_type: int
    status_determination_number: int


@dataclass(frozen=True, slots=True)
class MasterSlaveDeterminationAck:
    """masterSlaveDeterminationAck: `decision` is the status of the terminal receiving it."""

    decision: MsdDecision


@dataclass(frozen=True, slots=True)
class MasterSlaveDeterminationReject:
    """masterSlaveDeterminationReject (identicalNumbers): the numbers could not decide."""


@dataclass(frozen=True, slots=True)
class MasterSlaveDeterminationRelease:
    """masterSlaveDeterminationRelease (indication): T106 expired, the procedure is dropped."""


@dataclass(frozen=True, slots=True)
class ChannelParameters:
    """One direction of an audio logical channel (dataType + H2250LogicalChannelParameters)."""

    codec: AudioCodec
    frames: int
    session_id: int = 1
    media_channel: TransportAddress | None = None
    media_control_channel: TransportAddress | None = None
    dynamic_payload_type: int | None = None


@dataclass(frozen=True, slots=True)
class OpenLogicalChannel:
    """openLogicalChannel (H.245 5.3); also a fastStart element (H.323 8.1.7).

    `forward` None is dataType nullData: the fastStart proposal of a channel the sender
    receives on, described by `reverse` (reverseLogicalChannelParameters). `unsupported`
    names a dataType or multiplex other than G.711 over H.225.0 (video, data, other codecs):
    such a channel decodes so that it can be refused (dataTypeNotSupported), not dropped.
    """

    number: int
    forward: ChannelParameters | None
    reverse: ChannelParameters | None = None
    unsupported: str | None = None


@dataclass(frozen=True, slots=True)
class OpenLogicalChannelAck:
    """openLogicalChannelAck: where the receiver of the channel wants RTP and RTCP."""

    number: int
    media_channel: TransportAddress | None
    media_control_channel: TransportAddress | None
    session_id: int | None = 1


@dataclass(frozen=True, slots=True)
class OpenLogicalChannelReject:
    """openLogicalChannelReject."""

    number: int
    cause: OlcRejectCause = OlcRejectCause.UNSPECIFIED


@dataclass(frozen=True, slots=True)
class CloseLogicalChannel:
    """closeLogicalChannel (H.245 5.3): the channel's sender closes it."""

    number: int
    source: ChannelCloseSource = ChannelCloseSource.USER


@dataclass(frozen=True, slots=True)
class CloseLogicalChannelAck:
    """closeLogicalChannelAck."""

    number: int


@dataclass(frozen=True, slots=True)
class RequestChannelClose:
    """requestChannelClose (H.245 5.4): the channel's receiver asks its sender to close it."""

    number: int


@dataclass(frozen=True, slots=True)
class RequestChannelCloseAck:
    """requestChannelCloseAck."""

    number: int


@dataclass(frozen=True, slots=True)
class RequestChannelCloseReject:
    """requestChannelCloseReject (cause unspecified): no such channel of ours to close."""

    number: int


@dataclass(frozen=True, slots=True)
class RoundTripDelayRequest:
    """roundTripDelayRequest (H.245 5.7): answered at once with the same sequence number."""

    sequence_number: int


@dataclass(frozen=True, slots=True)
class RoundTripDelayResponse:
    """roundTripDelayResponse."""

    sequence_number: int


@dataclass(frozen=True, slots=True)
class EndSessionCommand:
    """endSessionCommand (disconnect): the H.245 session ends (H.323 8.5)."""


@dataclass(frozen=True, slots=True)
class UserInputAlphanumeric:
    """userInputIndication alphanumeric: keys as text (basicString capability)."""

    text: str


@dataclass(frozen=True, slots=True)
class UserInputSignal:
    """userInputIndication signal: one key (0-9 # * A-D !) and its duration in ms (dtmf)."""

    signal_type: str
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class FunctionNotSupported:
    """functionNotSupported (indication): what we could not read or do, with the PDU's octets."""

    cause: FunctionNotSupportedCause
    returned_function: bytes | None = None


@dataclass(frozen=True, slots=True)
class OtherH245Message:
    """A PDU that decodes but that the bridge does not handle: its kind and alternative name.

    `kind` is request, response, command or indication (what decides whether it is answered);
    `data` the PDU's octets, returned in functionNotSupported.
    """

    kind: str
    name: str
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class H245DecodeError:
    """Octets that are not a MultimediaSystemControlMessage we can read, why, and the octets."""

    defect: str
    data: bytes = b""


H245Message = (
    TerminalCapabilitySet | TerminalCapabilitySetAck | TerminalCapabilitySetReject
    | TerminalCapabilitySetRelease | MasterSlaveDetermination | MasterSlaveDeterminationAck
    | MasterSlaveDeterminationReject | MasterSlaveDeterminationRelease | OpenLogicalChannel
    | OpenLogicalChannelAck | OpenLogicalChannelReject | CloseLogicalChannel
    | CloseLogicalChannelAck | RequestChannelClose | RequestChannelCloseAck
    | RequestChannelCloseReject
    | RoundTripDelayRequest | RoundTripDelayResponse | EndSessionCommand
    | UserInputAlphanumeric | UserInputSignal | FunctionNotSupported | OtherH245Message
)
