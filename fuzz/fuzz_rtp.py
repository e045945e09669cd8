"""Fuzz the RTP and RTCP parsers and the receive path behind them against their contract.

Contract: `RtpPacket.parse` (codecs/rtp.py) raises only `RtpError` and a packet it accepts
builds back to the same bytes (RFC 3550 5.1); `rtcp.parse_compound` (codecs/rtcp.py) raises
only `RtcpError` and the packets it accepts build back into the same compound datagram
(RFC 3550 6.1); a stream of accepted packets goes through what MediaSession does with audio
(receive statistics, jitter buffer, G.711 decoding) without an exception.
"""

from __future__ import annotations

from acdgate.codecs import g711
from acdgate.codecs.jitterbuffer import Fill, JitterBuffer
from acdgate.codecs.rtcp import RtcpError, build_compound, parse_compound
from acdgate.codecs.rtp import RtpError, RtpPacket
from acdgate.codecs.rtpstats import RtpReceiveStats
from atheris_driver import datagrams


def _datagram(data: bytes) -> RtpPacket | None:
    packet: RtpPacket | None = None
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        pass
    else:
        assert packet.build() == data, packet
    try:
        packets = parse_compound(data)
    except RtcpError:
        pass
    else:
        assert build_compound(packets) == data, packets
    return packet


def check(data: bytes) -> None:
    """One input as a datagram, then as a stream of datagrams on one RTP port."""
    _datagram(data)
    stats: RtpReceiveStats | None = None
    jitter = JitterBuffer(g711.Law.ULAW, fill=Fill.REPEAT)
    for now, datagram in enumerate(datagrams(data)):
        packet = _datagram(datagram)
        if packet is None:
            continue
        if stats is None or stats.ssrc != packet.ssrc:
            stats = RtpReceiveStats(packet.ssrc)
        stats.update(packet.sequence, packet.timestamp, now * 0.02)
        jitter.push(packet)
        while (frame := jitter.pop()) is not None:
            g711.decode(g711.Law.ULAW, frame.payload)
    for frame in jitter.drain():
        g711.decode(g711.Law.ULAW, frame.payload)
    if stats is not None:
        stats.snapshot()


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
