"""H.245 aligned PER <-> `h245_messages` values, through pycrate's compiled H245 module.

Theory of operation: as `ras_codec`, one `H245Codec` holds pycrate's MultimediaSystemControlMessage
object and the bare OpenLogicalChannel object (a fastStart element is an OpenLogicalChannel
encoded alone, H.225.0 Setup-UUIE fastStart, H.323 8.1.7) and reuses them (one codec per
engine, one thread). `decode` turns untrusted octets into a message or an `H245DecodeError`
naming the defect: nothing it reads raises out of it. `encode` raises only on a value we built
wrongly (our bug). pycrate 0.8.1 misplaces the realignment of SEQUENCE extension additions on
encode (`ras_codec._aper_fixed`). No PDU we encode today has one (test_h245_wire checks that
pycrate alone gives the same octets, and tshark reads them), but encoding goes through the same
correction so that a field added later from an extension (genericInformation, ...) is right.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from acdgate.gateway.h323.h245_messages import (
    PROTOCOL_IDENTIFIER,
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
from acdgate.gateway.h323.ras_codec import _aper_fixed
from acdgate.gateway.h323.ras_messages import TransportAddress
from pycrate_asn1dir import H245
from pycrate_core.utils import PycrateErr

# What pycrate 0.8.1 raises on input it cannot decode (see ras_codec: its own errors, a
# NameError in its character-string error path, an AssertionError on open-type padding).
_DECODE_ERRORS: tuple[type[BaseException], ...] = (PycrateErr, NameError, AssertionError)


class _Defect(Exception):
    """A decoded PDU that lacks what the bridge needs (internal to the codec)."""


# ------------------------------------------------------------------------------ readers


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Defect(f"{what} is not an INTEGER")
    return value


def _address(value: object) -> TransportAddress | None:
    """A unicast iPAddress H.245 TransportAddress; None for every other kind."""
    if (isinstance(value, tuple) and value[0] == "unicastAddress"
            and isinstance(value[1], tuple) and value[1][0] == "iPAddress"):
        ip = value[1][1]
        return TransportAddress(str(ipaddress.IPv4Address(ip["network"])), ip["tsapIdentifier"])
    return None


_AUDIO = {c.value: c for c in AudioCodec}
_DIRECTIONS = {d.value: d for d in CapabilityDirection}
_USER_INPUT = {k.value: k for k in UserInputKind}


def _capability(entry: int, value: object) -> Capability | None:
    if not isinstance(value, tuple):
        return None
    name, body = value
    if name in _DIRECTIONS and isinstance(body, tuple) and body[0] in _AUDIO:
        return AudioCapability(entry, _AUDIO[body[0]], _int(body[1], "frames"), _DIRECTIONS[name])
    if name == "receiveUserInputCapability" and isinstance(body, tuple) and body[0] in _USER_INPUT:
        return UserInputCapability(entry, _USER_INPUT[body[0]])
    if name == "receiveRTPAudioTelephonyEventCapability" and isinstance(body, dict):
        events = body["audioTelephoneEvent"]
        return TelephonyEventCapability(
            entry, _int(body["dynamicRTPPayloadType"], "dynamicRTPPayloadType"),
            events.decode("latin-1") if isinstance(events, bytes) else str(events))
    return None


def _tcs(v: dict[str, Any]) -> TerminalCapabilitySet:
    capabilities: list[Capability] = []
    others: list[int] = []
    for item in v.get("capabilityTable", ()):
        entry = _int(item["capabilityTableEntryNumber"], "capabilityTableEntryNumber")
        capability = _capability(entry, item.get("capability"))
        if capability is None:
            others.append(entry)
        else:
            capabilities.append(capability)
    descriptors = tuple(
        tuple(tuple(alt) for alt in d.get("simultaneousCapabilities", ()))
        for d in v.get("capabilityDescriptors", ()))
    return TerminalCapabilitySet(_int(v["sequenceNumber"], "sequenceNumber"),
                                 tuple(capabilities), descriptors, tuple(others))


class _Unsupported(Exception):
    """A logical channel that is not G.711 audio over H.225.0 (internal to the codec)."""


def _parameters(data_type: object, multiplex: object) -> ChannelParameters | None:
    """An audio direction of an OLC; None for nullData (a fastStart receive proposal)."""
    if not isinstance(data_type, tuple):
        raise _Defect("dataType is not a CHOICE")
    if data_type[0] == "nullData":
        return None
    if data_type[0] != "audioData":
        raise _Unsupported(data_type[0])
    audio = data_type[1]
    if not (isinstance(audio, tuple) and audio[0] in _AUDIO):
        raise _Unsupported(f"audioData.{audio[0] if isinstance(audio, tuple) else '?'}")
    if not (isinstance(multiplex, tuple) and multiplex[0] == "h2250LogicalChannelParameters"):
        raise _Unsupported(
            f"multiplexParameters {multiplex[0] if isinstance(multiplex, tuple) else None}")
    h = multiplex[1]
    return ChannelParameters(_AUDIO[audio[0]], _int(audio[1], "frames"),
                             _int(h["sessionID"], "sessionID"),
                             _address(h.get("mediaChannel")),
                             _address(h.get("mediaControlChannel")),
                             h.get("dynamicRTPPayloadType"))


def _olc(v: dict[str, Any]) -> OpenLogicalChannel:
    number = _int(v["forwardLogicalChannelNumber"], "LogicalChannelNumber")
    f = v["forwardLogicalChannelParameters"]
    try:
        forward = _parameters(f["dataType"], f["multiplexParameters"])
        reverse = None
        if "reverseLogicalChannelParameters" in v:
            r = v["reverseLogicalChannelParameters"]
            reverse = _parameters(r["dataType"], r.get("multiplexParameters"))
    except _Unsupported as e:
        return OpenLogicalChannel(number, None, None, unsupported=str(e))
    if forward is None and reverse is None:
        return OpenLogicalChannel(number, None, None, unsupported="nullData")
    return OpenLogicalChannel(number, forward, reverse)


def _olc_ack(v: dict[str, Any]) -> OpenLogicalChannelAck:
    ack = v.get("forwardMultiplexAckParameters")
    h: dict[str, Any] = (ack[1] if isinstance(ack, tuple)
                         and ack[0] == "h2250LogicalChannelAckParameters" else {})
    return OpenLogicalChannelAck(v["forwardLogicalChannelNumber"],
                                 _address(h.get("mediaChannel")),
                                 _address(h.get("mediaControlChannel")), h.get("sessionID"))


def _cause(enum: type[Any], value: object, default: Any) -> Any:
    name = value[0] if isinstance(value, tuple) else None
    return enum(name) if name in {e.value for e in enum} else default


def _user_input(v: object) -> H245Message:
    name, body = v if isinstance(v, tuple) else ("?", None)
    if name == "alphanumeric":
        return UserInputAlphanumeric(body.decode("latin-1") if isinstance(body, bytes) else body)
    if name == "signal":
        return UserInputSignal(body["signalType"], body.get("duration"))
    return OtherH245Message("indication", f"userInputIndication.{name}")


_REQUESTS: dict[str, Callable[[Any], H245Message]] = {
    "terminalCapabilitySet": _tcs,
    "masterSlaveDetermination": lambda v: MasterSlaveDetermination(
        v["terminalType"], v["statusDeterminationNumber"]),
    "openLogicalChannel": _olc,
    "closeLogicalChannel": lambda v: CloseLogicalChannel(
        v["forwardLogicalChannelNumber"], ChannelCloseSource(v["source"][0])),
    "requestChannelClose": lambda v: RequestChannelClose(v["forwardLogicalChannelNumber"]),
    "roundTripDelayRequest": lambda v: RoundTripDelayRequest(v["sequenceNumber"]),
}
_RESPONSES: dict[str, Callable[[Any], H245Message]] = {
    "masterSlaveDeterminationAck": lambda v: MasterSlaveDeterminationAck(
        MsdDecision(v["decision"][0])),
    "masterSlaveDeterminationReject": lambda v: MasterSlaveDeterminationReject(),
    "terminalCapabilitySetAck": lambda v: TerminalCapabilitySetAck(v["sequenceNumber"]),
    "terminalCapabilitySetReject": lambda v: TerminalCapabilitySetReject(
        v["sequenceNumber"], _cause(TcsRejectCause, v["cause"], TcsRejectCause.UNSPECIFIED)),
    "openLogicalChannelAck": _olc_ack,
    "openLogicalChannelReject": lambda v: OpenLogicalChannelReject(
        v["forwardLogicalChannelNumber"],
        _cause(OlcRejectCause, v["cause"], OlcRejectCause.UNSPECIFIED)),
    "closeLogicalChannelAck": lambda v: CloseLogicalChannelAck(v["forwardLogicalChannelNumber"]),
    "requestChannelCloseAck": lambda v: RequestChannelCloseAck(v["forwardLogicalChannelNumber"]),
    "requestChannelCloseReject": lambda v: RequestChannelCloseReject(
        v["forwardLogicalChannelNumber"]),
    "roundTripDelayResponse": lambda v: RoundTripDelayResponse(v["sequenceNumber"]),
}
_COMMANDS: dict[str, Callable[[Any], H245Message]] = {
    "endSessionCommand": lambda v: EndSessionCommand(),
}
_INDICATIONS: dict[str, Callable[[Any], H245Message]] = {
    "masterSlaveDeterminationRelease": lambda v: MasterSlaveDeterminationRelease(),
    "terminalCapabilitySetRelease": lambda v: TerminalCapabilitySetRelease(),
    "userInput": _user_input,
    "functionNotSupported": lambda v: FunctionNotSupported(
        FunctionNotSupportedCause(v["cause"][0]), v.get("returnedFunction")),
}
_READERS = {"request": _REQUESTS, "response": _RESPONSES, "command": _COMMANDS,
            "indication": _INDICATIONS}


# ------------------------------------------------------------------------------ writers


def _w_address(t: TransportAddress) -> tuple[str, Any]:
    return ("unicastAddress", ("iPAddress", {
        "network": ipaddress.IPv4Address(t.host).packed, "tsapIdentifier": t.port}))


def _w_capability(c: Capability) -> dict[str, Any]:
    match c:
        case AudioCapability():
            body: tuple[str, Any] = (c.direction.value, (c.codec.value, c.frames))
        case UserInputCapability():
            body = ("receiveUserInputCapability", (c.kind.value, 0))
        case TelephonyEventCapability():
            body = ("receiveRTPAudioTelephonyEventCapability", {
                "dynamicRTPPayloadType": c.payload_type, "audioTelephoneEvent": c.events})
    return {"capabilityTableEntryNumber": c.entry, "capability": body}


# the H2250Capability an H.323 terminal's TCS carries as its multiplexCapability
_H2250_CAPABILITY: dict[str, Any] = {
    "maximumAudioDelayJitter": 60,
    **{k: {"multicastCapability": False, "multiUniCastConference": False,
           "mediaDistributionCapability": [dict.fromkeys(
               ("centralizedControl", "distributedControl", "centralizedAudio",
                "distributedAudio", "centralizedVideo", "distributedVideo"), False)]}
       for k in ("receiveMultipointCapability", "transmitMultipointCapability",
                 "receiveAndTransmitMultipointCapability")},
    "mcCapability": {"centralizedConferenceMC": False, "decentralizedConferenceMC": False},
    "rtcpVideoControlCapability": False,
    "mediaPacketizationCapability": {"h261aVideoPacketization": False},
}


def _w_tcs(m: TerminalCapabilitySet) -> dict[str, Any]:
    v: dict[str, Any] = {"sequenceNumber": m.sequence_number,
                         "protocolIdentifier": PROTOCOL_IDENTIFIER,
                         "multiplexCapability": ("h2250Capability", _H2250_CAPABILITY)}
    if m.capabilities:
        v["capabilityTable"] = [_w_capability(c) for c in m.capabilities]
    if m.descriptors:
        v["capabilityDescriptors"] = [
            {"capabilityDescriptorNumber": n, "simultaneousCapabilities": [list(a) for a in d]}
            for n, d in enumerate(m.descriptors)]
    return v


def _w_h2250(p: ChannelParameters) -> dict[str, Any]:
    h: dict[str, Any] = {"sessionID": p.session_id}
    if p.media_channel is not None:
        h["mediaChannel"] = _w_address(p.media_channel)
    if p.media_control_channel is not None:
        h["mediaControlChannel"] = _w_address(p.media_control_channel)
    if p.dynamic_payload_type is not None:
        h["dynamicRTPPayloadType"] = p.dynamic_payload_type
    return h


def _w_olc(m: OpenLogicalChannel) -> dict[str, Any]:
    if m.unsupported is not None:
        raise ValueError(f"cannot encode an OLC of {m.unsupported}: it only names what arrived")
    if m.forward is None:
        forward: dict[str, Any] = {"dataType": ("nullData", 0), "multiplexParameters": ("none", 0)}
    else:
        forward = {"dataType": ("audioData", (m.forward.codec.value, m.forward.frames)),
                   "multiplexParameters": ("h2250LogicalChannelParameters", _w_h2250(m.forward))}
    v: dict[str, Any] = {"forwardLogicalChannelNumber": m.number,
                         "forwardLogicalChannelParameters": forward}
    if m.reverse is not None:
        v["reverseLogicalChannelParameters"] = {
            "dataType": ("audioData", (m.reverse.codec.value, m.reverse.frames)),
            "multiplexParameters": ("h2250LogicalChannelParameters", _w_h2250(m.reverse))}
    return v


def _w_olc_ack(m: OpenLogicalChannelAck) -> dict[str, Any]:
    h: dict[str, Any] = {}
    if m.session_id is not None:
        h["sessionID"] = m.session_id
    if m.media_channel is not None:
        h["mediaChannel"] = _w_address(m.media_channel)
    if m.media_control_channel is not None:
        h["mediaControlChannel"] = _w_address(m.media_control_channel)
    return {"forwardLogicalChannelNumber": m.number,
            "forwardMultiplexAckParameters": ("h2250LogicalChannelAckParameters", h)}


def _value(m: H245Message) -> tuple[str, tuple[str, Any]]:
    """The pycrate value of one MultimediaSystemControlMessage."""
    match m:
        case TerminalCapabilitySet():
            return ("request", ("terminalCapabilitySet", _w_tcs(m)))
        case TerminalCapabilitySetAck():
            return ("response", ("terminalCapabilitySetAck", {"sequenceNumber": m.sequence_number}))
        case TerminalCapabilitySetReject():
            return ("response", ("terminalCapabilitySetReject", {
                "sequenceNumber": m.sequence_number, "cause": (m.cause.value, 0)}))
        case TerminalCapabilitySetRelease():
            return ("indication", ("terminalCapabilitySetRelease", {}))
        case MasterSlaveDetermination():
            return ("request", ("masterSlaveDetermination", {
                "terminalType": m.terminal_type,
                "statusDeterminationNumber": m.status_determination_number}))
        case MasterSlaveDeterminationAck():
            return ("response", ("masterSlaveDeterminationAck",
                                 {"decision": (m.decision.value, 0)}))
        case MasterSlaveDeterminationReject():
            return ("response", ("masterSlaveDeterminationReject",
                                 {"cause": ("identicalNumbers", 0)}))
        case MasterSlaveDeterminationRelease():
            return ("indication", ("masterSlaveDeterminationRelease", {}))
        case OpenLogicalChannel():
            return ("request", ("openLogicalChannel", _w_olc(m)))
        case OpenLogicalChannelAck():
            return ("response", ("openLogicalChannelAck", _w_olc_ack(m)))
        case OpenLogicalChannelReject():
            return ("response", ("openLogicalChannelReject", {
                "forwardLogicalChannelNumber": m.number, "cause": (m.cause.value, 0)}))
        case CloseLogicalChannel():
            return ("request", ("closeLogicalChannel", {
                "forwardLogicalChannelNumber": m.number, "source": (m.source.value, 0)}))
        case CloseLogicalChannelAck():
            return ("response", ("closeLogicalChannelAck",
                                 {"forwardLogicalChannelNumber": m.number}))
        case RequestChannelClose():
            return ("request", ("requestChannelClose", {"forwardLogicalChannelNumber": m.number}))
        case RequestChannelCloseAck():
            return ("response", ("requestChannelCloseAck",
                                 {"forwardLogicalChannelNumber": m.number}))
        case RequestChannelCloseReject():
            return ("response", ("requestChannelCloseReject", {
                "forwardLogicalChannelNumber": m.number, "cause": ("unspecified", 0)}))
        case RoundTripDelayRequest():
            return ("request", ("roundTripDelayRequest", {"sequenceNumber": m.sequence_number}))
        case RoundTripDelayResponse():
            return ("response", ("roundTripDelayResponse", {"sequenceNumber": m.sequence_number}))
        case EndSessionCommand():
            return ("command", ("endSessionCommand", ("disconnect", 0)))
        case UserInputAlphanumeric():
            return ("indication", ("userInput", ("alphanumeric", m.text)))
        case UserInputSignal():
            signal: dict[str, Any] = {"signalType": m.signal_type}
            if m.duration is not None:
                signal["duration"] = m.duration
            return ("indication", ("userInput", ("signal", signal)))
        case FunctionNotSupported():
            fns: dict[str, Any] = {"cause": (m.cause.value, 0)}
            if m.returned_function is not None:
                fns["returnedFunction"] = m.returned_function
            return ("indication", ("functionNotSupported", fns))
        case OtherH245Message():
            raise ValueError(f"cannot encode {m.name}: OtherH245Message only names what arrived")
    raise TypeError(f"not an H.245 message: {m!r}")


class H245Codec:
    """H.245 aligned PER, reused pycrate objects (not thread-safe: one per engine)."""

    __slots__ = ("_olc", "_pdu")

    def __init__(self) -> None:
        self._pdu: Any = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
        self._olc: Any = H245.MULTIMEDIA_SYSTEM_CONTROL.OpenLogicalChannel

    def decode(self, data: bytes) -> H245Message | H245DecodeError:
        """One PDU from the network, or the defect that makes it unreadable. Never raises."""
        if not data:
            return H245DecodeError("empty PDU")
        try:
            self._pdu.from_aper(data)
            kind, inner = self._pdu.get_val()
        except _DECODE_ERRORS as e:
            return H245DecodeError(f"PER: {type(e).__name__}: {e}"[:200], data)
        if kind not in _READERS:
            # an extension alternative of a later H.245 version: pycrate names it "_ext_N"
            return OtherH245Message(kind, kind, data)
        name, body = inner
        reader = _READERS[kind].get(name)
        if reader is None:
            return OtherH245Message(kind, name, data)
        try:
            return reader(body)
        except (_Defect, ValueError) as e:  # ValueError: an extension value our enums lack
            return H245DecodeError(f"{name}: {type(e).__name__}: {e}"[:200], data)

    def encode(self, message: H245Message) -> bytes:
        """Aligned PER of one PDU; raises when the value is not encodable (a bug of ours)."""
        self._pdu.set_val(_value(message))
        with _aper_fixed():
            data: bytes = self._pdu.to_aper()
        return data

    def decode_fast_start(self, data: bytes) -> OpenLogicalChannel | H245DecodeError:
        """One fastStart element (a bare OpenLogicalChannel). Never raises."""
        if not data:
            return H245DecodeError("empty fastStart element")
        try:
            self._olc.from_aper(data)
            value = self._olc.get_val()
        except _DECODE_ERRORS as e:
            return H245DecodeError(f"PER: {type(e).__name__}: {e}"[:200], data)
        try:
            return _olc(value)
        except (_Defect, ValueError) as e:
            return H245DecodeError(f"fastStart: {type(e).__name__}: {e}"[:200], data)

    def encode_fast_start(self, olc: OpenLogicalChannel) -> bytes:
        """A fastStart element: the OpenLogicalChannel alone, aligned PER."""
        self._olc.set_val(_w_olc(olc))
        with _aper_fixed():
            data: bytes = self._olc.to_aper()
        return data
