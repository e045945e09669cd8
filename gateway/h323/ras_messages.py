"""H.225.0 RAS messages as the gatekeeper sees them: frozen values, no ASN.1.

The requests carry only what the gatekeeper reads (`ras_codec` decodes the rest away); the
answers carry what it sends. Names follow H.225.0's ASN.1 (`RegistrationRequest`, reject
reasons as their ASN.1 identifiers) so a capture read in Wireshark maps onto them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# H.225.0 (12/2009) protocolIdentifier: itu-t(0) recommendation(0) h(8) 2250 version(0) 7
PROTOCOL_IDENTIFIER: tuple[int, ...] = (0, 0, 8, 2250, 0, 7)


class AliasKind(StrEnum):
    """The AliasAddress alternatives the gatekeeper understands (H.225.0 7.x AliasAddress)."""

    DIALLED_DIGITS = "dialledDigits"
    H323_ID = "h323-ID"
    URL_ID = "url-ID"
    EMAIL_ID = "email-ID"


@dataclass(frozen=True, slots=True)
class Alias:
    """One AliasAddress: an endpoint's name or number."""

    kind: AliasKind
    value: str


@dataclass(frozen=True, slots=True)
class TransportAddress:
    """An IPv4 TransportAddress (ipAddress): the only kind this gatekeeper registers."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class ClearToken:
    """An H.235 ClearToken, the fields the password procedures read (H.235.0 ClearToken)."""

    token_oid: tuple[int, ...]
    timestamp: int | None = None
    random: int | None = None
    general_id: str | None = None
    challenge: bytes | None = None
    password: str | None = None
    senders_id: str | None = None  # H.235.1 clause 14: who sends it (generalID: to whom)


@dataclass(frozen=True, slots=True)
class PwdHashToken:
    """An H.225.0 CryptoH323Token `cryptoEPPwdHash`: the hash (MD5 for algorithm 1.2.840.113549.2.5)
    of the PER-encoded ClearToken (alias, timestamp, password), H.235.0 10.3.3 / H.235.1."""

    alias: Alias
    timestamp: int
    algorithm_oid: tuple[int, ...]
    hash: bytes


@dataclass(frozen=True, slots=True)
class HashedToken:
    """A CryptoH323Token `nestedcryptoToken` carrying an H.235 `cryptoHashedToken`: H.235.1
    procedure I, an HMAC-SHA1-96 over the whole message (`hash`, 12 octets) with its clear
    values (`hashed_vals`: timestamp, random, sendersID, generalID)."""

    token_oid: tuple[int, ...]
    hashed_vals: ClearToken
    algorithm_oid: tuple[int, ...]
    hash: bytes


CryptoToken = PwdHashToken | HashedToken


# ---------------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class GatekeeperRequest:
    """GRQ (H.225.0 7.2): an endpoint looks for its gatekeeper."""

    seq: int
    ras_address: TransportAddress | None
    endpoint_aliases: tuple[Alias, ...] = ()
    gatekeeper_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """RRQ (H.225.0 7.3): a full registration, or a lightweight keep-alive (`keep_alive`)."""

    seq: int
    call_signal_addresses: tuple[TransportAddress, ...]
    ras_addresses: tuple[TransportAddress, ...]
    terminal_aliases: tuple[Alias, ...] = ()
    endpoint_type: str = "terminal"
    vendor: str = ""
    gatekeeper_identifier: str | None = None
    time_to_live: int | None = None
    keep_alive: bool = False
    endpoint_identifier: str | None = None
    tokens: tuple[ClearToken, ...] = ()
    crypto_tokens: tuple[CryptoToken, ...] = ()


@dataclass(frozen=True, slots=True)
class UnregistrationRequest:
    """URQ (H.225.0 7.6): an endpoint leaves."""

    seq: int
    call_signal_addresses: tuple[TransportAddress, ...]
    endpoint_aliases: tuple[Alias, ...] = ()
    endpoint_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """ARQ (H.225.0 7.8): may this endpoint place (or answer) this call?"""

    seq: int
    endpoint_identifier: str
    src_info: tuple[Alias, ...]
    bandwidth: int
    call_reference_value: int
    conference_id: bytes
    answer_call: bool = False
    destination_info: tuple[Alias, ...] = ()
    dest_call_signal_address: TransportAddress | None = None
    call_identifier: bytes | None = None
    tokens: tuple[ClearToken, ...] = ()


@dataclass(frozen=True, slots=True)
class BandwidthRequest:
    """BRQ (H.225.0 7.10): a call's bandwidth changes."""

    seq: int
    endpoint_identifier: str
    conference_id: bytes
    call_reference_value: int
    bandwidth: int
    call_identifier: bytes | None = None


@dataclass(frozen=True, slots=True)
class DisengageRequest:
    """DRQ (H.225.0 7.11): a call has ended."""

    seq: int
    endpoint_identifier: str
    conference_id: bytes
    call_reference_value: int
    call_identifier: bytes | None = None
    answered_call: bool = False


@dataclass(frozen=True, slots=True)
class LocationRequest:
    """LRQ (H.225.0 7.7): where is this alias? (This gatekeeper never says.)"""

    seq: int
    destination_info: tuple[Alias, ...]
    reply_address: TransportAddress | None
    endpoint_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class InfoRequestResponse:
    """IRR (H.225.0 7.15): an endpoint's status, asked for by IRQ or sent unsolicited."""

    seq: int
    endpoint_identifier: str
    ras_address: TransportAddress | None
    call_signal_addresses: tuple[TransportAddress, ...]
    endpoint_aliases: tuple[Alias, ...] = ()
    need_response: bool = False


@dataclass(frozen=True, slots=True)
class OtherRasMessage:
    """A RAS message that decodes but that a gatekeeper does not take (a GCF sent to us ...)."""

    seq: int | None
    name: str


RasRequest = (GatekeeperRequest | RegistrationRequest | UnregistrationRequest | AdmissionRequest
              | BandwidthRequest | DisengageRequest | LocationRequest | InfoRequestResponse
              | OtherRasMessage)


@dataclass(frozen=True, slots=True)
class RasDecodeError:
    """A datagram that is not a RAS message we can read: what is wrong with it, for the log,
    and, when its first octets still say so, which request it was and its requestSeqNum (so
    the gatekeeper can answer it with a reject, H.225.0 7.x)."""

    defect: str
    request: str | None = None  # the RasMessage alternative, as its ASN.1 identifier
    seq: int | None = None


# ------------------------------------------------------------------------------------ answers


class GatekeeperRejectReason(StrEnum):
    """GatekeeperRejectReason identifiers (H.225.0), the ones this gatekeeper gives."""

    TERMINAL_EXCLUDED = "terminalExcluded"
    UNDEFINED_REASON = "undefinedReason"
    SECURITY_DENIAL = "securityDenial"


class RegistrationRejectReason(StrEnum):
    """RegistrationRejectReason identifiers (H.225.0), the ones this gatekeeper gives."""

    DISCOVERY_REQUIRED = "discoveryRequired"
    INVALID_CALL_SIGNAL_ADDRESS = "invalidCallSignalAddress"
    INVALID_RAS_ADDRESS = "invalidRASAddress"
    UNDEFINED_REASON = "undefinedReason"
    SECURITY_DENIAL = "securityDenial"
    FULL_REGISTRATION_REQUIRED = "fullRegistrationRequired"


class UnregRejectReason(StrEnum):
    """UnregRejectReason identifiers (H.225.0)."""

    NOT_CURRENTLY_REGISTERED = "notCurrentlyRegistered"
    UNDEFINED_REASON = "undefinedReason"
    SECURITY_DENIAL = "securityDenial"


class AdmissionRejectReason(StrEnum):
    """AdmissionRejectReason identifiers (H.225.0), the ones this gatekeeper gives."""

    CALLER_NOT_REGISTERED = "callerNotRegistered"
    SECURITY_DENIAL = "securityDenial"
    UNDEFINED_REASON = "undefinedReason"


class LocationRejectReason(StrEnum):
    """LocationRejectReason identifiers (H.225.0)."""

    REQUEST_DENIED = "requestDenied"
    UNDEFINED_REASON = "undefinedReason"


class DisengageRejectReason(StrEnum):
    """DisengageRejectReason identifiers (H.225.0)."""

    NOT_REGISTERED = "notRegistered"


class BandRejectReason(StrEnum):
    """BandRejectReason identifiers (H.225.0)."""

    NOT_BOUND = "notBound"
    UNDEFINED_REASON = "undefinedReason"


@dataclass(frozen=True, slots=True)
class GatekeeperConfirm:
    """GCF: we are your gatekeeper, register at `ras_address`."""

    seq: int
    gatekeeper_identifier: str
    ras_address: TransportAddress


@dataclass(frozen=True, slots=True)
class GatekeeperReject:
    """GRJ."""

    seq: int
    gatekeeper_identifier: str
    reason: GatekeeperRejectReason


@dataclass(frozen=True, slots=True)
class RegistrationConfirm:
    """RCF: registered (or refreshed) as `endpoint_identifier` for `time_to_live` seconds."""

    seq: int
    call_signal_address: TransportAddress  # the gatekeeper's own: calls are gatekeeper-routed
    terminal_aliases: tuple[Alias, ...]
    gatekeeper_identifier: str
    endpoint_identifier: str
    time_to_live: int
    crypto_tokens: tuple[HashedToken, ...] = ()  # H.235.1 procedure I: the answer signed


@dataclass(frozen=True, slots=True)
class RegistrationReject:
    """RRJ."""

    seq: int
    reason: RegistrationRejectReason
    gatekeeper_identifier: str


@dataclass(frozen=True, slots=True)
class UnregistrationConfirm:
    """UCF."""

    seq: int


@dataclass(frozen=True, slots=True)
class UnregistrationReject:
    """URJ."""

    seq: int
    reason: UnregRejectReason


@dataclass(frozen=True, slots=True)
class AdmissionConfirm:
    """ACF, gatekeeper-routed: the call goes to `dest_call_signal_address`, ours."""

    seq: int
    bandwidth: int
    dest_call_signal_address: TransportAddress


@dataclass(frozen=True, slots=True)
class AdmissionReject:
    """ARJ."""

    seq: int
    reason: AdmissionRejectReason


@dataclass(frozen=True, slots=True)
class BandwidthConfirm:
    """BCF."""

    seq: int
    bandwidth: int


@dataclass(frozen=True, slots=True)
class BandwidthReject:
    """BRJ."""

    seq: int
    reason: BandRejectReason
    allowed_bandwidth: int = 0


@dataclass(frozen=True, slots=True)
class DisengageConfirm:
    """DCF."""

    seq: int


@dataclass(frozen=True, slots=True)
class DisengageReject:
    """DRJ."""

    seq: int
    reason: DisengageRejectReason


@dataclass(frozen=True, slots=True)
class LocationReject:
    """LRJ."""

    seq: int
    reason: LocationRejectReason


@dataclass(frozen=True, slots=True)
class InfoRequest:
    """IRQ: the gatekeeper asks an endpoint for an IRR (call reference 0: about all its calls)."""

    seq: int
    call_reference_value: int = 0


@dataclass(frozen=True, slots=True)
class InfoRequestAck:
    """IACK: the answer to an IRR that asked for one (needResponse)."""

    seq: int


@dataclass(frozen=True, slots=True)
class UnknownMessageResponse:
    """XRS (H.225.0 7.13): a RAS message we decoded but do not take."""

    seq: int
    message_not_understood: bytes


RasAnswer = (GatekeeperConfirm | GatekeeperReject | RegistrationConfirm | RegistrationReject
             | UnregistrationConfirm | UnregistrationReject | AdmissionConfirm | AdmissionReject
             | BandwidthConfirm | BandwidthReject | DisengageConfirm | DisengageReject
             | LocationReject | InfoRequest | InfoRequestAck | UnknownMessageResponse)
