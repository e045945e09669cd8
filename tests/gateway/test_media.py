"""MediaSession: pacing and packet shapes on a fake clock with an in-memory UDP port; two
sessions talking over loopback (RFC 4733 and in-band DTMF, tones, symmetric RTP latching)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import pytest_twisted
from acdgate.codecs.dtmf_generator import generate_digits, generate_dtmf
from acdgate.codecs.g711 import Law, encode
from acdgate.codecs.rtp import RtpPacket, seq_add, ts_diff
from acdgate.codecs.telephone_event import TelephoneEventReceiver, TelephoneEventSender
from acdgate.codecs.tone_detector import detect_tone, matches_cadence
from acdgate.codecs.tones import CONFIRMATION_TONE, ERROR_TONE
from acdgate.gateway.media.ports import MediaError, NoRtpPort, RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import Negotiated, build_offer, negotiate_answer, parse_answer
from acdgate.gateway.media.session import MediaSession
from memory_udp import FakeUdpReactor, MemoryUdpPort
from twisted.internet import defer, task
from twisted.internet.protocol import DatagramProtocol

PHONE = ("127.0.0.1", 4000)


def answered(local_port: int, remote: tuple[str, int] = PHONE, codecs: tuple[str, ...] = (
        "PCMU", "PCMA"), direction: str = "sendrecv") -> Negotiated:
    """What negotiate_answer gives for a phone's offer from `remote`."""
    offer = build_offer(remote[0], remote[1], 1, codecs=codecs).to_bytes()
    offer = offer.replace(b"a=sendrecv", f"a={direction}".encode())
    return negotiate_answer(offer, "127.0.0.1", local_port, 2)


def fake_session(busy: set[int] | None = None, **kwargs: Any) -> tuple[
        FakeUdpReactor, MediaSession, MemoryUdpPort]:
    clock = FakeUdpReactor(busy)
    session = MediaSession(clock, **kwargs)
    port = RtpSocket(clock, "127.0.0.1", RtpPortPool(30000, 30010), session).open()
    session.start(answered(port))
    return clock, session, clock.ports[port]


def run_until(clock: task.Clock, d: defer.Deferred[None], step: float) -> None:
    fired: list[object] = []
    d.addCallback(fired.append)
    for _ in range(100_000):
        if fired:
            return
        clock.advance(step)
    raise AssertionError("playback never finished")


class PhoneStream:
    """Builds the RTP a phone would send: audio frames and RFC 4733 events, one SSRC."""

    def __init__(self, law: Law = Law.ULAW, seq: int = 65500, ts: int = 4_294_960_000) -> None:
        self.law, self.seq, self.ts, self.ssrc = law, seq, ts, 0x1234ABCD

    def audio(self, samples: np.ndarray) -> list[bytes]:
        out = []
        for i in range(0, len(samples), 160):
            out.append(RtpPacket(self.law.value, self.seq, self.ts, self.ssrc,
                                 encode(self.law, samples[i:i + 160])).build())
            self.seq = seq_add(self.seq, 1)
            self.ts = (self.ts + 160) & 0xFFFFFFFF
        return out

    def key_press(self, digit: str, duration_ms: int = 100, pt: int = 101) -> list[bytes]:
        sender = TelephoneEventSender(self.ssrc, self.seq, pt)
        train = sender.key_press(digit, self.ts, duration_ms)
        self.seq = sender.sequence
        self.ts = (self.ts + duration_ms * 8) & 0xFFFFFFFF
        return [p.packet.build() for p in train]


# --- pacing and packet shapes (fake clock) -----------------------------------------------


def test_pacing_fifty_packets_per_second_from_the_start_time() -> None:
    clock, session, port = fake_session()
    clock.advance(5.0)
    d = session.play(np.full(8000, 1000, dtype=np.int16))
    # Irregular timer service must not drift: packets due by t are all out at t.
    for _ in range(60):
        clock.advance(0.033)
        sent_by = clock.seconds() - 5.0
        assert len(port.sent) == min(50, int(sent_by / 0.02 + 1e-9) + 1)
    run_until(clock, d, 0.001)
    pkts = port.packets()
    assert len(pkts) == 50
    for i, ((at, _, addr), p) in enumerate(zip(port.sent, pkts, strict=True)):
        assert addr == PHONE
        assert p.sequence == seq_add(pkts[0].sequence, i) and p.ssrc == session.ssrc
        assert ts_diff(p.timestamp, pkts[0].timestamp) == 160 * i
        assert p.marker == (i == 0) and p.payload_type == 0 and len(p.payload) == 160
        assert at == pytest.approx(5.0 + 0.02 * i, abs=0.0331)
    # With a fine-grained clock the send times are exact.
    clock2, session2, port2 = fake_session()
    d2 = session2.play(np.zeros(1600, dtype=np.int16))
    run_until(clock2, d2, 0.0005)
    assert [round(t, 6) for t, _, _ in port2.sent] == [round(0.02 * i, 6) for i in range(10)]
    assert session.stats.packets_sent == 50 and session.stats.octets_sent == 8000
    assert not clock.getDelayedCalls() and not clock2.getDelayedCalls()


def test_timestamps_follow_the_clock_across_silence_and_sequence_runs_on() -> None:
    clock, session, port = fake_session()
    run_until(clock, session.play(np.zeros(480, dtype=np.int16)), 0.01)
    clock.advance(1.0)
    run_until(clock, session.play(np.zeros(320, dtype=np.int16)), 0.01)
    p = port.packets()
    assert [x.marker for x in p] == [True, False, False, True, False]
    assert [seq_add(p[0].sequence, i) for i in range(5)] == [x.sequence for x in p]
    gap_ts = ts_diff(p[3].timestamp, p[0].timestamp)
    gap_time = port.sent[3][0] - port.sent[0][0]
    assert gap_ts == round(gap_time * 8000) and gap_ts > 8000


def test_new_play_and_stop_end_the_current_playback() -> None:
    clock, session, port = fake_session()
    first = session.play(np.zeros(8000, dtype=np.int16))
    ended: list[str] = []
    first.addCallback(lambda _: ended.append("first"))
    clock.advance(0.1)
    second = session.play_tone(ERROR_TONE, 1000)
    second.addCallback(lambda _: ended.append("second"))
    assert ended == ["first"] and session.playing
    clock.advance(0.1)
    session.stop_playing()
    assert ended == ["first", "second"] and not session.playing
    assert not clock.getDelayedCalls()
    assert len(port.sent) == 6 + 6  # 0..100 ms of each


def test_rfc4733_sending_is_one_event_per_digit() -> None:
    clock, session, port = fake_session()
    clock.advance(2.0)
    run_until(clock, session.send_dtmf("12#", duration_ms=100, pause_ms=100), 0.005)
    pkts = port.packets()
    assert {p.payload_type for p in pkts} == {101}
    assert [p.sequence for p in pkts] == [seq_add(pkts[0].sequence, i) for i in range(len(pkts))]
    starts = [p for p in pkts if p.marker]
    assert len(starts) == 3
    assert [ts_diff(s.timestamp, starts[0].timestamp) for s in starts] == [0, 1600, 3200]
    receiver = TelephoneEventReceiver()
    presses = [k.digit for p in pkts for k in receiver.feed(p)]
    assert presses == ["1", "2", "#"]
    # Audio after the events continues the timeline (no timestamp going backwards).
    run_until(clock, session.play(np.zeros(160, dtype=np.int16)), 0.005)
    assert ts_diff(port.packets()[-1].timestamp, pkts[-1].timestamp) >= 800


def test_dtmf_and_hold_rules() -> None:
    clock = FakeUdpReactor()
    session = MediaSession(clock)
    rtp = RtpSocket(clock, "127.0.0.1", RtpPortPool(30000, 30010), session)
    with pytest.raises(MediaError, match="open"):
        session.start(answered(30000))
    port_no = rtp.open()
    with pytest.raises(MediaError, match="start"):
        session.play(np.zeros(160, dtype=np.int16))
    no_events = answered(port_no)
    no_events = Negotiated(no_events.codec, None, no_events.remote, no_events.direction,
                           no_events.local)
    session.start(no_events)
    with pytest.raises(MediaError, match="telephone-event was not negotiated"):
        session.send_dtmf("1")
    with pytest.raises(ValueError, match="DTMF method"):
        session.send_dtmf("1", "sip-info")
    fqdn = Negotiated(no_events.codec, None, ("phone.example", 4000), no_events.direction,
                      no_events.local)
    with pytest.raises(MediaError, match="not an IP address"):
        session.start(fqdn)
    # The phone holds (offers sendonly): we answer recvonly and send nothing, on time.
    session.start(answered(port_no, direction="sendonly"))
    run_until(clock, session.play(np.zeros(1600, dtype=np.int16)), 0.01)
    assert clock.ports[port_no].sent == [] and clock.seconds() >= 0.18
    rtp.close()
    assert not clock.ports[port_no].open and session.closed


# --- receiving (fake clock) --------------------------------------------------------------


def digits_of(session: MediaSession) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    session.on_digit = lambda d, m: got.append((d, m))
    return got


def test_inband_digits_are_reported_once_after_the_grace_time() -> None:
    clock, session, port = fake_session()
    got = digits_of(session)
    phone = PhoneStream(Law.ALAW)
    session.start(answered(session.local_port or 0, codecs=("PCMA",)))
    frames = phone.audio(generate_digits("2580", tone_ms=70, pause_ms=60))
    for data in frames:
        port.deliver(data, PHONE)
        clock.advance(0.02)
    clock.advance(0.2)
    assert got == [(d, "inband") for d in "2580"]
    assert session.stats.packets_received == len(frames)
    assert session.stats.digits_inband == 4 and not clock.getDelayedCalls()


def test_phone_sending_both_rfc4733_and_tones_gives_each_digit_once() -> None:
    clock, session, port = fake_session()
    got = digits_of(session)
    phone = PhoneStream()
    for digit in "739":
        tone = generate_dtmf(digit, 100)
        events = phone.key_press(digit, 100)  # same instant as the tone
        phone.ts = (phone.ts - 800) & 0xFFFFFFFF
        audio = phone.audio(np.concatenate([tone, np.zeros(800, np.int16)]))
        # Interleave as a phone does: audio frames, event updates in between.
        for i, data in enumerate(audio):
            port.deliver(data, PHONE)
            if i < len(events):
                port.deliver(events[i], PHONE)
            clock.advance(0.02)
        for data in events[len(audio):]:
            port.deliver(data, PHONE)
    clock.advance(1.0)
    assert got == [(d, "rfc4733") for d in "739"]
    assert session.stats.digits_inband == 0


def test_retransmitted_and_reordered_events_count_once() -> None:
    clock, session, port = fake_session()
    got = digits_of(session)
    phone = PhoneStream()
    train = phone.key_press("5") + phone.key_press("5")  # the same key pressed twice
    for data in train[:3] + train[:3] + train[3:]:
        port.deliver(data, PHONE)
    assert got == [("5", "rfc4733"), ("5", "rfc4733")]
    assert not clock.getDelayedCalls()


def test_garbage_rtcp_and_foreign_payloads_are_counted_not_raised() -> None:
    _clock, session, port = fake_session()
    got = digits_of(session)
    port.deliver(b"\x00" * 5, PHONE)  # too short
    port.deliver(b"\x40" + b"\x00" * 20, PHONE)  # version 1
    port.deliver(bytes([0x80, 200]) + bytes(26), PHONE)  # an RTCP SR on the RTP port: ignored
    port.deliver(RtpPacket(18, 1, 1, 9, b"\x00" * 20).build(), PHONE)  # G.729: not negotiated
    port.deliver(RtpPacket(101, 2, 1, 9, b"\x01").build(), PHONE)  # truncated telephone-event
    assert session.stats.invalid_packets == 4 and session.stats.packets_received == 1
    assert got == [] and session.received_audio().size == 0


def test_received_audio_is_bounded_and_decoded() -> None:
    clock, session, port = fake_session(audio_history_seconds=0.1)
    samples = (np.arange(8000) % 200 * 50 - 5000).astype(np.int16)
    for i, data in enumerate(PhoneStream().audio(samples)):
        if i not in (10, 11):  # two lost on the way
            port.deliver(data, PHONE)
        clock.advance(0.02)  # on time: no jitter
    audio = session.received_audio()
    assert len(audio) == 800
    # Decoded G.711 of the last 100 ms (mu-law error is a few percent at these levels).
    assert np.max(np.abs(audio.astype(int) - samples[-800:])) < 200
    stats = session.stats
    assert stats.packets_received == 48 and stats.packets_lost == 2
    assert stats.jitter_ms == pytest.approx(0.0, abs=1e-6)


def test_latching_on_the_fake_transport_and_foreign_packets() -> None:
    _clock, session, port = fake_session()
    nat = ("127.0.0.1", 61000)
    port.deliver(PhoneStream().audio(np.zeros(160, np.int16))[0], nat)
    assert session.remote == nat and session.stats.latches == 1
    port.deliver(PhoneStream().audio(np.zeros(160, np.int16))[0], PHONE)
    assert session.stats.foreign_packets == 1 and session.remote == nat
    session.play(np.zeros(160, np.int16))
    assert [a for _, _, a in port.sent] == [nat]


def test_port_pool_even_ports_round_robin_and_busy_ports() -> None:
    pool = RtpPortPool(30001, 30008)
    assert len(pool) == 3
    got = [pool.acquire() for _ in range(3)]
    assert got == [30002, 30004, 30006]
    with pytest.raises(NoRtpPort, match="all 3 RTP ports in use"):
        pool.acquire()
    pool.release(30004)
    assert pool.acquire() == 30004 and pool.in_use == {30002, 30004, 30006}
    with pytest.raises(ValueError):
        RtpPortPool(30001, 30001)
    _clock, session, _ = fake_session(busy={30000, 30002})
    assert session.local_port == 30004
    # Every port busy: an OSError the caller can answer with (no RTP port).
    with pytest.raises(OSError, match="no free RTP port"):
        fake_session(busy=set(range(30000, 30012)))


# --- two sessions on loopback (real reactor) ---------------------------------------------


async def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    """Polls the condition between reactor turns, with a deadline."""
    from twisted.internet import reactor

    deadline = reactor.seconds() + timeout  # type: ignore[attr-defined]
    while not condition():
        if reactor.seconds() > deadline:  # type: ignore[attr-defined]
            raise AssertionError("condition not reached in time")
        await task.deferLater(reactor, 0.005, lambda: None)  # type: ignore[arg-type]


@pytest.fixture
def pool() -> RtpPortPool:
    # Below Linux's ephemeral range (32768+), so no other process's client socket (or stray
    # traffic to one) sits on these ports; away from the gateway's default 20000-29999.
    return RtpPortPool(31000, 31998)


def loopback_session(pool: RtpPortPool) -> tuple[MediaSession, RtpSocket]:
    """A session on the real reactor with its socket on 127.0.0.1 (not opened yet)."""
    from twisted.internet import reactor

    session = MediaSession(reactor)
    return session, RtpSocket(reactor, "127.0.0.1", pool, session)


async def talking_pair(pool: RtpPortPool) -> tuple[MediaSession, MediaSession,
                                                   tuple[RtpSocket, RtpSocket]]:
    """A offers, B answers, both started on 127.0.0.1; their sockets, to close."""
    a, a_rtp = loopback_session(pool)
    b, b_rtp = loopback_session(pool)
    offer = build_offer("127.0.0.1", a_rtp.open(), 1)
    answer = negotiate_answer(offer.to_bytes(), "127.0.0.1", b_rtp.open(), 2)
    a.start(parse_answer(answer.local.to_bytes(), offer))
    b.start(answer)
    return a, b, (a_rtp, b_rtp)


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_loopback_rfc4733_digits_reported_exactly_once(pool: RtpPortPool) -> None:
    a, b, sockets = await talking_pair(pool)
    try:
        got = digits_of(b)
        await a.send_dtmf("123#*0", duration_ms=60, pause_ms=40)
        await wait_for(lambda: b.stats.packets_received == a.stats.packets_sent)
        assert got == [(d, "rfc4733") for d in "123#*0"]
        assert b.stats.packets_lost == 0 and b.stats.remote == ("127.0.0.1", a.local_port)
    finally:
        for rtp in sockets:
            await rtp.close()


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_loopback_inband_dtmf_and_confirmation_tone(pool: RtpPortPool) -> None:
    a, b, sockets = await talking_pair(pool)
    try:
        got = digits_of(b)
        await a.send_dtmf("159", "inband", duration_ms=70, pause_ms=60)
        await wait_for(lambda: len(got) == 3 and
                       b.stats.packets_received == a.stats.packets_sent)
        assert got == [(d, "inband") for d in "159"]
        b.clear_received_audio()
        sent_before = a.stats.packets_sent
        await a.play_tone(CONFIRMATION_TONE, 600)
        await wait_for(lambda: b.stats.packets_received == a.stats.packets_sent)
        audio = b.received_audio()
        assert a.stats.packets_sent - sent_before == 30 and len(audio) == 4800
        assert detect_tone(audio, (350.0, 440.0), min_duration_ms=90)
        assert matches_cadence(audio, CONFIRMATION_TONE)
        assert not detect_tone(audio, ERROR_TONE.segments[0].freqs)
        assert got == [(d, "inband") for d in "159"]  # the tone is no digit
    finally:
        for rtp in sockets:
            await rtp.close()
    assert pool.in_use == frozenset()


class Collector(DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[bytes, tuple[str, int]]] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received.append((datagram, addr))


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_loopback_symmetric_rtp_latches_to_the_real_source(pool: RtpPortPool) -> None:
    from twisted.internet import reactor

    sdp_side, nat_side = Collector(), Collector()
    sdp_port = reactor.listenUDP(0, sdp_side, interface="127.0.0.1")  # type: ignore[attr-defined]
    nat_port = reactor.listenUDP(0, nat_side, interface="127.0.0.1")  # type: ignore[attr-defined]
    session, rtp = loopback_session(pool)
    try:
        local = rtp.open()
        session.start(answered(local, ("127.0.0.1", sdp_port.getHost().port)))
        await session.play(np.zeros(320, np.int16))  # before any packet: to the SDP address
        await wait_for(lambda: len(sdp_side.received) == 2)
        # The phone's packets really come from another port (a NAT's mapping).
        nat_port.write(PhoneStream().audio(np.zeros(160, np.int16))[0], ("127.0.0.1", local))
        await wait_for(lambda: session.stats.latches == 1)
        assert session.remote == ("127.0.0.1", nat_port.getHost().port)
        await session.play(np.zeros(480, np.int16))
        await wait_for(lambda: len(nat_side.received) == 3)
        assert len(sdp_side.received) == 2
        assert all(RtpPacket.parse(d).ssrc == session.ssrc for d, _ in nat_side.received)
        # Once latched, packets from elsewhere are dropped and counted.
        sdp_port.write(PhoneStream().audio(np.zeros(160, np.int16))[0], ("127.0.0.1", local))
        await wait_for(lambda: session.stats.foreign_packets == 1)
        assert session.stats.packets_received == 1
    finally:
        await rtp.close()
        await defer.maybeDeferred(sdp_port.stopListening)
        await defer.maybeDeferred(nat_port.stopListening)


@pytest_twisted.ensureDeferred  # type: ignore[untyped-decorator]
async def test_loopback_busy_port_is_skipped() -> None:
    from twisted.internet import reactor

    blocker = reactor.listenUDP(31500, Collector(), interface="127.0.0.1")  # type: ignore[attr-defined]
    _session, rtp = loopback_session(RtpPortPool(31500, 31503))
    try:
        assert rtp.open() == 31502
    finally:
        await rtp.close()
        await defer.maybeDeferred(blocker.stopListening)
