"""Shared pieces of the call signalling tests: hypothesis strategies for every `cs_messages`
dataclass, real H.245 PDUs for fastStart and tunnelling, and a pcap writer for tshark."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from acdgate.gateway.h323.cs_messages import (
    Alerting,
    CallProceeding,
    CallSignal,
    CallState,
    Connect,
    Facility,
    FacilityReason,
    H245Tunnel,
    Information,
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
from acdgate.gateway.h323.ras_codec import _aper_fixed
from acdgate.gateway.h323.ras_messages import Alias, AliasKind, TransportAddress
from hypothesis import strategies as st
from pycrate_asn1dir import H245
from scapy.all import IP, TCP, Raw, wrpcap

PHONE = "192.0.2.10"
GATEWAY = "192.0.2.1"
PHONE_PORT = 40000


def _olc(channel: int, codec: str, port: int) -> bytes:
    """An H.245 OpenLogicalChannel proposing G.711 (`g711Ulaw64k`/`g711Alaw64k`), as fastStart."""
    olc = H245.MULTIMEDIA_SYSTEM_CONTROL.OpenLogicalChannel
    olc.set_val({
        "forwardLogicalChannelNumber": channel,
        "forwardLogicalChannelParameters": {
            "dataType": ("audioData", (codec, 20)),
            "multiplexParameters": ("h2250LogicalChannelParameters", {
                "sessionID": 1,
                "mediaControlChannel": ("unicastAddress", ("iPAddress", {
                    "network": bytes([192, 0, 2, 10]), "tsapIdentifier": port}))})}})
    with _aper_fixed():
        data: bytes = olc.to_aper()
    return data


def _end_session() -> bytes:
    """An H.245 endSessionCommand (disconnect), a MultimediaSystemControlMessage to tunnel."""
    msc = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
    msc.set_val(("command", ("endSessionCommand", ("disconnect", 0))))
    with _aper_fixed():
        data: bytes = msc.to_aper()
    return data


# Real H.245 PDUs: Wireshark dissects fastStart and h245Control contents, so the tshark test
# needs well-formed ones; the round trips take any octets.
FAST_START = (_olc(1, "g711Ulaw64k", 5001), _olc(2, "g711Alaw64k", 5003))
H245_CONTROL = (_end_session(),)

GUID = bytes(range(1, 17))
CONF = bytes(range(17, 33))

guids = st.binary(min_size=16, max_size=16).filter(lambda b: b != bytes(16))
call_references = st.integers(0, 0x7FFF)
ia5 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
display_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                       max_size=40)
digits = st.text("0123456789*#", max_size=16)
bmp = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), min_size=1,
              max_size=20)
transports = st.builds(TransportAddress,
                       st.ip_addresses(v=4).map(str), st.integers(0, 0xFFFF))
aliases = st.lists(st.one_of(
    st.builds(Alias, st.just(AliasKind.DIALLED_DIGITS), st.text("0123456789#*,", min_size=1,
                                                                max_size=20)),
    st.builds(Alias, st.just(AliasKind.H323_ID), bmp),
    st.builds(Alias, st.just(AliasKind.URL_ID), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                                        min_size=1, max_size=20)),
    st.builds(Alias, st.just(AliasKind.EMAIL_ID), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                                          min_size=1, max_size=20)),
), max_size=3).map(tuple)
octet_lists = st.lists(st.binary(max_size=40), max_size=4).map(tuple)
tunnels = st.builds(H245Tunnel, st.booleans(), octet_lists)
vendors = st.one_of(st.just(""), st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF),
                                         min_size=1, max_size=30))


def _opt(strategy: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.none() | strategy


setups = st.builds(
    Setup, call_references, st.booleans(), guids, guids,
    source_aliases=aliases, destination_aliases=aliases, calling_number=_opt(digits),
    called_number=_opt(digits), display=_opt(display_text),
    source_call_signal_address=_opt(transports), dest_call_signal_address=_opt(transports),
    h245_address=_opt(transports), endpoint_identifier=_opt(bmp),
    source_endpoint_type=st.sampled_from(("terminal", "gateway", "mcu", "gatekeeper", "")),
    vendor=vendors, fast_start=octet_lists, media_wait_for_connect=st.booleans(),
    can_overlap_send=st.booleans(), multiple_calls=st.booleans(),
    maintain_connection=st.booleans(), h245=tunnels,
    bearer_capability=st.sampled_from(TransferCapability),
    calling_presentation=st.sampled_from(Presentation),
    calling_screening=st.sampled_from(Screening),
).map(lambda m: m if m.calling_number is not None else replace(  # octet 3a goes with a number
    m, calling_presentation=Presentation.ALLOWED,
    calling_screening=Screening.USER_PROVIDED_NOT_SCREENED))
call_proceedings = st.builds(
    CallProceeding, call_references, st.booleans(), guids, h245_address=_opt(transports),
    fast_start=octet_lists, fast_connect_refused=st.booleans(), multiple_calls=st.booleans(),
    maintain_connection=st.booleans(), h245=tunnels)
setup_acknowledges = st.builds(SetupAcknowledge, call_references, st.booleans(), guids,
                               h245=tunnels)
alertings = st.builds(
    Alerting, call_references, st.booleans(), guids, h245_address=_opt(transports),
    fast_start=octet_lists, fast_connect_refused=st.booleans(), display=_opt(display_text),
    multiple_calls=st.booleans(), maintain_connection=st.booleans(), h245=tunnels)
progresses = st.builds(
    Progress, call_references, st.booleans(), guids, progress_description=_opt(st.integers(0, 127)),
    h245_address=_opt(transports), fast_start=octet_lists, multiple_calls=st.booleans(),
    maintain_connection=st.booleans(), h245=tunnels)
connects = st.builds(
    Connect, call_references, st.booleans(), guids, guids, h245_address=_opt(transports),
    fast_start=octet_lists, fast_connect_refused=st.booleans(), connected_aliases=aliases,
    display=_opt(display_text), vendor=vendors, multiple_calls=st.booleans(),
    maintain_connection=st.booleans(), h245=tunnels)
release_completes = st.builds(
    ReleaseComplete, call_references, st.booleans(), guids, cause=_opt(st.integers(0, 127)),
    reason=_opt(st.sampled_from(ReleaseCompleteReason)), display=_opt(display_text),
    h245=tunnels).filter(lambda m: m.cause is not None or m.reason is not None)
facilities = st.one_of(
    st.builds(Facility, call_references, st.booleans(), guids,
              reason=st.sampled_from(FacilityReason), h245_address=_opt(transports),
              fast_start=octet_lists, multiple_calls=st.booleans(),
              maintain_connection=st.booleans(), h245=tunnels),
    # the `empty` body: only the H.245 fields travel
    st.builds(Facility, call_references, st.booleans(), st.just(b""), h245=tunnels))
informations = st.builds(
    Information, call_references, st.booleans(), guids, keypad=_opt(digits),
    called_number=_opt(digits), display=_opt(display_text), h245=tunnels)
notifies = st.builds(Notify, call_references, st.booleans(), guids, display=_opt(display_text),
                     h245=tunnels)
status_enquiries = st.builds(StatusEnquiry, call_references, st.booleans(),
                             st.just(b"") | guids, h245=tunnels)
statuses = st.builds(Status, call_references, st.booleans(), st.integers(0, 127),
                     st.sampled_from(CallState), st.just(b"") | guids, h245=tunnels)

STRATEGIES: dict[type, st.SearchStrategy[CallSignal]] = {
    Setup: setups, SetupAcknowledge: setup_acknowledges, CallProceeding: call_proceedings, Alerting: alertings, Progress: progresses,
    Connect: connects, ReleaseComplete: release_completes, Facility: facilities,
    Information: informations, Notify: notifies, StatusEnquiry: status_enquiries,
    Status: statuses,
}
messages: st.SearchStrategy[CallSignal] = st.one_of(*STRATEGIES.values())


def write_pcap(path: Path, segments: Iterable[tuple[bytes, bool]]) -> None:
    """A pcap of one TCP connection to port 1720, True: phone -> gateway; each segment one packet
    with running sequence numbers, so tshark's TCP and TPKT dissectors read it as sent."""
    seq = {True: 1000, False: 50000}
    packets = []
    for data, from_phone in segments:
        src, dst = (PHONE, GATEWAY) if from_phone else (GATEWAY, PHONE)
        sport, dport = (PHONE_PORT, 1720) if from_phone else (1720, PHONE_PORT)
        packets.append(IP(src=src, dst=dst)
                       / TCP(sport=sport, dport=dport, flags="PA", seq=seq[from_phone],
                             ack=seq[not from_phone])
                       / Raw(data))
        seq[from_phone] += len(data)
    wrpcap(str(path), packets)
