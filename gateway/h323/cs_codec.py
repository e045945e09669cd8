"""H.225.0 call signalling: Q.931 with an H323-UserInformation UUIE <-> `cs_messages` values.

Theory of operation: `decode` takes one TPKT payload (`tpkt.TpktReader` found it), reads the
Q.931 header and IEs (`q931`), then the User-user IE's aligned PER through pycrate's compiled
H225 module (one reused object, as `ras_codec` does), and builds the message's dataclass.
Everything in the payload is untrusted: each defect becomes a `CallSignalDecodeError` carrying
the Q.850 cause the call engine answers with (Q.931 5.8) and, once the header read, the call
reference to answer on; nothing raises out of `decode`. The causes:

- 95 invalid message: not a Q.931 message (discriminator, call reference length, an IE running
  past the end);
- 97 message type non-existent or not implemented: a type H.225.0 does not use or we do not;
- 96 mandatory IE missing: no User-user IE where H.225.0 7.3 wants one, no Bearer capability
  in a Setup, no Cause or Call state in a Status;
- 100 invalid IE contents: a mandatory IE that does not read, PER that does not decode, an
  h323-message-body alternative we do not know (a CHOICE extension) or that is not the Q.931
  message type's.

An optional IE that does not read is dropped (Q.931 5.8.7.2) and unknown IEs are skipped.
`encode` writes a message as the bridge sends it; a value it cannot encode is our bug and
raises. pycrate 0.8.1's aligned-PER open-type bug bites UUIEs as it bites RAS (every UUIE
field past H.225.0 v1 is a SEQUENCE extension addition), so encoding goes through
`ras_codec._aper_fixed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acdgate.gateway.h323 import q931
from acdgate.gateway.h323.cs_messages import (
    CS_PROTOCOL_IDENTIFIER,
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
    Screening,
    Setup,
    SetupAcknowledge,
    Status,
    StatusEnquiry,
    TransferCapability,
)
from acdgate.gateway.h323.q931 import Ie, InvalidIe, Q931Defect, Q931Message
from acdgate.gateway.h323.ras_codec import (
    _DECODE_ERRORS,
    _aliases,
    _aper_fixed,
    _transport,
    _vendor,
    _w_aliases,
    _w_transport,
    _w_vendor,
)
from acdgate.gateway.h323.ras_messages import TransportAddress
from pycrate_asn1dir import H225

_NO_GUID = bytes(16)

# H.225.0 7.3: the h323-message-body alternative each Q.931 message type carries
_BODY: dict[int, str] = {
    MessageType.SETUP: "setup",
    MessageType.SETUP_ACKNOWLEDGE: "setupAcknowledge",
    MessageType.CALL_PROCEEDING: "callProceeding",
    MessageType.ALERTING: "alerting",
    MessageType.PROGRESS: "progress",
    MessageType.CONNECT: "connect",
    MessageType.RELEASE_COMPLETE: "releaseComplete",
    MessageType.FACILITY: "facility",
    MessageType.INFORMATION: "information",
    MessageType.NOTIFY: "notify",
    MessageType.STATUS_ENQUIRY: "statusInquiry",
    MessageType.STATUS: "status",
}
# Messages H.225.0 lets go without a User-user IE (older endpoints send these bare); the
# others need one. Facility may carry the `empty` body (H.225.0 7.4.2), and so may these.
_UUIE_OPTIONAL = frozenset({MessageType.INFORMATION, MessageType.STATUS,
                            MessageType.STATUS_ENQUIRY})
_EMPTY_ALLOWED = _UUIE_OPTIONAL | {MessageType.FACILITY}

_ENDPOINT_KINDS = ("terminal", "gateway", "mcu", "gatekeeper")
_RELEASE_REASONS = {r.value: r for r in ReleaseCompleteReason}
_FACILITY_REASONS = {r.value: r for r in FacilityReason}


class _Defect(Exception):
    """A message that reads but cannot be used, and the cause to answer it with (internal)."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause


# ------------------------------------------------------------------------------ reading


class _Read:
    """One decoded message's parts, read on demand by the per-type readers below."""

    __slots__ = ("body", "message", "pdu")

    def __init__(self, message: Q931Message, pdu: dict[str, Any], body: dict[str, Any]) -> None:
        self.message = message
        self.pdu = pdu
        self.body = body

    def optional_ie(self, ie: Ie, reader: Callable[[bytes], Any]) -> Any:
        """An optional IE's value; one whose contents do not read is ignored (Q.931 5.8.7.2)."""
        content = self.message.get(ie)
        if content is None:
            return None
        try:
            return reader(content)
        except InvalidIe:
            return None

    def mandatory_ie(self, ie: Ie, reader: Callable[[bytes], Any]) -> Any:
        content = self.message.get(ie)
        if content is None:
            raise _Defect(Cause.MANDATORY_IE_MISSING, f"{ie.name} IE missing")
        try:
            return reader(content)
        except InvalidIe as e:
            raise _Defect(Cause.INVALID_IE_CONTENTS, f"{ie.name}: {e}") from e

    def display(self) -> str | None:
        text: str | None = self.optional_ie(Ie.DISPLAY, q931.read_ia5)
        return text

    def h245(self) -> H245Tunnel:
        # Setup-UUIE parallelH245Control (H.323 v4 parallel H.245 with fastStart): OPAL/Ekiga
        # put their capability set there; the called side reads it as tunnelled H.245
        control = self.pdu.get("h245Control") or self.body.get("parallelH245Control", [])
        return H245Tunnel(bool(self.pdu.get("h245Tunnelling", False)), tuple(control))

    def call_identifier(self) -> bytes:
        call_id = self.body.get("callIdentifier")
        guid: bytes = call_id["guid"] if isinstance(call_id, dict) else b""
        return b"" if guid == _NO_GUID else guid

    def transport(self, name: str) -> TransportAddress | None:
        return _transport(self.body.get(name))

    def fast_start(self) -> tuple[bytes, ...]:
        return tuple(self.body.get("fastStart", ()))

    def connection(self) -> dict[str, Any]:
        """multipleCalls and maintainConnection, of the bodies that have them."""
        return {"multiple_calls": bool(self.body.get("multipleCalls", False)),
                "maintain_connection": bool(self.body.get("maintainConnection", False))}

    def common(self) -> dict[str, Any]:
        """The fields every message has: the call reference, its flag, the callIdentifier."""
        return {"call_reference": self.message.call_reference,
                "from_originator": self.message.from_originator,
                "call_identifier": self.call_identifier(), "h245": self.h245()}


def _endpoint_kind(value: object) -> str:
    if isinstance(value, dict):
        for kind in _ENDPOINT_KINDS:
            if kind in value:
                return kind
    return ""


def _capability(content: bytes) -> TransferCapability:
    value = q931.read_bearer_capability(content)
    try:
        return TransferCapability(value)
    except ValueError as e:
        raise InvalidIe(f"transfer capability 0x{value:02x}") from e


def _cause(content: bytes) -> int:
    return q931.read_cause(content)[0]


def _call_state(content: bytes) -> CallState:
    value = q931.read_call_state(content)
    try:
        return CallState(value)
    except ValueError as e:
        raise InvalidIe(f"call state {value}") from e


def _calling(content: bytes) -> tuple[str, Presentation, Screening]:
    number = q931.read_party_number(content)
    try:
        return number.digits, Presentation(number.presentation), Screening(number.screening)
    except ValueError as e:  # presentation 3 is reserved
        raise InvalidIe(f"presentation {number.presentation}") from e


def _called(content: bytes) -> str:
    return q931.read_party_number(content).digits


def _setup(r: _Read) -> Setup:
    b = r.body
    capability = r.mandatory_ie(Ie.BEARER_CAPABILITY, _capability)
    calling = r.optional_ie(Ie.CALLING_PARTY_NUMBER, _calling)
    source = b.get("sourceInfo")
    endpoint_id = b.get("endpointIdentifier")
    return Setup(
        conference_id=b["conferenceID"],
        source_aliases=_aliases(b.get("sourceAddress")),
        destination_aliases=_aliases(b.get("destinationAddress")),
        calling_number=calling[0] if calling else None,
        called_number=r.optional_ie(Ie.CALLED_PARTY_NUMBER, _called),
        display=r.display(),
        source_call_signal_address=r.transport("sourceCallSignalAddress"),
        dest_call_signal_address=r.transport("destCallSignalAddress"),
        h245_address=r.transport("h245Address"),
        endpoint_identifier=endpoint_id if isinstance(endpoint_id, str) else None,
        source_endpoint_type=_endpoint_kind(source),
        vendor=_vendor(source.get("vendor")) if isinstance(source, dict) else "",
        fast_start=r.fast_start(),
        media_wait_for_connect=bool(b.get("mediaWaitForConnect", False)),
        can_overlap_send=bool(b.get("canOverlapSend", False)),
        bearer_capability=capability,
        calling_presentation=calling[1] if calling else Presentation.ALLOWED,
        calling_screening=calling[2] if calling else Screening.USER_PROVIDED_NOT_SCREENED,
        **r.connection(), **r.common())


def _setup_acknowledge(r: _Read) -> SetupAcknowledge:
    return SetupAcknowledge(**r.common())


def _call_proceeding(r: _Read) -> CallProceeding:
    return CallProceeding(h245_address=r.transport("h245Address"), fast_start=r.fast_start(),
                          fast_connect_refused="fastConnectRefused" in r.body,
                          **r.connection(), **r.common())


def _alerting(r: _Read) -> Alerting:
    return Alerting(h245_address=r.transport("h245Address"), fast_start=r.fast_start(),
                    fast_connect_refused="fastConnectRefused" in r.body, display=r.display(),
                    **r.connection(), **r.common())


def _progress(r: _Read) -> Progress:
    return Progress(progress_description=r.optional_ie(Ie.PROGRESS_INDICATOR, q931.read_progress),
                    h245_address=r.transport("h245Address"), fast_start=r.fast_start(),
                    **r.connection(), **r.common())


def _connect(r: _Read) -> Connect:
    destination = r.body.get("destinationInfo")
    return Connect(
        conference_id=r.body["conferenceID"], h245_address=r.transport("h245Address"),
        fast_start=r.fast_start(), fast_connect_refused="fastConnectRefused" in r.body,
        connected_aliases=_aliases(r.body.get("connectedAddress")), display=r.display(),
        vendor=_vendor(destination.get("vendor")) if isinstance(destination, dict) else "",
        **r.connection(), **r.common())


def _release_complete(r: _Read) -> ReleaseComplete:
    reason = r.body.get("reason")
    return ReleaseComplete(
        cause=r.optional_ie(Ie.CAUSE, _cause),
        # a reason we have no name for (a later H.225.0's) still ends the call: undefinedReason
        reason=(_RELEASE_REASONS.get(reason[0], ReleaseCompleteReason.UNDEFINED_REASON)
                if isinstance(reason, tuple) else None),
        display=r.display(), **r.common())


def _facility(r: _Read) -> Facility:
    if not r.body:  # the `empty` body (H.225.0 7.4.2): only the H.245 fields
        return Facility(**r.common())
    reason = r.body["reason"]
    return Facility(
        reason=_FACILITY_REASONS.get(reason[0], FacilityReason.UNDEFINED_REASON),
        h245_address=r.transport("h245Address"), fast_start=r.fast_start(), **r.connection(),
        **r.common())


def _information(r: _Read) -> Information:
    return Information(keypad=r.optional_ie(Ie.KEYPAD_FACILITY, q931.read_ia5),
                       called_number=r.optional_ie(Ie.CALLED_PARTY_NUMBER, _called),
                       display=r.display(), **r.common())


def _notify(r: _Read) -> Notify:
    return Notify(display=r.display(), **r.common())


def _status_enquiry(r: _Read) -> StatusEnquiry:
    return StatusEnquiry(**r.common())


def _status(r: _Read) -> Status:
    # Q.931 3.1.16: Cause and Call state are mandatory in a Status
    return Status(cause=r.mandatory_ie(Ie.CAUSE, _cause),
                  call_state=r.mandatory_ie(Ie.CALL_STATE, _call_state), **r.common())


_READERS: dict[int, Callable[[_Read], CallSignal]] = {
    MessageType.SETUP: _setup,
    MessageType.SETUP_ACKNOWLEDGE: _setup_acknowledge,
    MessageType.CALL_PROCEEDING: _call_proceeding,
    MessageType.ALERTING: _alerting,
    MessageType.PROGRESS: _progress,
    MessageType.CONNECT: _connect,
    MessageType.RELEASE_COMPLETE: _release_complete,
    MessageType.FACILITY: _facility,
    MessageType.INFORMATION: _information,
    MessageType.NOTIFY: _notify,
    MessageType.STATUS_ENQUIRY: _status_enquiry,
    MessageType.STATUS: _status,
}


# ------------------------------------------------------------------------------ writing


def _guid(call_identifier: bytes) -> dict[str, bytes]:
    return {"guid": call_identifier or _NO_GUID}


def _endpoint(kind: str, vendor: str) -> dict[str, Any]:
    """An EndpointType: the kind (`""`: none), never an MC, the vendor's productId when known."""
    value: dict[str, Any] = {"mc": False, "undefinedNode": False}
    if kind:
        if kind not in _ENDPOINT_KINDS:
            raise ValueError(f"endpoint type {kind!r} is not one of {_ENDPOINT_KINDS}")
        value[kind] = {}
    if vendor:
        value["vendor"] = _w_vendor(vendor)
    return value


def _media(body: dict[str, Any], h245_address: TransportAddress | None,
           fast_start: tuple[bytes, ...], refused: bool = False) -> dict[str, Any]:
    """The optional h245Address, fastStart and fastConnectRefused of a body."""
    if h245_address is not None:
        body["h245Address"] = _w_transport(h245_address)
    if fast_start:
        body["fastStart"] = list(fast_start)
    if refused:
        body["fastConnectRefused"] = 0
    return body


# Q.931 4.5.16: a Display holds 82 characters at most; a longer name is cut
# rather than failing the message it rides on
MAX_DISPLAY = 82


def _display(text: str | None) -> list[tuple[int, bytes]]:
    """The Display IE, when there is text to show."""
    return [(Ie.DISPLAY, q931.ia5(text[:MAX_DISPLAY]))] if text else []


def _write(m: CallSignal) -> tuple[MessageType, list[tuple[int, bytes]], str, dict[str, Any] | int]:
    """(message type, Q.931 IEs in ascending order, body alternative, body) of one message."""
    ies: list[tuple[int, bytes]] = []
    head: dict[str, Any] = {"protocolIdentifier": CS_PROTOCOL_IDENTIFIER}
    match m:
        case Setup():
            ies.append((Ie.BEARER_CAPABILITY, q931.bearer_capability(m.bearer_capability)))
            ies += _display(m.display)
            if m.calling_number is not None:
                ies.append((Ie.CALLING_PARTY_NUMBER, q931.calling_party_number(q931.PartyNumber(
                    m.calling_number, m.calling_presentation, m.calling_screening))))
            if m.called_number is not None:
                ies.append((Ie.CALLED_PARTY_NUMBER, q931.called_party_number(m.called_number)))
            body = head | {
                "sourceInfo": _endpoint(m.source_endpoint_type, m.vendor), "activeMC": False,
                "conferenceID": m.conference_id, "conferenceGoal": ("create", 0),
                "callType": ("pointToPoint", 0), "callIdentifier": _guid(m.call_identifier),
                "mediaWaitForConnect": m.media_wait_for_connect,
                "canOverlapSend": m.can_overlap_send, "multipleCalls": m.multiple_calls,
                "maintainConnection": m.maintain_connection}
            if m.source_aliases:
                body["sourceAddress"] = _w_aliases(m.source_aliases)
            if m.destination_aliases:
                body["destinationAddress"] = _w_aliases(m.destination_aliases)
            if m.dest_call_signal_address is not None:
                body["destCallSignalAddress"] = _w_transport(m.dest_call_signal_address)
            if m.source_call_signal_address is not None:
                body["sourceCallSignalAddress"] = _w_transport(m.source_call_signal_address)
            if m.endpoint_identifier is not None:
                body["endpointIdentifier"] = m.endpoint_identifier
            return MessageType.SETUP, ies, "setup", _media(body, m.h245_address, m.fast_start)
        case SetupAcknowledge():
            body = head | {"callIdentifier": _guid(m.call_identifier)}
            return MessageType.SETUP_ACKNOWLEDGE, ies, "setupAcknowledge", body
        case CallProceeding():
            body = head | {"destinationInfo": _endpoint("terminal", ""),
                           "callIdentifier": _guid(m.call_identifier),
                           "multipleCalls": m.multiple_calls,
                           "maintainConnection": m.maintain_connection}
            return (MessageType.CALL_PROCEEDING, ies, "callProceeding",
                    _media(body, m.h245_address, m.fast_start, m.fast_connect_refused))
        case Alerting():
            body = head | {"destinationInfo": _endpoint("terminal", ""),
                           "callIdentifier": _guid(m.call_identifier),
                           "multipleCalls": m.multiple_calls,
                           "maintainConnection": m.maintain_connection}
            return (MessageType.ALERTING, _display(m.display), "alerting",
                    _media(body, m.h245_address, m.fast_start, m.fast_connect_refused))
        case Progress():
            if m.progress_description is not None:
                ies.append((Ie.PROGRESS_INDICATOR, q931.progress(m.progress_description)))
            body = head | {"destinationInfo": _endpoint("terminal", ""),
                           "callIdentifier": _guid(m.call_identifier),
                           "multipleCalls": m.multiple_calls,
                           "maintainConnection": m.maintain_connection}
            return MessageType.PROGRESS, ies, "progress", _media(body, m.h245_address, m.fast_start)
        case Connect():
            body = head | {"destinationInfo": _endpoint("terminal", m.vendor),
                           "conferenceID": m.conference_id,
                           "callIdentifier": _guid(m.call_identifier),
                           "multipleCalls": m.multiple_calls,
                           "maintainConnection": m.maintain_connection}
            if m.connected_aliases:
                body["connectedAddress"] = _w_aliases(m.connected_aliases)
            return (MessageType.CONNECT, _display(m.display), "connect",
                    _media(body, m.h245_address, m.fast_start, m.fast_connect_refused))
        case ReleaseComplete():
            if m.cause is None and m.reason is None:
                raise ValueError("ReleaseComplete needs a cause or a reason (H.225.0 7.3.8)")
            if m.cause is not None:
                ies.append((Ie.CAUSE, q931.cause(m.cause)))
            body = head | {"callIdentifier": _guid(m.call_identifier)}
            if m.reason is not None:
                body["reason"] = (m.reason.value, 0)
            return MessageType.RELEASE_COMPLETE, ies + _display(m.display), "releaseComplete", body
        case Facility():
            if m.reason is None:
                # H.225.0 7.4.2: the empty body carries no callIdentifier (it is not sent)
                if m.h245_address is not None or m.fast_start:
                    raise ValueError("a Facility with an h245Address or fastStart needs a reason")
                return MessageType.FACILITY, ies, "empty", 0
            body = head | {"reason": (m.reason.value, 0),
                           "callIdentifier": _guid(m.call_identifier),
                           "multipleCalls": m.multiple_calls,
                           "maintainConnection": m.maintain_connection}
            return MessageType.FACILITY, ies, "facility", _media(body, m.h245_address, m.fast_start)
        case Information():
            ies += _display(m.display)
            if m.keypad is not None:
                ies.append((Ie.KEYPAD_FACILITY, q931.ia5(m.keypad)))
            if m.called_number is not None:
                ies.append((Ie.CALLED_PARTY_NUMBER, q931.called_party_number(m.called_number)))
            body = head | {"callIdentifier": _guid(m.call_identifier)}
            return MessageType.INFORMATION, ies, "information", body
        case Notify():
            body = head | {"callIdentifier": _guid(m.call_identifier)}
            return MessageType.NOTIFY, _display(m.display), "notify", body
        case StatusEnquiry():
            body = head | {"callIdentifier": _guid(m.call_identifier)}
            return MessageType.STATUS_ENQUIRY, ies, "statusInquiry", body
        case Status():
            ies += [(Ie.CAUSE, q931.cause(m.cause)), (Ie.CALL_STATE, q931.call_state(m.call_state))]
            body = head | {"callIdentifier": _guid(m.call_identifier)}
            return MessageType.STATUS, ies, "status", body
    raise TypeError(f"not a call signalling message: {m!r}")


class CallSignalCodec:
    """H.225.0 call signalling, one reused pycrate object (not thread-safe: one per engine)."""

    __slots__ = ("_uu",)

    def __init__(self) -> None:
        self._uu: Any = H225.H323_MESSAGES.H323_UserInformation

    def decode(self, payload: bytes) -> CallSignal | CallSignalDecodeError:
        """The message in one TPKT payload, or its defect and the cause to answer. Never raises."""
        message = q931.parse(payload)
        if isinstance(message, Q931Defect):
            return CallSignalDecodeError(f"Q.931: {message.detail}", Cause.INVALID_MESSAGE,
                                        message.call_reference, message.from_originator,
                                        message.message_type)

        def error(cause: Cause, defect: str) -> CallSignalDecodeError:
            return CallSignalDecodeError(defect, cause, message.call_reference,
                                         message.from_originator, message.message_type)

        kind = message.message_type
        reader = _READERS.get(kind)
        if reader is None:
            return error(Cause.MESSAGE_TYPE_NONEXISTENT,
                         f"message type 0x{kind:02x} is not one H.225.0 uses here")
        name = MessageType(kind).name
        content = message.get(Ie.USER_USER)
        pdu: dict[str, Any] = {}
        body: dict[str, Any] = {}
        if content is None:
            if kind not in _UUIE_OPTIONAL:
                return error(Cause.MANDATORY_IE_MISSING, f"{name} without a User-user IE")
        else:
            try:
                information = q931.read_user_user(content)
            except InvalidIe as e:
                return error(Cause.INVALID_IE_CONTENTS, f"User-user: {e}")
            try:
                self._uu.from_aper(information)
                value = self._uu.get_val()
            except _DECODE_ERRORS as e:
                return error(Cause.INVALID_IE_CONTENTS,
                             f"User-user PER: {type(e).__name__}: {e}"[:200])
            pdu = value["h323-uu-pdu"]
            alternative, chosen = pdu["h323-message-body"]
            if alternative.startswith("_ext_"):
                return error(Cause.INVALID_IE_CONTENTS,
                             f"h323-message-body alternative {alternative[5:]} is unknown")
            if alternative == "empty" and kind in _EMPTY_ALLOWED:
                body = {}
            elif alternative != _BODY[kind]:
                return error(Cause.INVALID_IE_CONTENTS,
                             f"{name} carries a {alternative} UUIE")
            else:
                body = chosen
        try:
            return reader(_Read(message, pdu, body))
        except _Defect as e:
            return error(e.cause, f"{name}: {e}")

    def encode(self, message: CallSignal) -> bytes:
        """The Q.931 octets of `message` (`tpkt.frame` wraps them); raises on a value we cannot
        encode, a bug of ours."""
        kind, ies, alternative, body = _write(message)
        pdu: dict[str, Any] = {"h323-message-body": (alternative, body),
                               "h245Tunnelling": message.h245.tunnelling}
        if message.h245.control:
            pdu["h245Control"] = list(message.h245.control)
        self._uu.set_val({"h323-uu-pdu": pdu})
        with _aper_fixed():
            information: bytes = self._uu.to_aper()
        ies.append((Ie.USER_USER, q931.user_user(information)))
        return q931.build(Q931Message(message.call_reference, message.from_originator, kind,
                                      tuple(ies)))
