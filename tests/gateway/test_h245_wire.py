"""The independent check: every H.245 PDU two engines exchange (and every other kind we encode),
read by tshark's own H.245 dissector from TPKT-framed TCP, field by field, with no malformed
packet or expert warning. Wireshark's dissector is written from the ITU ASN.1, not from pycrate.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from acdgate.gateway.h323.fast_start import answer_fast_start, offer_fast_start
from acdgate.gateway.h323.h245_messages import (
    AudioCapability,
    AudioCodec,
    CloseLogicalChannel,
    CloseLogicalChannelAck,
    FunctionNotSupported,
    FunctionNotSupportedCause,
    H245DecodeError,
    H245Message,
    MasterSlaveDetermination,
    MasterSlaveDeterminationReject,
    MasterSlaveDeterminationRelease,
    OlcRejectCause,
    OpenLogicalChannel,
    OpenLogicalChannelAck,
    OpenLogicalChannelReject,
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
    UserInputSignal,
)
from h245_support import CODEC, GW_RTCP, GW_RTP, PHONE_RTCP, PHONE_RTP, Pair, session, write_pcap

TSHARK = shutil.which("tshark")
PORT = 1800
# (pdu_type, alternative index) as H.245's ASN.1 numbers them: MultimediaSystemControlMessage
# request 0 / response 1 / command 2 / indication 3, then the alternative in that CHOICE
# (extension alternatives numbered after the root ones, as Wireshark prints them)
INDEX: dict[str, tuple[int, int]] = {
    "MasterSlaveDetermination": (0, 1), "TerminalCapabilitySet": (0, 2),
    "OpenLogicalChannel": (0, 3), "CloseLogicalChannel": (0, 4), "RequestChannelClose": (0, 5),
    "RoundTripDelayRequest": (0, 9),
    "MasterSlaveDeterminationAck": (1, 1), "MasterSlaveDeterminationReject": (1, 2),
    "TerminalCapabilitySetAck": (1, 3), "TerminalCapabilitySetReject": (1, 4),
    "OpenLogicalChannelAck": (1, 5), "OpenLogicalChannelReject": (1, 6),
    "CloseLogicalChannelAck": (1, 7), "RequestChannelCloseAck": (1, 8),
    "RequestChannelCloseReject": (1, 9),
    "RoundTripDelayResponse": (1, 16),
    "EndSessionCommand": (2, 5),
    "MasterSlaveDeterminationRelease": (3, 2), "TerminalCapabilitySetRelease": (3, 3),
    "UserInputAlphanumeric": (3, 13), "UserInputSignal": (3, 13), "FunctionNotSupported": (3, 18),
}
KIND_FIELD = ("h245.request", "h245.response", "h245.command", "h245.indication")
FIELDS = ("h245.pdu_type", *KIND_FIELD, "h245.sequenceNumber", "h245.capabilityTableEntryNumber",
          "h245.capability", "h245.g711Ulaw64k", "h245.g711Alaw64k",
          "h245.dynamicRTPPayloadType", "h245.audioTelephoneEvent",
          "h245.forwardLogicalChannelNumber", "h245.ip4_network", "h245.tsapIdentifier",
          "h245.terminalType", "h245.statusDeterminationNumber", "h245.alphanumeric",
          "h245.signalType", "h245.duration", "_ws.malformed", "_ws.expert")
# Capability CHOICE indexes (H.245): receiveAudioCapability 4, receiveUserInputCapability 15,
# receiveRTPAudioTelephonyEventCapability 22
CAPABILITY_INDEX = {"AudioCapability": 4, "UserInputCapability": 15,
                    "TelephonyEventCapability": 22}


def exchange() -> list[tuple[bytes, bool, H245Message]]:
    """A whole session between two engines, then every other PDU kind we send or read."""
    gw = session()
    phone = session(PHONE_RTP, PHONE_RTCP, terminal_type=50)
    pair = Pair(phone, gw)  # a = the phone: True on the wire is phone -> gateway
    pair.run(phone.start(0.0), "a")
    pair.run(gw.start(0.0), "b")
    pair.run(phone.receive(RoundTripDelayRequest(4), 1.0), "a")
    pair.run(pair.b.close_channel(2.0), "b")
    pair.run(phone.end(3.0), "a")
    pdus: list[tuple[bytes, bool, H245Message]] = []
    for data, to_us in pair.wire:
        m = CODEC.decode(data)
        assert not isinstance(m, H245DecodeError), m
        pdus.append((data, to_us, m))
    returned = CODEC.encode(RequestChannelClose(9))
    extra: list[H245Message] = [
        UserInputAlphanumeric("*35*3000*1234#"), UserInputSignal("5", 160), UserInputSignal("#"),
        RoundTripDelayRequest(4), TerminalCapabilitySetReject(2,
                                                              TcsRejectCause.UNDEFINED_TABLE_ENTRY_USED),
        TerminalCapabilitySetRelease(), MasterSlaveDeterminationReject(),
        MasterSlaveDeterminationRelease(), OpenLogicalChannelReject(
            5, OlcRejectCause.DATA_TYPE_NOT_SUPPORTED),
        RequestChannelClose(1), RequestChannelCloseAck(1), RequestChannelCloseReject(8),
        FunctionNotSupported(FunctionNotSupportedCause.UNKNOWN_FUNCTION, returned),
    ]
    pdus += [(CODEC.encode(m), True, m) for m in extra]
    # the fastStart elements of an offer and its answer, sent as H.245 OLCs for tshark to read
    offer = offer_fast_start(CODEC, PHONE_RTP, PHONE_RTCP)
    answer = answer_fast_start(CODEC, offer, GW_RTP, GW_RTCP)
    for element in (*offer, *getattr(answer, "elements", ())):
        olc = CODEC.decode_fast_start(element)
        assert isinstance(olc, OpenLogicalChannel)
        pdus.append((b"\x03" + element, True, olc))
    return pdus


def tshark_rows(pcap: Path) -> list[dict[str, str]]:
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-r", str(pcap), "-d", f"tcp.port=={PORT},h245", "-T", "fields",
         "-E", "separator=/t", *[a for f in FIELDS for a in ("-e", f)]],
        capture_output=True, text=True, check=True, timeout=120).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def addresses(*ts: object) -> tuple[str, str]:
    found = [t for t in ts if t is not None]
    return (",".join(t.host for t in found),  # type: ignore[attr-defined]
            ",".join(str(t.port) for t in found))  # type: ignore[attr-defined]


def expected(m: H245Message) -> dict[str, str]:
    """What tshark must show for `m`, written from our side of the dataclass."""
    pdu_type, index = INDEX[type(m).__name__]
    e = {"h245.pdu_type": str(pdu_type), KIND_FIELD[pdu_type]: str(index)}
    match m:
        case TerminalCapabilitySet():
            e["h245.sequenceNumber"] = str(m.sequence_number)
            e["h245.capabilityTableEntryNumber"] = ",".join(str(c.entry) for c in m.capabilities)
            e["h245.capability"] = ",".join(
                str(CAPABILITY_INDEX[type(c).__name__]) for c in m.capabilities)
            e["h245.g711Ulaw64k"] = ",".join(str(c.frames) for c in m.capabilities if isinstance(
                c, AudioCapability) and c.codec is AudioCodec.G711_ULAW)
            e["h245.g711Alaw64k"] = ",".join(str(c.frames) for c in m.capabilities if isinstance(
                c, AudioCapability) and c.codec is AudioCodec.G711_ALAW)
            rfc2833 = [c for c in m.capabilities if isinstance(c, TelephonyEventCapability)]
            e["h245.dynamicRTPPayloadType"] = ",".join(str(c.payload_type) for c in rfc2833)
            e["h245.audioTelephoneEvent"] = ",".join(c.events for c in rfc2833)
            assert any(isinstance(c, UserInputCapability) for c in m.capabilities)
        case TerminalCapabilitySetAck() | TerminalCapabilitySetReject() | \
                RoundTripDelayRequest() | RoundTripDelayResponse():
            e["h245.sequenceNumber"] = str(m.sequence_number)
        case MasterSlaveDetermination():
            e["h245.terminalType"] = str(m.terminal_type)
            e["h245.statusDeterminationNumber"] = str(m.status_determination_number)
        case OpenLogicalChannel():
            e["h245.forwardLogicalChannelNumber"] = str(m.number)
            directions = [p for p in (m.forward, m.reverse) if p is not None]
            e["h245.g711Ulaw64k"] = ",".join(str(p.frames) for p in directions
                                             if p.codec is AudioCodec.G711_ULAW)
            e["h245.g711Alaw64k"] = ",".join(str(p.frames) for p in directions
                                             if p.codec is AudioCodec.G711_ALAW)
            e["h245.ip4_network"], e["h245.tsapIdentifier"] = addresses(
                *[a for p in directions for a in (p.media_channel, p.media_control_channel)])
        case OpenLogicalChannelAck():
            e["h245.forwardLogicalChannelNumber"] = str(m.number)
            e["h245.ip4_network"], e["h245.tsapIdentifier"] = addresses(
                m.media_channel, m.media_control_channel)
        case (OpenLogicalChannelReject() | CloseLogicalChannel() | CloseLogicalChannelAck()
              | RequestChannelCloseAck() | RequestChannelCloseReject()):
            e["h245.forwardLogicalChannelNumber"] = str(m.number)
        case RequestChannelClose():
            e["h245.forwardLogicalChannelNumber"] = str(m.number)
        case UserInputAlphanumeric():
            e["h245.alphanumeric"] = m.text
        case UserInputSignal():
            e["h245.signalType"] = m.signal_type
            e["h245.duration"] = "" if m.duration is None else str(m.duration)
        case FunctionNotSupported():
            # tshark dissects the returned PDU too: a request (0), requestChannelClose (5)
            e["h245.pdu_type"] = "3,0"
            e["h245.request"] = "5"
            e["h245.forwardLogicalChannelNumber"] = "9"
    return e


def test_tshark_reads_every_pdu_as_meant(tmp_path: Path) -> None:
    pdus = exchange()
    kinds = {type(m).__name__ for _, _, m in pdus}
    assert kinds == set(INDEX)  # every kind we encode is checked
    pcap = tmp_path / "h245.pcap"
    write_pcap(pcap, [(d, to_us) for d, to_us, _ in pdus], PORT)
    rows = tshark_rows(pcap)
    assert len(rows) == len(pdus)
    for row, (_, _, m) in zip(rows, pdus, strict=True):
        assert row["_ws.malformed"] == "" and row["_ws.expert"] == "", (m, row)
        want = expected(m)
        got = {k: row[k] for k in FIELDS if k not in ("_ws.malformed", "_ws.expert")}
        want = {k: want.get(k, "") for k in got}
        assert got == want, m


def test_the_pycrate_fix_changes_nothing_we_send_today() -> None:
    """Every PDU above, encoded by pycrate alone, is the codec's octets: no SEQUENCE extension
    addition is in them. When this fails, a new field needs the fix: check it with tshark."""
    from acdgate.gateway.h323.h245_codec import _value
    from pycrate_asn1dir import H245

    pdu = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
    for data, _, m in exchange():
        pdu.set_val(_value(m))
        assert pdu.to_aper() == data, m
