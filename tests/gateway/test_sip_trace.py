"""`--sip-trace`'s pcap frames carry checksums tshark verifies, and the Internet checksum
(RFC 1071) the lab hub shares with it gives the RFC's own worked example."""

from __future__ import annotations

from pathlib import Path

from acdgate.gateway.sip.trace import SipTrace, internet_checksum, transport_checksum
from sipwire import tshark_fields

MESSAGE = (
    b"OPTIONS sip:2101@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKx\r\n"
    b"From: <sip:gw@192.0.2.7>;tag=1\r\nTo: <sip:2101@192.0.2.1>\r\nCall-ID: c1\r\n"
    b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)
_CHECKSUMS_ON = ("ip.check_checksum:TRUE", "udp.check_checksum:TRUE", "tcp.check_checksum:TRUE")


def test_internet_checksum_of_rfc_1071_example() -> None:
    # RFC 1071 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement); odd lengths
    # are padded with a zero octet
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6")) == internet_checksum(
        bytes.fromhex("0001f203f4f5f600")
    )


def test_transport_checksum_verifies_to_zero() -> None:
    # a segment carrying its own checksum sums to 0xFFFF over the pseudo-header: checksum 0
    src, dst = bytes([192, 0, 2, 7]), bytes([192, 0, 2, 1])
    segment = bytearray(b"\x13\xc4\x13\xc4\x00\x0d\x00\x00hello")
    segment[6:8] = transport_checksum(src, dst, 17, bytes(segment)).to_bytes(2, "big")
    assert transport_checksum(src, dst, 17, bytes(segment)) == 0


def test_trace_checksums_pass_tshark_validation(tmp_path: Path) -> None:
    assert len(MESSAGE) % 2 == 1  # an odd segment: the checksum pads it with a zero octet
    pcap = tmp_path / "trace.pcap"
    trace = SipTrace(pcap)
    for transport in ("UDP", "TCP", "TLS"):
        trace.record(MESSAGE, ("192.0.2.7", 5060), ("192.0.2.1", 5062), transport, 1.25)
        # one more octet (Call-ID c12): an even segment as well
        trace.record(MESSAGE.replace(b"c1", b"c12"), ("[2001:db8::7]", 5060), ("2001:db8::1", 5062), transport, 1.5)
    trace.close()
    rows = tshark_fields(str(pcap), "ip.checksum.status", "udp.checksum.status",
                         "tcp.checksum.status", "sip.Method", preferences=_CHECKSUMS_ON)  # fmt: skip
    # 1 = good; a v6 frame has no IP header checksum, a UDP frame no TCP one
    assert rows == [
        ["1", "1", "", "OPTIONS"], ["", "1", "", "OPTIONS"],
        ["1", "", "1", "OPTIONS"], ["", "", "1", "OPTIONS"],
        ["1", "", "1", "OPTIONS"], ["", "", "1", "OPTIONS"],
    ], rows  # fmt: skip
