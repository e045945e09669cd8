"""Golden vectors: H.245 PDUs as a real endpoint (Microsoft NetMeeting 3.0) sent them
(tests/gateway/data/h245_golden/README.md says where they come from)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_events import SendH245
from acdgate.gateway.h323.h245_messages import (
    AudioCapability,
    AudioCodec,
    MasterSlaveDetermination,
    MasterSlaveDeterminationAck,
    MsdDecision,
    TerminalCapabilitySet,
    TerminalCapabilitySetAck,
)
from acdgate.gateway.h323.ras_codec import _aper_fixed
from h245_support import numbers, session, write_pcap
from pycrate_asn1dir import H245

GOLDEN = Path(__file__).parent / "data" / "h245_golden"
TCS = (GOLDEN / "netmeeting3-tcs.bin").read_bytes()
MSD = (GOLDEN / "netmeeting3-msd.bin").read_bytes()
CODEC = H245Codec()


def test_netmeeting_tcs_decodes_to_its_g711_entries() -> None:
    tcs = CODEC.decode(TCS)
    assert isinstance(tcs, TerminalCapabilitySet)
    assert tcs.sequence_number == 1
    assert tcs.capabilities == (AudioCapability(2, AudioCodec.G711_ALAW, 180),
                                AudioCapability(3, AudioCodec.G711_ULAW, 180))
    assert tcs.other_entries == (32768, 15, 1, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14)
    assert len(tcs.descriptors) == 5 and tcs.undefined_entries() == ()


def test_netmeeting_tcs_is_reencoded_bit_for_bit_by_the_codec_layer() -> None:
    """pycrate's object, with the encoder fix we apply, gives back the endpoint's 518 octets."""
    pdu = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
    pdu.from_aper(TCS)
    with _aper_fixed():
        assert pdu.to_aper() == TCS


def test_netmeeting_msd_round_trips_through_our_values() -> None:
    msd = CODEC.decode(MSD)
    assert msd == MasterSlaveDetermination(50, 2727315)
    assert CODEC.encode(msd) == MSD


def test_our_engine_answers_netmeeting() -> None:
    gw = session(randoms=numbers(1))
    assert gw.receive(CODEC.decode(TCS), 0.0) == [SendH245(TerminalCapabilitySetAck(1))]
    # terminal type 60 (gateway) beats NetMeeting's 50: we are master, the Ack says it is slave
    assert gw.receive(CODEC.decode(MSD), 0.0) == [
        SendH245(MasterSlaveDeterminationAck(MsdDecision.SLAVE))]
    assert gw.rfc2833_payload_type is None


def test_tshark_reads_the_golden_pdus_cleanly(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark is not None
    pcap = tmp_path / "golden.pcap"
    write_pcap(pcap, [(TCS, True), (MSD, True)], 1800)
    out = subprocess.run(
        [tshark, "-r", str(pcap), "-d", "tcp.port==1800,h245", "-T", "fields",
         "-e", "h245.request", "-e", "h245.g711Alaw64k", "-e", "h245.g711Ulaw64k",
         "-e", "h245.statusDeterminationNumber", "-e", "_ws.malformed", "-e", "_ws.expert"],
        capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.splitlines() == ["2\t180\t180\t\t\t", "1\t\t\t2727315\t\t"]
