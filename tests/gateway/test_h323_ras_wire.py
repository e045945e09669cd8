"""The independent check: every RAS message the tests send and the gatekeeper answers, read by
tshark's own H.225.0 dissector, field by field, with no malformed packet or expert warning.

No H.323 endpoint is packaged for Debian 12, so Wireshark's dissector (written from the ITU
ASN.1, not from pycrate) is the second opinion on our aligned PER. It caught a pycrate 0.8.1
encoder bug (see `ras_codec._aper_fixed`): `test_pycrate_alone_still_needs_the_fix` says when
an upgrade makes that fix unnecessary.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_events import SendDatagram
from acdgate.gateway.h323.ras_messages import (
    AdmissionRequest,
    BandwidthRequest,
    DisengageRequest,
    GatekeeperRequest,
    InfoRequestResponse,
    LocationRequest,
    RasAnswer,
    RasRequest,
    RegistrationConfirm,
    RegistrationReject,
    RegistrationRequest,
    UnregistrationRequest,
)
from h323_ras_support import (
    NOW,
    PHONE,
    PHONE_RAS,
    PHONE_SIGNAL,
    digits,
    make_gatekeeper,
    rrq,
    write_pcap,
)
from pycrate_asn1dir import H225

TSHARK = shutil.which("tshark")
# H.225.0 RasMessage CHOICE indexes, as the standard numbers them (tshark prints the index)
RAS_INDEX = {
    "GatekeeperRequest": 0, "GatekeeperConfirm": 1, "GatekeeperReject": 2,
    "RegistrationRequest": 3, "RegistrationConfirm": 4, "RegistrationReject": 5,
    "UnregistrationRequest": 6, "UnregistrationConfirm": 7, "UnregistrationReject": 8,
    "AdmissionRequest": 9, "AdmissionConfirm": 10, "AdmissionReject": 11,
    "BandwidthRequest": 12, "BandwidthConfirm": 13, "BandwidthReject": 14,
    "DisengageRequest": 15, "DisengageConfirm": 16, "DisengageReject": 17,
    "LocationRequest": 18, "LocationReject": 20, "InfoRequest": 21, "InfoRequestResponse": 22,
    "UnknownMessageResponse": 24, "InfoRequestAck": 28,
}
FIELDS = ("h225.RasMessage", "h225.requestSeqNum", "h225.endpointIdentifier", "h225.timeToLive",
          "h225.dialledDigits", "h225.gatekeeperIdentifier", "h235.generalID", "h235.challenge",
          "_ws.malformed", "_ws.expert")
CONF = bytes(range(16))


def exchange() -> list[tuple[bytes, bool, RasRequest | RasAnswer]]:
    """Every request kind, and every answer kind, from one scripted session with the engine."""
    gk = make_gatekeeper()
    codec = RasCodec()
    log: list[tuple[bytes, bool, RasRequest | RasAnswer]] = []

    def send(request: RasRequest, now: float = NOW) -> list[RasAnswer]:
        data = codec.encode(request)
        log.append((data, True, request))
        sent = [a for a in gk.receive(data, PHONE, now) if isinstance(a, SendDatagram)]
        log.extend((a.data, False, a.message) for a in sent)
        return [a.message for a in sent]

    send(GatekeeperRequest(1, PHONE_RAS))
    send(GatekeeperRequest(2, PHONE_RAS, (digits("2201"),), "elsewhere"))
    send(rrq(3, digits("2201"), "wrong"))
    (rcf,) = send(rrq(4, digits("2201"), "pw2201"))
    assert isinstance(rcf, RegistrationConfirm)
    ep = rcf.endpoint_identifier
    send(RegistrationRequest(5, (PHONE_SIGNAL,), (PHONE_RAS,), keep_alive=True,
                             endpoint_identifier=ep, time_to_live=120), NOW + 60)
    send(AdmissionRequest(6, ep, (digits("2201"),), 1280, 77, CONF,
                          destination_info=(digits("6000"),), call_identifier=CONF))
    send(AdmissionRequest(7, "nobody", (digits("2201"),), 1280, 78, CONF, call_identifier=CONF))
    send(BandwidthRequest(8, ep, CONF, 77, 640, CONF))
    send(BandwidthRequest(9, "nobody", CONF, 77, 640, CONF))
    send(DisengageRequest(10, ep, CONF, 77, CONF, answered_call=True))
    send(DisengageRequest(11, "nobody", CONF, 77, CONF))
    send(LocationRequest(12, (digits("2202"),), PHONE_RAS))
    send(InfoRequestResponse(13, ep, PHONE_RAS, (PHONE_SIGNAL,), need_response=True))
    for action in gk.info_request(ep):
        assert isinstance(action, SendDatagram)
        log.append((action.data, False, action.message))
    data = codec.encode(rcf)  # a confirm sent to the gatekeeper: XRS
    sent = [a for a in gk.receive(data, PHONE, NOW) if isinstance(a, SendDatagram)]
    log.extend((a.data, False, a.message) for a in sent)
    send(UnregistrationRequest(14, (PHONE_SIGNAL,), endpoint_identifier=ep))
    send(UnregistrationRequest(15, (PHONE_SIGNAL,), endpoint_identifier=ep))
    return log


def tshark_fields(pcap: Path) -> list[dict[str, str]]:
    assert TSHARK is not None
    command = [TSHARK, "-r", str(pcap), "-d", "udp.port==1719,h225", "-T", "fields",
               "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        command += ["-e", f]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    return [dict(zip(FIELDS, line.split("|"), strict=True)) for line in out.splitlines()]


def expected_fields(m: RasRequest | RasAnswer) -> dict[str, str]:
    """What tshark must see in `m`, written from our side of the dataclass."""
    want = {"h225.RasMessage": str(RAS_INDEX[type(m).__name__]), "h225.requestSeqNum": str(m.seq),
            "_ws.malformed": "", "_ws.expert": ""}
    if isinstance(m, RegistrationConfirm):
        want |= {"h225.endpointIdentifier": m.endpoint_identifier,
                 "h225.timeToLive": str(m.time_to_live),
                 "h225.gatekeeperIdentifier": m.gatekeeper_identifier}
    if isinstance(m, RegistrationReject):
        want["h225.gatekeeperIdentifier"] = m.gatekeeper_identifier
    if isinstance(m, RegistrationRequest) and not m.keep_alive:
        want["h225.dialledDigits"] = ",".join(a.value for a in m.terminal_aliases)
        if m.tokens:
            token = m.tokens[0]
            assert token.challenge is not None
            want |= {"h235.generalID": token.general_id or "", "h235.challenge": token.challenge.hex()}
    if isinstance(m, AdmissionRequest | BandwidthRequest | DisengageRequest):
        want["h225.endpointIdentifier"] = m.endpoint_identifier
    return want


def test_tshark_reads_every_message_as_meant(tmp_path: Path) -> None:
    log = exchange()
    kinds = {type(m).__name__ for _, _, m in log}
    assert kinds == set(RAS_INDEX), set(RAS_INDEX) - kinds  # every kind on the wire at least once
    pcap = tmp_path / "ras.pcap"
    write_pcap(pcap, [(data, to_gk) for data, to_gk, _ in log])
    seen = tshark_fields(pcap)
    assert len(seen) == len(log)
    for (_, _, message), fields in zip(log, seen, strict=True):
        want = expected_fields(message)
        assert {k: fields[k] for k in want} == want, message


def test_pycrate_alone_still_needs_the_fix() -> None:
    """pycrate 0.8.1 adds a zero octet to a DRQ whose root ends off an octet boundary; when
    this fails, pycrate is fixed and `ras_codec._aper_fixed` can go."""
    drq = DisengageRequest(10, "ep1", CONF, 77, CONF, answered_call=True)
    ours = RasCodec().encode(drq)
    pdu = H225.H323_MESSAGES.RasMessage
    pdu.set_val(("disengageRequest", {
        "requestSeqNum": 10, "endpointIdentifier": "ep1", "conferenceID": CONF,
        "callReferenceValue": 77, "disengageReason": ("normalDrop", 0),
        "callIdentifier": {"guid": CONF}, "answeredCall": True}))
    assert len(pdu.to_aper()) == len(ours) + 1
    assert RasCodec().decode(ours) == drq
