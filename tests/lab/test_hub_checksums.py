"""The lab hub recomputes the UDP/TCP checksum a veth left to offload, with the gateway's
Internet checksum: frames the SIP trace writes (checked by tshark in test_sip_trace) come back
byte for byte once their checksum field is blanked."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from acdgate.gateway.sip.trace import SipTrace
from acdgate.lab.hub import with_checksums

MESSAGE = b"OPTIONS sip:2101@198.18.0.10 SIP/2.0\r\nContent-Length: 0\r\n\r\n"


def _frames(tmp_path: Path, transport: str, src: str, dst: str) -> list[bytes]:
    """Ethernet frames as `SipTrace` writes them (correct checksums), read back from its pcap."""
    path = tmp_path / f"{transport}.pcap"
    trace = SipTrace(path)
    trace.record(MESSAGE, (src, 5060), (dst, 5062), transport, 1.0)
    trace.record(MESSAGE + b"v=0\r\n", (dst, 5062), (src, 5060), transport, 2.0)  # odd length
    trace.close()
    data = path.read_bytes()
    frames, at = [], 24  # pcap file header
    while at < len(data):
        length = struct.unpack("<I", data[at + 8 : at + 12])[0]
        frames.append(data[at + 16 : at + 16 + length])
        at += 16 + length
    return frames


@pytest.mark.parametrize(("transport", "offset"), [("UDP", 6), ("TCP", 16)])
def test_checksum_left_to_offload_is_filled_in(tmp_path: Path, transport: str, offset: int) -> None:
    frames = _frames(tmp_path, transport, "198.18.0.10", "198.18.0.20")
    assert len(frames) == 2
    for frame in frames:
        at = 14 + 20 + offset  # Ethernet, IPv4 without options, the checksum in UDP/TCP
        blank = frame[:at] + b"\x00\x00" + frame[at + 2 :]
        assert blank != frame
        assert with_checksums(blank) == frame


def test_frames_it_does_not_checksum_pass_unchanged(tmp_path: Path) -> None:
    v6 = _frames(tmp_path, "UDP", "2001:db8::10", "2001:db8::20")[0]
    assert with_checksums(v6) == v6
    v4 = _frames(tmp_path, "TCP", "198.18.0.10", "198.18.0.20")[0]
    later_fragment = v4[:20] + b"\x00\x10" + v4[22:]  # fragment offset 16 x 8 octets
    assert with_checksums(later_fragment) == later_fragment
