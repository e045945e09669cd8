"""MediaSession with no socket at all: datagrams in (`receive`), datagrams out
(`datagrams_to_send`), its timer run by hand (`get_timer`, `handle_timer`) on a fake clock.

Symmetric RTP latching, the RFC 4733 end-of-event triple, sequence and timestamp continuity
across playbacks, forwarding and key presses, and a malformed datagram that is dropped and
counted while the session goes on."""

from __future__ import annotations

import numpy as np
import pytest
from acdgate.codecs.g711 import Law, encode
from acdgate.codecs.rtp import RtpPacket, seq_add, ts_diff
from acdgate.codecs.telephone_event import TelephoneEvent, TelephoneEventSender
from acdgate.gateway.media.sdp import Negotiated, build_offer, negotiate_answer
from acdgate.gateway.media.session import Datagram, MediaSession
from twisted.internet import task

PHONE = ("192.0.2.10", 4000)  # where the phone's SDP says its RTP is
NAT = ("198.51.100.7", 61000)  # where its RTP really comes from (a NAT's mapping)
LOCAL_PORT = 40000
EVENT_PT = 101


def answered(remote: tuple[str, int] = PHONE, codecs: tuple[str, ...] = ("PCMU",)) -> Negotiated:
    offer = build_offer(remote[0], remote[1], 1, codecs=codecs).to_bytes()
    return negotiate_answer(offer, "192.0.2.1", LOCAL_PORT, 2)


class Wire:
    """The session and what it sent: the test is its I/O edge (clock, timer, outbox)."""

    def __init__(self, **kwargs: float) -> None:
        self.clock = task.Clock()
        self.session = MediaSession(self.clock, **kwargs)
        self.session.local_port = LOCAL_PORT  # what an RtpSocket sets when it binds
        self.sent: list[tuple[float, bytes, tuple[str, int]]] = []
        self.wakeups = 0
        self.session.on_output = self._woken

    def _woken(self) -> None:
        self.wakeups += 1

    def take(self) -> list[Datagram]:
        """What the session has to send now (kept in `sent` with the time)."""
        out = self.session.datagrams_to_send(self.clock.seconds())
        self.sent += [(self.clock.seconds(), data, addr) for data, addr in out]
        return out

    def run_until(self, t: float) -> None:
        """Advance the clock to `t`, running the session's timer whenever it is due."""
        self.take()
        while (when := self.session.get_timer()) is not None and when <= t:
            self.clock.advance(max(0.0, when - self.clock.seconds()))
            self.session.handle_timer(self.clock.seconds())
            self.take()
        self.clock.advance(max(0.0, t - self.clock.seconds()))

    def receive(self, data: bytes, addr: tuple[str, int] = PHONE) -> None:
        self.session.receive(data, addr, self.clock.seconds())
        self.take()

    def packets(self, to: tuple[str, int] | None = None) -> list[RtpPacket]:
        return [RtpPacket.parse(d) for _, d, a in self.sent if to is None or a == to]


def phone_audio(count: int, seq: int = 1000, ts: int = 80_000, ssrc: int = 0x5EED) -> list[bytes]:
    frame = encode(Law.ULAW, np.zeros(160, np.int16))
    return [RtpPacket(0, seq_add(seq, i), (ts + 160 * i) & 0xFFFFFFFF, ssrc, frame).build()
            for i in range(count)]


def test_a_session_needs_no_socket_and_reports_its_timer() -> None:
    wire = Wire()
    session = wire.session
    session.start(answered())
    assert session.get_timer() is None and wire.take() == []
    wire.clock.advance(1.0)
    session.play(np.zeros(480, np.int16))  # three 20 ms frames
    assert wire.wakeups >= 1, "the edge is told when datagrams wait"
    assert [addr for _, addr in wire.take()] == [PHONE]  # the first frame is due at once
    assert session.get_timer() == pytest.approx(1.02)
    session.handle_timer(1.01)  # early: nothing is due yet
    assert wire.take() == [] and session.get_timer() == pytest.approx(1.02)
    wire.run_until(2.0)
    assert len(wire.sent) == 3 and session.get_timer() is None and not session.playing
    session.close()
    assert session.closed and session.get_timer() is None


def test_latches_to_the_address_rtp_really_comes_from() -> None:
    wire = Wire()
    session = wire.session
    session.start(answered())
    session.play(np.zeros(320, np.int16))
    wire.run_until(0.1)
    assert {a for _, _, a in wire.sent} == {PHONE}, "before any packet: the SDP's address"
    first, second = phone_audio(2)
    wire.receive(first, NAT)
    assert session.remote == NAT and session.stats.latches == 1
    session.play(np.zeros(320, np.int16))
    wire.run_until(0.2)
    assert len(wire.packets(NAT)) == 2 and len(wire.packets(PHONE)) == 2
    # Once latched, the SDP's address (or anyone else) is foreign: dropped and counted.
    wire.receive(second, PHONE)
    stats = session.stats
    assert stats.foreign_packets == 1 and stats.packets_received == 1 and session.remote == NAT
    # A re-negotiation (re-INVITE) unlatches: the next source is taken again.
    session.start(answered())
    assert session.remote == PHONE
    wire.receive(phone_audio(1, seq=2000)[0], NAT)
    assert session.remote == NAT and session.stats.latches == 2


def test_rfc4733_key_press_ends_with_three_end_packets() -> None:
    wire = Wire()
    session = wire.session
    session.start(answered())
    wire.clock.advance(0.5)
    done: list[object] = []
    session.send_dtmf("5", duration_ms=100).addCallback(done.append)
    wire.run_until(1.0)
    assert done == [None]
    packets = wire.packets()
    assert {p.payload_type for p in packets} == {EVENT_PT}
    events = [TelephoneEvent.parse(p.payload) for p in packets]
    assert [e.event for e in events] == [5] * len(events)
    # RFC 4733 2.5.1.4: the final state is sent three times, E set, same timestamp and duration.
    ends = [(p, e) for p, e in zip(packets, events, strict=True) if e.end]
    assert len(ends) == 3 and packets[-3:] == [p for p, _ in ends]
    assert {e.duration for _, e in ends} == {800}  # 100 ms at 8 kHz
    assert {p.timestamp for p in packets} == {packets[0].timestamp}, "one event, one timestamp"
    assert [p.sequence for p in packets] == [seq_add(packets[0].sequence, i)
                                            for i in range(len(packets))]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    # ... paced 20 ms apart from the start, the three ends too.
    times = [t - 0.5 for t, _, _ in wire.sent]
    assert times[-3:] == pytest.approx([0.1, 0.12, 0.14])


def test_a_received_end_triple_is_one_key_press() -> None:
    wire = Wire()
    session = wire.session
    session.start(answered())
    got: list[tuple[str, str]] = []
    session.on_digit = lambda digit, method: got.append((digit, method))
    train = TelephoneEventSender(0x5EED, 500, EVENT_PT).key_press("#", 90_000, 60)
    for scheduled in train:
        wire.receive(scheduled.packet.build())
    assert [TelephoneEvent.parse(s.packet.payload).end for s in train][-3:] == [True] * 3
    assert got == [("#", "rfc4733")] and session.stats.digits_rfc4733 == 1


def test_sequence_and_timestamp_run_on_across_playbacks_key_presses_and_forwarding() -> None:
    wire = Wire()
    session = wire.session
    session.start(answered())
    session.play(np.zeros(480, np.int16))  # 3 frames at 0, 20, 40 ms
    wire.run_until(1.0)
    session.send_dtmf("1", duration_ms=60)  # at 1 s: 2 updates, then the end triple
    wire.run_until(2.0)
    session.play(np.zeros(320, np.int16))  # at 2 s: 2 frames
    wire.run_until(3.0)
    upstream = RtpPacket(0, 7, 123_456, 0xABC, encode(Law.ULAW, np.zeros(160, np.int16)),
                         marker=True)
    session.forward(upstream, Law.ULAW)  # a relayed packet at 3 s goes out as ours, marker kept
    wire.take()
    packets = wire.packets()
    assert len(packets) == 3 + 5 + 2 + 1
    assert {p.ssrc for p in packets} == {session.ssrc}
    assert [p.sequence for p in packets] == [seq_add(packets[0].sequence, i)
                                            for i in range(len(packets))]
    assert [p.marker for p in packets] == [True, False, False, True, False, False, False, False,
                                           True, False, True]
    # The timestamp follows the clock from one origin: each playback starts where the clock
    # says, never before the previous one's end (RFC 3550 5.1).
    origin = packets[0].timestamp
    starts = {0: 0.0, 3: 1.0, 8: 2.0, 10: 3.0}
    for index, at in starts.items():
        assert ts_diff(packets[index].timestamp, origin) == round(at * 8000), index
    assert ts_diff(packets[9].timestamp, packets[8].timestamp) == 160
    stats = session.stats
    assert stats.packets_sent == len(packets)


def test_a_malformed_datagram_is_dropped_and_counted_and_the_session_goes_on() -> None:
    wire = Wire()
    session = wire.session
    session.start(answered())
    got: list[tuple[str, str]] = []
    session.on_digit = lambda digit, method: got.append((digit, method))
    session.play(np.zeros(1600, np.int16))  # 200 ms of our audio while the phone sends
    audio = phone_audio(3) + phone_audio(3, seq=1004, ts=80_480)  # 1003: the bad event below
    for data in audio[:3]:
        wire.receive(data)
        wire.run_until(wire.clock.seconds() + 0.02)
    wire.receive(b"\x80\x00\x01")  # cut short inside the RTP header
    wire.receive(b"\x40" + bytes(20))  # RTP version 1
    wire.receive(RtpPacket(EVENT_PT, 1003, 80_480, 0x5EED, b"\x01").build())  # a truncated event
    assert session.stats.invalid_packets == 3
    for data in audio[3:]:
        wire.receive(data)
        wire.run_until(wire.clock.seconds() + 0.02)
    for scheduled in TelephoneEventSender(0x5EED, 1007, EVENT_PT).key_press("7", 80_960, 40):
        wire.receive(scheduled.packet.build())
    wire.run_until(1.0)
    stats = session.stats
    assert stats.invalid_packets == 3
    # every valid packet counted (the truncated event parsed as RTP: received, then refused)
    assert stats.packets_received == len(audio) + 1 + 4  # a 40 ms press: 1 update, 3 ends
    assert stats.packets_lost == 0
    assert got == [("7", "rfc4733")]
    assert stats.packets_sent == 10 and session.get_timer() is None, "the playback ran to its end"
    assert session.remote == PHONE and stats.foreign_packets == 0


def test_inband_digits_wait_for_the_grace_deadline_of_the_timer() -> None:
    from acdgate.codecs.dtmf_generator import generate_digits

    wire = Wire(inband_grace=0.12)
    session = wire.session
    session.start(answered())
    got: list[tuple[str, str]] = []
    session.on_digit = lambda digit, method: got.append((digit, method))
    tone = encode(Law.ULAW, generate_digits("9", tone_ms=80, pause_ms=60))
    for i in range(0, len(tone), 160):
        wire.receive(RtpPacket(0, 300 + i // 160, 1000 + i, 0x77, tone[i:i + 160]).build())
        if session.get_timer() is not None:
            break
        wire.clock.advance(0.02)
    detected_at = wire.clock.seconds()
    assert got == [] and session.get_timer() == pytest.approx(detected_at + 0.12)
    wire.run_until(detected_at + 0.2)
    assert got == [("9", "inband")] and session.get_timer() is None
