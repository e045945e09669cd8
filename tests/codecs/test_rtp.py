"""RTP/RTCP golden packets (parse, then re-serialize byte for byte), arithmetic, statistics."""

from __future__ import annotations

import pytest
from acdgate.codecs import rtcp, rtp
from acdgate.codecs.rtpstats import RtpReceiveStats

RTP_FULL = bytes.fromhex(
    "b2801234deadbeef11223344"  # V=2 P X CC=2, M, PT 0, seq, ts, ssrc
    "aabbccdd01020304"  # two CSRCs
    "bede000110ff0000"  # extension: profile 0xBEDE, one word
    "ffff7f00"  # payload
    "00000004"  # padding, 4 octets
)
RTP_PLAIN = bytes.fromhex("8008fffe0000a0000000beef") + bytes(range(160))


def test_rtp_golden_full_packet() -> None:
    p = rtp.RtpPacket.parse(RTP_FULL)
    assert (p.payload_type, p.marker, p.sequence, p.timestamp, p.ssrc) == (
        0, True, 0x1234, 0xDEADBEEF, 0x11223344)
    assert p.csrcs == (0xAABBCCDD, 0x01020304)
    assert p.extension == rtp.RtpExtension(0xBEDE, bytes.fromhex("10ff0000"))
    assert p.payload == bytes.fromhex("ffff7f00")
    assert p.padding == rtp.padding_of(4)
    assert p.build() == RTP_FULL


def test_rtp_golden_plain_packet() -> None:
    p = rtp.RtpPacket.parse(RTP_PLAIN)
    assert (p.payload_type, p.marker, p.sequence, p.timestamp) == (8, False, 0xFFFE, 0xA000)
    assert p.payload == bytes(range(160)) and p.csrcs == () and p.extension is None
    assert p.build() == RTP_PLAIN
    built = rtp.RtpPacket(8, 0xFFFE, 0xA000, 0xBEEF, bytes(range(160))).build()
    assert built == RTP_PLAIN


@pytest.mark.parametrize("bad", [
    b"",
    RTP_PLAIN[:11],
    b"\x40" + RTP_PLAIN[1:],  # version 1
    bytes.fromhex("8f00000100000001000000010000"),  # 15 CSRCs announced, none there
    bytes.fromhex("9000000100000001000000010001"),  # extension header truncated
    bytes.fromhex("90000001000000010000000100010005"),  # extension longer than the packet
    bytes.fromhex("a0000001000000010000000100ff"),  # padding longer than the packet
    bytes.fromhex("a000000100000001000000010000"),  # padding length 0
])
def test_rtp_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(rtp.RtpError):
        rtp.RtpPacket.parse(bad)


def test_sequence_and_timestamp_wrap() -> None:
    assert rtp.seq_add(0xFFFF, 1) == 0
    assert rtp.seq_diff(2, 0xFFFE) == 4 and rtp.seq_diff(0xFFFE, 2) == -4
    assert rtp.seq_lt(0xFFF0, 5) and not rtp.seq_lt(5, 0xFFF0)
    assert rtp.ts_add(0xFFFFFF00, 0x200) == 0x100
    assert rtp.ts_diff(0x100, 0xFFFFFF00) == 0x200 and rtp.ts_lt(0xFFFFFF00, 0x100)
    ext = rtp.SequenceExtender()
    got = [ext.extend(s) for s in (0xFFFD, 0xFFFF, 0xFFFE, 0, 2, 1, 0xFFFF)]
    assert got == [0xFFFD, 0xFFFF, 0xFFFE, 0x10000, 0x10002, 0x10001, 0xFFFF]
    tsx = rtp.TimestampExtender()
    assert [tsx.extend(t) for t in (0xFFFFFF60, 0x0, 0xFFFFFFB0)] == [0xFFFFFF60, 1 << 32, 0xFFFFFFB0]


# --- RTCP ---------------------------------------------------------------------------------

SR_SDES = bytes.fromhex(
    "81c8000c" "11223344" "e45f3c2b80000000" "0001f400" "00000064" "00003e80"
    "55667788" "19ffffff" "00010005" "00000021" "3c2b8000" "00010000"
    "81ca0004" "11223344" "0103614062" "060178" "00000000"
)
RR_EMPTY_PADDED = bytes.fromhex("a0c90002" "55667788" "00000004")
RR_ONE = bytes.fromhex("81c90007" "55667788" "11223344" "00000010" "0000ffff" "00000003"
                       "00000000" "00000000")
BYE_REASON = bytes.fromhex("81cb0003" "11223344" "04646f6e65000000")
BYE_TWO = bytes.fromhex("82cb0002" "11223344" "55667788")


def test_rtcp_sr_sdes_compound_golden() -> None:
    sr, sdes = rtcp.parse_compound(SR_SDES)
    assert isinstance(sr, rtcp.SenderReport) and isinstance(sdes, rtcp.SourceDescription)
    assert sr.ssrc == 0x11223344 and sr.ntp_timestamp == 0xE45F3C2B80000000
    assert (sr.rtp_timestamp, sr.packet_count, sr.octet_count) == (0x1F400, 100, 16000)
    (block,) = sr.reports
    assert block == rtcp.ReportBlock(0x55667788, 0x19, -1, 0x10005, 0x21, 0x3C2B8000, 0x10000)
    assert sdes.chunks == (rtcp.SdesChunk(0x11223344, (
        (rtcp.SdesType.CNAME, b"a@b"), (rtcp.SdesType.TOOL, b"x"))),)
    assert rtcp.build_compound([sr, sdes]) == SR_SDES


@pytest.mark.parametrize("golden", [RR_EMPTY_PADDED, RR_ONE, BYE_REASON, BYE_TWO,
                                    RR_ONE + BYE_REASON])
def test_rtcp_golden_round_trip(golden: bytes) -> None:
    assert rtcp.build_compound(rtcp.parse_compound(golden)) == golden


def test_rtcp_fields() -> None:
    (rr,) = rtcp.parse_compound(RR_EMPTY_PADDED)
    assert rr == rtcp.ReceiverReport(0x55667788, (), b"", bytes.fromhex("00000004"))
    (bye,) = rtcp.parse_compound(BYE_REASON)
    assert bye == rtcp.Bye((0x11223344,), b"done")
    (bye2,) = rtcp.parse_compound(BYE_TWO)
    assert bye2 == rtcp.Bye((0x11223344, 0x55667788), None)
    app = rtcp.UnknownRtcp(204, 1, b"\x00\x00\x00\x01name")
    assert rtcp.parse_compound(rtcp.build_packet(app)) == [app]
    assert rtcp.ntp_middle(0xE45F3C2B80000000) == 0x3C2B8000
    assert rtcp.ntp_from_seconds(1.5) == (1 << 32) | (1 << 31)


@pytest.mark.parametrize("bad", [
    b"", bytes.fromhex("81c8"), bytes.fromhex("41c90001" "55667788"),
    bytes.fromhex("81c90001" "55667788"),  # one report block announced, none present
    bytes.fromhex("81c90007" "55667788"),  # length beyond the datagram
    bytes.fromhex("81ca0002" "11223344" "01056162"),  # SDES item past the end
    bytes.fromhex("81cb0000"),  # BYE with one SSRC announced, none present
])
def test_rtcp_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(rtcp.RtcpError):
        rtcp.parse_compound(bad)


def test_rtcp_sdes_padding_must_be_null_octets() -> None:
    """Found by fuzz/fuzz_rtp.py (fuzz/corpus/rtp/crash-sdes-padding-not-null.bin): a chunk
    whose padding after the null item held a non-null octet parsed, and built back with null
    padding, so the packet no longer built to the bytes it came from (RFC 3550 6.5)."""
    good = bytes.fromhex("81ca0003" "11223344" "01026162" "00000000")
    assert rtcp.build_compound(rtcp.parse_compound(good)) == good
    with pytest.raises(rtcp.RtcpError, match="padding is not null"):
        rtcp.parse_compound(bytes.fromhex("81ca0003" "11223344" "01026162" "00000200"))


@pytest.mark.parametrize("tail", ["00000000" "00000667", "0000000000000000", "03616263" "00000001"])
def test_rtcp_bye_reason_is_followed_only_by_its_null_padding(tail: str) -> None:
    """Found by fuzz/fuzz_rtp.py (fuzz/corpus/rtp/crash-bye-bytes-after-reason.bin): octets
    after a BYE's reason were dropped, so the packet built back to other bytes (RFC 3550 6.6)."""
    good = bytes.fromhex("81cb0002" "11223344" "03616263")
    assert rtcp.build_compound(rtcp.parse_compound(good)) == good
    words = len(tail) // 8
    with pytest.raises(rtcp.RtcpError, match="more than its null padding"):
        rtcp.parse_compound(bytes.fromhex(f"81cb{1 + words:04x}" "11223344" + tail))


# --- statistics (RFC 3550 A.1, A.3, A.8) --------------------------------------------------


def test_stats_loss_wrap_and_fraction() -> None:
    st = RtpReceiveStats(ssrc=7, probation=0)
    seqs = [0xFFFA + i for i in range(12) if i not in (3, 7, 8)]  # 3 lost, wraps past 0xFFFF
    for i, s in enumerate(seqs):
        assert st.update(s & 0xFFFF, 160 * i, arrival=0.02 * i)
    assert st.packets_received == 9
    assert st.extended_highest_sequence == 0x10000 + 5
    assert st.expected == 12 and st.lost == 3
    assert st.take_fraction_lost() == (3 << 8) // 12
    for s in range(6, 16):  # next interval: 10 packets, none lost
        st.update(s, 0, 1.0)
    block = st.report_block()
    assert block.fraction_lost == 0 and block.cumulative_lost == 3
    assert block.highest_sequence == 0x10000 + 15


def test_stats_probation_and_restart() -> None:
    st = RtpReceiveStats(ssrc=1)
    assert not st.update(100, 0, 0.0)  # A.1: first packet is on probation
    assert st.update(101, 160, 0.02)
    assert st.packets_received == 1 and st.expected == 1
    assert not st.update(40000, 0, 0.04)  # big jump: held as possible restart
    assert st.update(40001, 160, 0.06)  # sequential after it: source restarted
    assert st.bad_jumps == 1 and st.packets_received == 1


def test_stats_jitter_matches_a8_formula() -> None:
    st = RtpReceiveStats(ssrc=1, probation=0)
    delays = [0.010, 0.030, 0.012, 0.050, 0.020, 0.020, 0.035]
    expected = 0.0
    prev_transit = None
    for i, d in enumerate(delays):
        arrival = 0.02 * i + d
        st.update(i, 160 * i, arrival)
        transit = arrival * 8000 - 160 * i
        if prev_transit is not None:
            expected += (abs(transit - prev_transit) - expected) / 16
        prev_transit = transit
    assert st.jitter == pytest.approx(expected)
    assert st.jitter > 10
    steady = RtpReceiveStats(ssrc=2, probation=0)
    for i in range(50):
        steady.update(i, (0xFFFFF000 + 160 * i) & 0xFFFFFFFF, 5.0 + 0.02 * i)
    assert steady.jitter == pytest.approx(0.0, abs=1e-6)
