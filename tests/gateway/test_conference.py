"""Conference: the 20 ms mixer clock on a fake clock, real MediaSessions on in-memory UDP ports;
who hears whom per mode (tones), one packet per tick, catch-up after a late timer, bounded delay."""

from __future__ import annotations

from io import BytesIO
from itertools import pairwise

import numpy as np
import pytest
from acdgate.codecs.g711 import Law, decode, encode
from acdgate.codecs.mixer import MixMode, Party
from acdgate.codecs.recorder import CallRecorder
from acdgate.codecs.rtp import RtpPacket, seq_add, ts_diff
from acdgate.codecs.tone_detector import detect_tone, tone_present
from acdgate.gateway.media.conference import FRAME_SECONDS, MAX_CATCH_UP, MAX_DEPTH, Conference
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.receiver import RtpSocket
from acdgate.gateway.media.sdp import Negotiated, build_offer, negotiate_answer
from acdgate.gateway.media.session import MediaSession
from memory_udp import FakeUdpReactor, MemoryUdpPort

TONES = {Party.CALLER: 600.0, Party.AGENT: 1000.0, Party.SUPERVISOR: 1800.0}
PHONES = {Party.CALLER: ("127.0.0.1", 4000), Party.AGENT: ("127.0.0.1", 4100),
          Party.SUPERVISOR: ("127.0.0.1", 4200)}


def _negotiated(local_port: int, remote: tuple[str, int], codec: str) -> Negotiated:
    offer = build_offer(remote[0], remote[1], 1, codecs=(codec,)).to_bytes()
    return negotiate_answer(offer, "127.0.0.1", local_port, 2)


class Phone:
    """A party's phone: sends its tone as 20 ms packets to its session, reads what it hears."""

    def __init__(self, reactor: FakeUdpReactor, session: MediaSession, party: Party, law: Law) -> None:
        self.reactor = reactor
        self.session = session
        self.party = party
        self.law = law
        self.seq = 100
        self.ts = 5000
        self.n = 0

    def send(self, count: int = 1) -> None:
        for _ in range(count):
            t = (np.arange(160) + 160 * self.n) / 8000.0
            frame = (0.3 * 32767 * np.sin(2 * np.pi * TONES[self.party] * t)).astype(np.int16)
            pt = 0 if self.law is Law.ULAW else 8
            packet = RtpPacket(pt, self.seq, self.ts, 0x1234 + self.n // 100000, encode(self.law, frame))
            self.port.deliver(packet.build(), PHONES[self.party])
            self.seq, self.ts, self.n = seq_add(self.seq, 1), self.ts + 160, self.n + 1

    @property
    def port(self) -> MemoryUdpPort:
        """The in-memory UDP port of the party's session."""
        assert self.session.local_port is not None
        return self.reactor.ports[self.session.local_port]

    def heard(self) -> list[RtpPacket]:
        return self.port.packets()

    def audio(self) -> np.ndarray:
        return np.concatenate([decode(self.law, p.payload) for p in self.heard()])


def _call(laws: dict[Party, Law] | None = None) -> tuple[FakeUdpReactor, dict[Party, Phone]]:
    reactor = FakeUdpReactor()
    pool = RtpPortPool(30000, 30100)
    phones = {}
    for party in Party:
        law = (laws or {}).get(party, Law.ULAW)
        session = MediaSession(reactor)
        port = RtpSocket(reactor, "127.0.0.1", pool, session).open()
        session.start(_negotiated(port, PHONES[party], "PCMU" if law is Law.ULAW else "PCMA"))
        phones[party] = Phone(reactor, session, party, law)
    return reactor, phones


def _talk(reactor: FakeUdpReactor, phones: dict[Party, Phone], frames: int, offset: float = 0.007) -> None:
    """Every party sends one packet per 20 ms, `offset` seconds off the mixer's phase."""
    reactor.advance(offset)
    for _ in range(frames):
        for phone in phones.values():
            phone.send()
        reactor.advance(FRAME_SECONDS)


def _hears(phone: Phone, party: Party) -> bool:
    """The party's tone is in most 20 ms windows of what `phone` heard (alone or mixed)."""
    present = tone_present(phone.audio(), (TONES[party],), min_ratio=0.0)
    assert present.mean() > 0.6 or present.sum() <= 2, f"{party} heard only part of the time"
    return bool(present.mean() > 0.6)


@pytest.mark.parametrize(("mode", "expected"), [
    (MixMode.MONITOR, {Party.CALLER: {Party.AGENT}, Party.AGENT: {Party.CALLER},
                       Party.SUPERVISOR: {Party.CALLER, Party.AGENT}}),
    (MixMode.WHISPER, {Party.CALLER: {Party.AGENT}, Party.AGENT: {Party.CALLER, Party.SUPERVISOR},
                       Party.SUPERVISOR: {Party.CALLER, Party.AGENT}}),
    (MixMode.BARGE, {Party.CALLER: {Party.AGENT, Party.SUPERVISOR}, Party.AGENT: {Party.CALLER, Party.SUPERVISOR},
                     Party.SUPERVISOR: {Party.CALLER, Party.AGENT}}),
])
def test_each_party_hears_what_the_mode_allows(mode: MixMode, expected: dict[Party, set[Party]]) -> None:
    reactor, phones = _call({Party.AGENT: Law.ALAW})  # the agent's leg is A-law: transcoded
    conference = Conference(reactor, {p: ph.session for p, ph in phones.items()}, mode)
    _talk(reactor, phones, 50)
    conference.close()
    for listener, phone in phones.items():
        heard = {party for party in Party if party is not listener and _hears(phone, party)}
        assert heard == expected[listener], listener
        assert not _hears(phone, listener), f"{listener} hears itself"
    assert reactor.getDelayedCalls() == []


def test_one_packet_per_tick_with_steady_sequence_and_timestamps() -> None:
    reactor, phones = _call()
    conference = Conference(reactor, {p: ph.session for p, ph in phones.items()}, MixMode.BARGE)
    _talk(reactor, phones, 40, offset=0.019)  # packets arrive just before each tick
    conference.close()
    for phone in phones.values():
        packets = phone.heard()
        assert len(packets) == conference.ticks == 40
        assert all(seq_add(a.sequence, 1) == b.sequence for a, b in pairwise(packets))
        assert all(ts_diff(b.timestamp, a.timestamp) == 160 for a, b in pairwise(packets))
        assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert all(m.underruns == 0 for m in conference.members.values())


def test_a_late_timer_catches_up_and_a_stall_skips_with_the_timestamps_in_step() -> None:
    reactor, phones = _call()
    conference = Conference(reactor, {p: ph.session for p, ph in phones.items()}, MixMode.MONITOR)
    reactor.advance(3 * FRAME_SECONDS + 0.001)  # a timer 40 ms late: three ticks at once
    assert conference.ticks == 3
    stalled = 20
    reactor.advance(stalled * FRAME_SECONDS)  # the reactor was stuck for 400 ms
    assert conference.ticks == 3 + MAX_CATCH_UP
    assert conference.skipped == stalled - MAX_CATCH_UP
    packets = phones[Party.CALLER].heard()
    assert ts_diff(packets[-1].timestamp, packets[0].timestamp) == 160 * (3 + stalled - 1)
    conference.close()


def test_a_party_that_runs_ahead_is_trimmed_to_a_bounded_delay() -> None:
    reactor, phones = _call()
    conference = Conference(reactor, {p: ph.session for p, ph in phones.items()}, MixMode.MONITOR)
    reactor.advance(0.005)
    for _ in range(30):
        phones[Party.CALLER].send(2)  # a burst: twice the clock's rate
        phones[Party.AGENT].send(1)
        reactor.advance(FRAME_SECONDS)
        jitter = conference.members[Party.CALLER].jitter
        assert jitter is not None and len(jitter) <= MAX_DEPTH + 2
    conference.close()


@pytest.mark.parametrize("mode", [MixMode.BARGE, MixMode.WHISPER, MixMode.MONITOR])
def test_recorder_gets_caller_left_and_agent_right_and_close_lets_go(mode: MixMode) -> None:
    """The supervisor is recorded (with the agent, on the right) only when the caller hears them."""
    reactor, phones = _call()
    sink = BytesIO()
    recorder = CallRecorder(sink, Law.ULAW)
    conference = Conference(reactor, {p: ph.session for p, ph in phones.items()}, mode, recorder=recorder)
    conference.inject(Party.AGENT, np.full(800, 8000, dtype=np.int16))  # 100 ms of a beep
    _talk(reactor, phones, 50)
    conference.close()
    recorder.close()
    import wave

    sink.seek(0)
    with wave.open(sink) as wav:
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert detect_tone(stereo[:, 0], (TONES[Party.CALLER],)) and not detect_tone(stereo[:, 0], (TONES[Party.AGENT],))
    agent, supervisor = TONES[Party.AGENT], TONES[Party.SUPERVISOR]
    right = (agent, supervisor) if mode is MixMode.BARGE else (agent,)  # what the caller hears
    assert detect_tone(stereo[:, 1], right), f"{mode}: the right channel is not {right} Hz"
    assert not detect_tone(stereo[:, 1], (TONES[Party.CALLER],))
    if mode is not MixMode.BARGE:
        assert not detect_tone(stereo[:, 1], (agent, supervisor)), f"{mode}: the supervisor was recorded"
    assert not detect_tone(stereo[:, 0], (supervisor,))
    for phone in phones.values():
        assert phone.session.on_rtp is None and phone.session.decode_received
    sent = len(phones[Party.CALLER].heard())
    reactor.advance(1.0)
    assert len(phones[Party.CALLER].heard()) == sent  # the clock stopped
    assert reactor.getDelayedCalls() == []
