"""H.225.0 call signalling messages (Q.931 with an H.323-UserInformation UUIE) as values.

One frozen dataclass per Q.931 message the bridge sends or reads, holding the Q.931
information elements and the UUIE fields the engine uses; `cs_codec` turns bytes into these
and back, `call_signalling` runs the Q.931 call states on them. Field names follow
H.225.0's ASN.1 (`fastStart`, `h245Tunnelling`) so a capture read in Wireshark maps onto them.
Tunnelled H.245 PDUs and fastStart proposals stay encoded (`bytes`, one OpenLogicalChannel
or MultimediaSystemControlMessage each): the H.245 codec reads them, not this layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from acdgate.gateway.h323.ras_messages import Alias, TransportAddress

# H.225.0 (12/2009) protocolIdentifier: itu-t(0) recommendation(0) h(8) 2250 version(0) 7
CS_PROTOCOL_IDENTIFIER: tuple[int, ...] = (0, 0, 8, 2250, 0, 7)

# H.225.0 7.6: the well-known call signalling port
CALL_SIGNALLING_PORT = 1720


class MessageType(IntEnum):
    """Q.931 4.4 message type codes used by H.225.0 (H.225.0 7.3 lists the mandatory ones)."""

    ALERTING = 0x01
    CALL_PROCEEDING = 0x02
    PROGRESS = 0x03
    SETUP = 0x05
    CONNECT = 0x07
    SETUP_ACKNOWLEDGE = 0x0D
    RELEASE_COMPLETE = 0x5A
    FACILITY = 0x62
    NOTIFY = 0x6E
    STATUS_ENQUIRY = 0x75
    INFORMATION = 0x7B
    STATUS = 0x7D


class Cause(IntEnum):
    """Q.850 cause values the bridge sends or maps (Q.850 Table 1)."""

    UNALLOCATED_NUMBER = 1
    NORMAL_CALL_CLEARING = 16
    USER_BUSY = 17
    NO_USER_RESPONDING = 18
    NO_ANSWER = 19
    CALL_REJECTED = 21
    DESTINATION_OUT_OF_ORDER = 27
    INVALID_NUMBER_FORMAT = 28
    RESPONSE_TO_STATUS_ENQUIRY = 30
    NORMAL_UNSPECIFIED = 31
    NO_CIRCUIT_AVAILABLE = 34
    TEMPORARY_FAILURE = 41
    SWITCHING_EQUIPMENT_CONGESTION = 42
    RESOURCE_UNAVAILABLE = 47
    BEARER_CAPABILITY_NOT_IMPLEMENTED = 65
    INVALID_CALL_REFERENCE = 81
    INCOMPATIBLE_DESTINATION = 88
    INVALID_MESSAGE = 95
    MANDATORY_IE_MISSING = 96
    MESSAGE_TYPE_NONEXISTENT = 97
    MESSAGE_NOT_COMPATIBLE_WITH_STATE = 98
    IE_NONEXISTENT = 99
    INVALID_IE_CONTENTS = 100
    MESSAGE_NOT_COMPATIBLE_WITH_CALL_STATE = 101
    RECOVERY_ON_TIMER_EXPIRY = 102
    PROTOCOL_ERROR = 111
    INTERWORKING = 127


class CallState(IntEnum):
    """Q.931 4.5.7 call state values, as a Status message reports them."""

    NULL = 0
    CALL_INITIATED = 1
    OVERLAP_SENDING = 2
    OUTGOING_CALL_PROCEEDING = 3
    CALL_DELIVERED = 4
    CALL_PRESENT = 6
    CALL_RECEIVED = 7
    CONNECT_REQUEST = 8
    INCOMING_CALL_PROCEEDING = 9
    ACTIVE = 10
    DISCONNECT_REQUEST = 11
    DISCONNECT_INDICATION = 12
    RELEASE_REQUEST = 19
    OVERLAP_RECEIVING = 25


class TransferCapability(IntEnum):
    """Q.931 4.5.5 information transfer capability, the Bearer capability IE's octet 3."""

    SPEECH = 0x00
    UNRESTRICTED_DIGITAL = 0x08  # what H.323 endpoints send (H.225.0 7.2.2.1: 88 93 a5)
    RESTRICTED_DIGITAL = 0x09
    AUDIO_3_1_KHZ = 0x10
    UNRESTRICTED_DIGITAL_WITH_TONES = 0x11
    VIDEO = 0x18


class Presentation(IntEnum):
    """Q.931 4.5.10 presentation indicator of the Calling party number (octet 3a)."""

    ALLOWED = 0
    RESTRICTED = 1
    NOT_AVAILABLE = 2


class Screening(IntEnum):
    """Q.931 4.5.10 screening indicator of the Calling party number (octet 3a)."""

    USER_PROVIDED_NOT_SCREENED = 0
    USER_PROVIDED_VERIFIED_PASSED = 1
    USER_PROVIDED_VERIFIED_FAILED = 2
    NETWORK_PROVIDED = 3


class ReleaseCompleteReason(StrEnum):
    """H.225.0 ReleaseCompleteReason alternatives the bridge sends or maps (ASN.1 names)."""

    NO_BANDWIDTH = "noBandwidth"
    GATEKEEPER_RESOURCES = "gatekeeperResources"
    UNREACHABLE_DESTINATION = "unreachableDestination"
    DESTINATION_REJECTION = "destinationRejection"
    INVALID_REVISION = "invalidRevision"
    NO_PERMISSION = "noPermission"
    UNREACHABLE_GATEKEEPER = "unreachableGatekeeper"
    GATEWAY_RESOURCES = "gatewayResources"
    BAD_FORMAT_ADDRESS = "badFormatAddress"
    ADAPTIVE_BUSY = "adaptiveBusy"
    IN_CONF = "inConf"
    UNDEFINED_REASON = "undefinedReason"
    FACILITY_CALL_DEFLECTION = "facilityCallDeflection"
    SECURITY_DENIED = "securityDenied"
    CALLED_PARTY_NOT_REGISTERED = "calledPartyNotRegistered"
    CALLER_NOT_REGISTERED = "callerNotRegistered"


class FacilityReason(StrEnum):
    """H.225.0 FacilityReason alternatives the bridge uses (ASN.1 names)."""

    ROUTE_CALL_TO_GATEKEEPER = "routeCallToGatekeeper"
    CALL_FORWARDED = "callForwarded"
    ROUTE_CALL_TO_MC = "routeCallToMC"
    UNDEFINED_REASON = "undefinedReason"
    CONFERENCE_LIST_CHOICE = "conferenceListChoice"
    START_H245 = "startH245"
    NO_H245 = "noH245"
    NEW_TOKENS = "newTokens"
    FEATURE_SET_UPDATE = "featureSetUpdate"
    FORWARDED_ELEMENTS = "forwardedElements"
    TRANSPORTED_INFORMATION = "transportedInformation"


@dataclass(frozen=True, slots=True)
class H245Tunnel:
    """The H323-UU-PDU fields that carry H.245 inside call signalling (H.225.0 7.4, H.323 8.2.1).

    `tunnelling` is the h245Tunnelling flag the sender sets on every message while it
    tunnels; `control` holds the tunnelled MultimediaSystemControlMessage PDUs, encoded.
    """

    tunnelling: bool = False
    control: tuple[bytes, ...] = ()


NO_TUNNEL = H245Tunnel()


@dataclass(frozen=True, slots=True)
class Setup:
    """Setup (Q.931 3.1.14, H.225.0 7.3.1 Setup-UUIE): a call offered by the sender.

    Digits dialled en bloc arrive in `called_number` (Called party number IE) or as
    dialledDigits in `destination_aliases`; `can_overlap_send` says more may follow in
    Information messages (Keypad IE).
    """

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    conference_id: bytes
    source_aliases: tuple[Alias, ...] = ()
    destination_aliases: tuple[Alias, ...] = ()
    calling_number: str | None = None
    called_number: str | None = None
    display: str | None = None
    source_call_signal_address: TransportAddress | None = None
    dest_call_signal_address: TransportAddress | None = None
    h245_address: TransportAddress | None = None
    endpoint_identifier: str | None = None
    source_endpoint_type: str = "terminal"
    vendor: str = ""
    fast_start: tuple[bytes, ...] = ()
    media_wait_for_connect: bool = False
    can_overlap_send: bool = False
    multiple_calls: bool = False  # multipleCalls: the sender takes several calls per connection
    maintain_connection: bool = False  # maintainConnection: it keeps the connection open with no call
    h245: H245Tunnel = NO_TUNNEL
    # Bearer capability IE (mandatory in a Setup, H.225.0 7.3.1) and the Calling party
    # number's octet 3a (Q.931 4.5.10; without one it means allowed, not screened)
    bearer_capability: TransferCapability = TransferCapability.UNRESTRICTED_DIGITAL
    calling_presentation: Presentation = Presentation.ALLOWED
    calling_screening: Screening = Screening.USER_PROVIDED_NOT_SCREENED


@dataclass(frozen=True, slots=True)
class SetupAcknowledge:
    """Setup Acknowledge (Q.931 3.1.15, H.225.0 SetupAcknowledge-UUIE): send more digits.

    The answer to a Setup with `can_overlap_send` whose number is incomplete: the caller
    sends the rest in Information messages (Keypad or Called party number IE).
    """

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class CallProceeding:
    """Call Proceeding (Q.931 3.1.2, H.225.0 CallProceeding-UUIE): Setup received, no more digits."""

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    h245_address: TransportAddress | None = None
    fast_start: tuple[bytes, ...] = ()
    fast_connect_refused: bool = False
    multiple_calls: bool = False  # multipleCalls: the sender takes several calls per connection
    maintain_connection: bool = False  # maintainConnection: it keeps the connection open with no call
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class Alerting:
    """Alerting (Q.931 3.1.1, H.225.0 Alerting-UUIE): the called user is being rung."""

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    h245_address: TransportAddress | None = None
    fast_start: tuple[bytes, ...] = ()
    fast_connect_refused: bool = False
    display: str | None = None
    multiple_calls: bool = False  # multipleCalls: the sender takes several calls per connection
    maintain_connection: bool = False  # maintainConnection: it keeps the connection open with no call
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class Progress:
    """Progress (Q.931 3.1.11, H.225.0 Progress-UUIE): in-band information, early media."""

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    progress_description: int | None = None
    h245_address: TransportAddress | None = None
    fast_start: tuple[bytes, ...] = ()
    multiple_calls: bool = False  # multipleCalls: the sender takes several calls per connection
    maintain_connection: bool = False  # maintainConnection: it keeps the connection open with no call
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class Connect:
    """Connect (Q.931 3.1.3, H.225.0 Connect-UUIE): the called user answered."""

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    conference_id: bytes
    h245_address: TransportAddress | None = None
    fast_start: tuple[bytes, ...] = ()
    fast_connect_refused: bool = False
    connected_aliases: tuple[Alias, ...] = ()
    display: str | None = None
    vendor: str = ""
    multiple_calls: bool = False  # multipleCalls: the sender takes several calls per connection
    maintain_connection: bool = False  # maintainConnection: it keeps the connection open with no call
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class ReleaseComplete:
    """Release Complete (Q.931 3.1.9, H.225.0 ReleaseComplete-UUIE): the call is over.

    `cause` is the Q.931 Cause IE (Q.850 value); `reason` the UUIE's ReleaseCompleteReason.
    At least one of them is present (H.225.0 7.3.8 wants the Cause IE when the UUIE has none).
    """

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    cause: int | None = None
    reason: ReleaseCompleteReason | None = None
    display: str | None = None
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class Facility:
    """Facility (Q.931 3.1.8, H.225.0 Facility-UUIE): tunnelled H.245, startH245, fastStart late.

    A Facility whose h323-message-body is `empty` (H.225.0 7.4.2) has `reason` None and
    exists only to carry `h245.control`.
    """

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    reason: FacilityReason | None = None
    h245_address: TransportAddress | None = None
    fast_start: tuple[bytes, ...] = ()
    multiple_calls: bool = False  # multipleCalls: the sender takes several calls per connection
    maintain_connection: bool = False  # maintainConnection: it keeps the connection open with no call
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class Information:
    """Information (Q.931 3.1.6, H.225.0 Information-UUIE): overlap digits in the Keypad IE."""

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    keypad: str | None = None
    called_number: str | None = None
    display: str | None = None
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class Notify:
    """Notify (Q.931 3.1.10, H.225.0 Notify-UUIE): carried for completeness, no action taken."""

    call_reference: int
    from_originator: bool
    call_identifier: bytes
    display: str | None = None
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class StatusEnquiry:
    """Status Enquiry (Q.931 3.1.17): the peer asks which state we think the call is in."""

    call_reference: int
    from_originator: bool
    call_identifier: bytes = b""
    h245: H245Tunnel = NO_TUNNEL


@dataclass(frozen=True, slots=True)
class Status:
    """Status (Q.931 3.1.16): our call state and the cause of sending it (Q.931 5.8.10)."""

    call_reference: int
    from_originator: bool
    cause: int
    call_state: CallState
    call_identifier: bytes = b""
    h245: H245Tunnel = NO_TUNNEL


CallSignal = (Setup | SetupAcknowledge | CallProceeding | Alerting | Progress | Connect
              | ReleaseComplete | Facility | Information | Notify | StatusEnquiry | Status)


@dataclass(frozen=True, slots=True)
class CallSignalDecodeError:
    """A TPKT payload that is not a usable H.225.0 message, and why (never an exception).

    `call_reference`/`from_originator` are set when the Q.931 header decoded, so the engine
    can answer on that call (Release Complete or Status with `cause`, Q.931 5.8); `defect`
    names what was wrong for the log line.
    """

    defect: str
    cause: Cause
    call_reference: int | None = None
    from_originator: bool = False
    message_type: int | None = None
