"""One RTP audio stream, sans-IO: paced G.711 sending (tones, prompts, RFC 4733 and in-band
DTMF), and receiving with DTMF detection and statistics; no socket and no reactor timer.

Theory of operation (the aioquic style of DESIGN.md). The I/O edge (gateway.media.receiver:
the session's socket and its one timer) hands every datagram that arrives to
`receive(data, addr, now)`, sends what `datagrams_to_send(now)` returns, and runs
`handle_timer(now)` when `get_timer()` says; the session calls its `on_output` hook whenever it
has datagrams waiting or its timer moved, from any call (a playback started by a leg, a key
press that starts the in-band grace time), so the edge never polls. Time for the calls a leg makes
(`play`, `send_dtmf`, `forward`) comes from the injected clock (`seconds()`: the reactor, or a
twisted.internet.task.Clock in tests).

Everything we send is a *playback*: packets with the times they are due, computed from the
playback's start time (codecs.wavplayer for audio, codecs.telephone_event for key presses).
The timer is the next due packet; when it runs, every packet due by then goes out, so a late
timer catches up instead of drifting. Sequence numbers and the SSRC run on across playbacks;
the RTP timestamp follows the clock from a random origin (RFC 3550 5.1), so a silent gap shows
as a timestamp jump, and the first packet of each playback carries the marker (RFC 3551 4.1).

Received packets are parsed (codecs.rtp), counted (codecs.rtpstats, RFC 3550 A.1/A.8), and
dispatched by payload type: telephone-event to the RFC 4733 receiver, the negotiated G.711
codec through a small jitter buffer to the decoder, the in-band DTMF detector and a bounded
audio history. Each key press is reported once through `on_digit(digit, method)`. Phones
that send RFC 4733 *and* leave the tones in the audio would double every digit, so in-band
digits wait `inband_grace` seconds (the other deadline `get_timer()` reports) and are
dropped once telephone-events show up; from then on in-band detection stays off for the
stream.

Symmetric RTP (RFC 4961; latching as SBCs do for phones behind NAT): the first valid packet
fixes where the peer's RTP comes from; if that is not the address in its SDP, we send to the
real source instead. Packets from any other address are then dropped. RTCP is neither sent
nor read (RTCP that arrives multiplexed on the RTP port is ignored).

Relay cost (issue 6): a bridged session with nothing else to do (`relay_to`) hands plain audio
packets from the latched source to the other leg's `forward_raw` after one struct unpack and
the statistics update, without building an RtpPacket; `forward_raw` builds the datagram with
one struct pack and hands it straight to the edge's `direct_send` when it has one (no queue and
no `on_output` per relayed packet; without one it is queued like any other datagram).
"""

from __future__ import annotations

import ipaddress
import secrets
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from acdgate.codecs import g711
from acdgate.codecs.dtmf_detector import DtmfDetector
from acdgate.codecs.dtmf_generator import generate_digits
from acdgate.codecs.g711 import Law
from acdgate.codecs.jitterbuffer import Fill, JitterBuffer
from acdgate.codecs.rtp import RtpError, RtpPacket, seq_add, seq_diff, ts_add, ts_diff
from acdgate.codecs.rtpstats import RtpReceiveStats
from acdgate.codecs.telephone_event import (
    TelephoneEventError,
    TelephoneEventReceiver,
    TelephoneEventSender,
)
from acdgate.codecs.tones import Cadence, render
from acdgate.codecs.wavplayer import WavPacketizer
from acdgate.gateway.media.ports import MediaError
from acdgate.gateway.media.sdp import Negotiated
from twisted.internet import defer

_RTP_HEADER = struct.Struct("!BBHII")
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
COMFORT_NOISE_PT = 13  # RFC 3389: accepted and ignored
_CODEC_LAWS = {"PCMU": Law.ULAW, "PCMA": Law.ALAW}
_HOLD_HOSTS = ("0.0.0.0", "::")
# Sequence jump (same SSRC) beyond which the jitter buffer restarts instead of filling the gap.
_MAX_SEQ_JUMP = 100
_MAX_PENDING_DIGITS = 32

Samples = npt.NDArray[np.int16]
DigitCallback = Callable[[str, str], None]
Address = tuple[str, int]
Datagram = tuple[bytes, Address]


class Clock(Protocol):
    """What the session reads the time from for the calls a leg makes (a reactor, a Clock)."""

    def seconds(self) -> float: ...


@dataclass(frozen=True, slots=True)
class MediaStats:
    """Counters of one session (receive figures per RFC 3550 A.3/A.8, current SSRC)."""

    packets_sent: int
    octets_sent: int
    packets_received: int
    packets_lost: int
    jitter_ms: float
    invalid_packets: int
    foreign_packets: int  # from an address other than the latched one: dropped
    latches: int  # times we switched sending to the address RTP really came from
    remote: tuple[str, int] | None
    digits_rfc4733: int
    digits_inband: int


class _Playback(Protocol):
    deferred: defer.Deferred[None]

    def next_due(self) -> float | None: ...

    def due(self, now: float) -> list[RtpPacket]: ...


class _AudioPlayback:
    """Samples as 20 ms packets, paced from the start time by codecs.wavplayer."""

    __slots__ = ("deferred", "packetizer")

    def __init__(self, packetizer: WavPacketizer) -> None:
        self.packetizer = packetizer
        self.deferred: defer.Deferred[None] = defer.Deferred()

    def next_due(self) -> float | None:
        return self.packetizer.next_send_time()

    def due(self, now: float) -> list[RtpPacket]:
        return self.packetizer.due(now)


class _EventPlayback:
    """Telephone-event packets with absolute send times, in order."""

    __slots__ = ("_index", "_items", "deferred")

    def __init__(self, items: list[tuple[float, RtpPacket]]) -> None:
        self._items = items
        self._index = 0
        self.deferred: defer.Deferred[None] = defer.Deferred()

    def next_due(self) -> float | None:
        return self._items[self._index][0] if self._index < len(self._items) else None

    def due(self, now: float) -> list[RtpPacket]:
        out = []
        while self._index < len(self._items) and self._items[self._index][0] <= now + 1e-9:
            out.append(self._items[self._index][1])
            self._index += 1
        return out


class MediaSession:
    """One RTP audio stream without a socket: `start(negotiated)` sets peer and codec,
    `play`/`play_tone`/`send_dtmf` send, `on_digit` reports key presses, `close()` ends it;
    `receive`, `datagrams_to_send`, `get_timer` and `handle_timer` are its I/O edge's side."""

    def __init__(self, clock: Clock, *, audio_history_seconds: float = 60.0,
                 inband_grace: float = 0.12) -> None:
        self._clock = clock
        self.on_digit: DigitCallback | None = None
        # The I/O edge's cue: datagrams are waiting or `get_timer()` moved (module docstring).
        self.on_output: Callable[[], None] | None = None
        # The relay's hot path (issue 6): when the edge sets it, a forwarded packet goes straight
        # to it instead of through the queue and a wake-up per packet (`forward_raw`).
        self.direct_send: Callable[[bytes, Address], None] | None = None
        self.inband_dtmf = True
        self.inband_grace = inband_grace
        # The UDP port our RTP arrives on (set by the I/O edge that bound it; the SDP's port).
        self.local_port: int | None = None
        self._closed = False
        # Our stream: random SSRC, first sequence number and timestamp (RFC 3550 5.1).
        self.ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts_origin = secrets.randbits(32)
        self._time_origin: float | None = None
        self._ts_floor: int | None = None  # the first timestamp a new playback may use
        self._negotiated: Negotiated | None = None
        self._law = Law.ULAW
        self._codec_pt = 0
        self._event_pt: int | None = None
        self._remote: tuple[str, int] | None = None
        self._latched = False
        self._sending = False
        self._playback: _Playback | None = None
        # Output: datagrams not yet taken by the edge; deadlines of the playback and in-band DTMF.
        self._outbox: list[Datagram] = []
        self._play_due: float | None = None
        self._inband_due: float | None = None
        self._timer_at: float | None = None  # the earlier of the two, as last reported
        # Receiving.
        self._rx_ssrc: int | None = None
        self._rx_stats: RtpReceiveStats | None = None
        self._jitter = JitterBuffer(self._law, fill=Fill.REPEAT)
        self._last_audio_seq: int | None = None
        self._events = TelephoneEventReceiver()
        self._detector: DtmfDetector | None = None  # made on first use: relayed legs never need it
        self._rfc4733_seen = False
        self._pending_inband: list[str] = []
        self._audio: deque[Samples] = deque()
        self._audio_samples = 0
        self._audio_limit = int(audio_history_seconds * SAMPLE_RATE)
        self._packets_sent = 0
        self.packets_forwarded = 0  # of those, relayed from another session (`forward_raw`)
        self._octets_sent = 0
        self._packets_received = 0
        self._invalid = 0
        self._foreign = 0
        self._latches = 0
        self._digits = {"rfc4733": 0, "inband": 0}
        # Relaying (gateway.relay): every accepted packet is offered to `on_rtp` with the law of
        # its payload (None for telephone-event); `decode_received` False skips local decoding.
        self._on_rtp: Callable[[RtpPacket, Law | None], None] | None = None
        self.decode_received = True
        # A relay with nothing else to do (gateway.relay sets it: no recorder, no hold): audio
        # packets go to this session's `forward_raw` without `on_rtp`, parsing or decoding.
        self.relay_to: MediaSession | None = None
        self._fwd_ssrc: int | None = None
        self._fwd_ts_offset = 0
        # Hold (gateway.relay): `on_started` sees every (re-)negotiation; `hold_music` is what the
        # site plays to this party while the other one holds (None: silence).
        self.on_started: Callable[[Negotiated], None] | None = None
        self.hold_music: Samples | None = None

    @property
    def on_rtp(self) -> Callable[[RtpPacket, Law | None], None] | None:
        """The tap every accepted packet is offered to (set by gateway.relay / conference)."""
        return self._on_rtp

    @on_rtp.setter
    def on_rtp(self, tap: Callable[[RtpPacket, Law | None], None] | None) -> None:
        # A new tap must see every packet: the relay fast path ends until set again.
        self._on_rtp = tap
        self.relay_to = None

    # --- the I/O edge's side -----------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """The datagrams waiting, oldest first, as (bytes, address); the session forgets them."""
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        """When `handle_timer` must run next (the next due packet of a playback, the end of
        the in-band DTMF grace time), or None."""
        return self._timer_at

    def handle_timer(self, now: float) -> None:
        """Do what is due by `now`: send every due packet (a late timer catches up), report
        in-band digits whose grace time is over; earlier deadline first."""
        limit = now + 1e-9  # a timer armed for t may run at t minus a rounding error
        while True:
            play, inband = self._play_due, self._inband_due
            if inband is not None and inband <= limit and (play is None or inband < play):
                self._inband_due = None
                self._flush_inband()
            elif play is not None and play <= limit:
                self._tick(now)
            else:
                break
        self._signal()

    def _signal(self) -> None:
        """Call `on_output` when datagrams wait or the timer moved since last reported."""
        play, inband = self._play_due, self._inband_due
        timer = play if inband is None or (play is not None and play <= inband) else inband
        if timer != self._timer_at or self._outbox:
            self._timer_at = timer
            if self.on_output is not None:
                self.on_output()

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, negotiated: Negotiated) -> None:
        """Use the negotiated codec, telephone-event and peer (again after a re-INVITE)."""
        if self.local_port is None or self._closed:
            raise MediaError("open() the session's RTP port before start()")
        try:
            ipaddress.ip_address(negotiated.remote[0])
        except ValueError:
            raise MediaError(f"remote media address {negotiated.remote[0]!r} is not an IP "
                             "address") from None
        law = _CODEC_LAWS.get(negotiated.codec.encoding.upper())
        if law is None:
            raise MediaError(f"codec {negotiated.codec.encoding} is not G.711")
        if law is not self._law:
            self._jitter = JitterBuffer(law, fill=Fill.REPEAT)
            self._last_audio_seq = None
        self._negotiated = negotiated
        self._law = law
        self._codec_pt = negotiated.codec.payload_type
        te = negotiated.telephone_event
        self._event_pt = te.payload_type if te is not None else None
        self._remote = negotiated.remote
        self._latched = False
        self._sending = negotiated.direction.sends and negotiated.remote[0] not in _HOLD_HOSTS
        if self.on_started is not None:
            self.on_started(negotiated)

    def close(self) -> None:
        """Stop playing and the timers; nothing is sent or received from now on (the I/O edge
        closes the socket and gives its port back)."""
        if self._closed:
            return
        self._closed = True
        self.stop_playing()
        self._inband_due = None
        self._pending_inband.clear()
        self._signal()

    @property
    def closed(self) -> bool:
        return self._closed

    # --- sending -----------------------------------------------------------------------

    def play(self, samples: npt.ArrayLike) -> defer.Deferred[None]:
        """Send 8 kHz int16 samples as paced 20 ms packets; fires after the last one is sent
        (or when a new playback or `stop_playing` cuts it short)."""
        now = self._require_started()
        packetizer = WavPacketizer(samples, self._law, self.ssrc, self._seq,
                                   self._timestamp_at(now), now)
        packetizer.payload_type = self._codec_pt  # the offer's number (dynamic PCMU exists)
        return self._begin(_AudioPlayback(packetizer), now)

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        """Play `duration_ms` of a codecs.tones cadence."""
        return self.play(render(cadence, duration_ms))

    def send_dtmf(self, digits: str, method: str = "rfc4733", *, duration_ms: int = 100,
                  pause_ms: int = 100, volume: int = 10) -> defer.Deferred[None]:
        """Send key presses as RFC 4733 events ("rfc4733") or tones in the audio ("inband")."""
        if method == "inband":
            self._require_started()
            return self.play(generate_digits(digits, duration_ms, pause_ms,
                                             level_dbm0=-float(volume)))
        if method != "rfc4733":
            raise ValueError(f"DTMF method {method!r}: use 'rfc4733' or 'inband'")
        now = self._require_started()
        if self._event_pt is None:
            raise MediaError("telephone-event was not negotiated; use method='inband'")
        start_ts = self._timestamp_at(now)
        sender = TelephoneEventSender(self.ssrc, self._seq, self._event_pt)
        items: list[tuple[float, RtpPacket]] = []
        offset = 0.0
        for digit in digits:
            train = sender.key_press(digit, ts_add(start_ts, round(offset * SAMPLE_RATE)),
                                     duration_ms, volume)
            items += [(now + offset + p.send_at, p.packet) for p in train]
            # The next press starts after the pause, and never before this one's last packet.
            offset = max(offset + (duration_ms + pause_ms) / 1000.0, items[-1][0] - now)
        return self._begin(_EventPlayback(items), now)

    def stop_playing(self) -> None:
        """End the current playback now (its Deferred fires)."""
        self._play_due = None
        playback, self._playback = self._playback, None
        if playback is not None:
            playback.deferred.callback(None)
        self._signal()

    def _require_started(self) -> float:
        if self._negotiated is None or self._closed:
            raise MediaError("start() the session before sending")
        return self._clock.seconds()

    def _timestamp_at(self, now: float) -> int:
        # RFC 3550 5.1: the timestamp follows the sampling clock, across silent gaps too.
        if self._time_origin is None:
            self._time_origin = now
        ts = ts_add(self._ts_origin, round((now - self._time_origin) * SAMPLE_RATE))
        if self._ts_floor is not None and ts_diff(ts, self._ts_floor) < 0:
            ts = self._ts_floor
        return ts

    def _begin(self, playback: _Playback, now: float) -> defer.Deferred[None]:
        self.stop_playing()
        self._playback = playback
        self._tick(now)
        self._signal()
        return playback.deferred

    def _tick(self, now: float) -> None:
        """Send the current playback's packets due by `now`; end it after its last one."""
        playback = self._playback
        if playback is None:
            self._play_due = None
            return
        for packet in playback.due(now):
            self._send(packet)
        nxt = playback.next_due()
        if nxt is None:
            self._playback = None
            self._play_due = None
            playback.deferred.callback(None)  # may begin the next playback
        else:
            self._play_due = nxt

    def _send(self, packet: RtpPacket) -> None:
        self._seq = seq_add(packet.sequence, 1)
        if packet.payload_type == self._event_pt:
            units = int.from_bytes(packet.payload[2:4], "big")  # RFC 4733 2.3 duration
            self._ts_floor = ts_add(packet.timestamp, units)
        else:
            self._ts_floor = ts_add(packet.timestamp, len(packet.payload))
        if not self._sending or self._remote is None:
            return
        self._outbox.append((packet.build(), self._remote))
        self._packets_sent += 1
        self._octets_sent += len(packet.payload)

    def forward(self, packet: RtpPacket, law: Law | None) -> None:
        """Send a packet received on another session (a relayed call) as part of our stream.

        Our SSRC and sequence numbers; the timestamp keeps the source's spacing from an
        offset fixed when the source (SSRC) changes; G.711 is transcoded when the laws
        differ (byte table); telephone-events go out with our negotiated payload type, or
        are dropped when this peer did not negotiate them. Comfort noise is dropped.
        """
        self.forward_raw(packet.payload, packet.payload_type, packet.marker, packet.timestamp,
                         packet.ssrc, law)

    def forward_raw(self, payload: bytes, payload_type: int, marker: int, timestamp: int,
                    ssrc: int, law: Law | None) -> None:
        """`forward` from the fields of a received packet (the relay's fast path builds no
        RtpPacket); `marker` is any int, true when the marker bit is set."""
        if self._closed or not self._sending or self._remote is None:
            return
        if law is None:
            if self._event_pt is None or payload_type == COMFORT_NOISE_PT:
                return
            pt = self._event_pt
        else:
            pt = self._codec_pt
            if law is not self._law:
                payload = g711.ulaw_to_alaw(payload) if law is Law.ULAW else g711.alaw_to_ulaw(payload)
        if ssrc != self._fwd_ssrc:
            self._fwd_ssrc = ssrc
            now_ts = self._timestamp_at(self._clock.seconds())
            self._fwd_ts_offset = (now_ts - timestamp) & 0xFFFFFFFF
        # The relay's hot path: a plain 12-byte header (RFC 3550 5.1: V=2, no padding,
        # extension or CSRCs of ours) with struct, handed to the edge's `direct_send` when it
        # has one (no queue, no wake-up: a relayed packet costs what it did with a socket).
        seq = self._seq
        data = _RTP_HEADER.pack(0x80, 0x80 | pt if marker else pt, seq,
                                (timestamp + self._fwd_ts_offset) & 0xFFFFFFFF, self.ssrc) + payload
        self._seq = (seq + 1) & 0xFFFF
        self._packets_sent += 1
        self.packets_forwarded += 1
        self._octets_sent += len(payload)
        direct_send = self.direct_send
        if direct_send is not None:
            direct_send(data, self._remote)
            return
        self._outbox.append((data, self._remote))
        if self.on_output is not None:
            self.on_output()

    def restart_forwarding(self) -> None:
        """Take the next forwarded packet's timestamp offset afresh (after our own playback)."""
        self._fwd_ssrc = None

    # --- receiving ---------------------------------------------------------------------

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """One UDP datagram that arrived on our RTP port from `addr` at `now`."""
        relay_to = self.relay_to
        if relay_to is not None and len(data) >= 12:
            # The relay's fast path: the common packet (RFC 3550 5.1 V=2 and no padding,
            # extension or CSRCs: first octet 0x80) of the negotiated codec from the latched
            # source and current SSRC goes straight to the other leg; anything else takes
            # the full path below.
            b0, b1, seq, ts, ssrc = _RTP_HEADER.unpack_from(data)
            if (b0 == 0x80 and (b1 & 0x7F) == self._codec_pt and ssrc == self._rx_ssrc
                    and self._latched and addr == self._remote and not self._closed):
                self._packets_received += 1
                self._rx_stats.update(seq, ts, now)  # type: ignore[union-attr]
                relay_to.forward_raw(data[12:], self._codec_pt, b1 & 0x80, ts, ssrc, self._law)
                return
        if self._negotiated is None or self._closed:
            return
        self._accept(data, addr, now)
        self._signal()

    def _accept(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        if len(data) >= 2 and 72 <= (data[1] & 0x7F) <= 76:
            return  # RFC 5761 4: RTCP (PT 200-204) multiplexed on the RTP port; not used
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self._invalid += 1
            return
        pt = packet.payload_type
        if pt != self._codec_pt and pt != self._event_pt and pt != COMFORT_NOISE_PT:
            self._invalid += 1
            return
        if addr != self._remote:
            if self._latched:
                self._foreign += 1
                return
            self._remote = addr  # symmetric RTP: answer where the packets come from
            self._latches += 1
        self._latched = True
        self._packets_received += 1
        if packet.ssrc != self._rx_ssrc:
            self._new_source(packet.ssrc, now)
        assert self._rx_stats is not None
        self._rx_stats.update(packet.sequence, packet.timestamp, now)
        if self._on_rtp is not None:
            self._on_rtp(packet, None if pt == self._event_pt else (self._law if pt == self._codec_pt else None))
            if not self.decode_received:
                return
        if pt == self._event_pt:
            self._event_packet(packet)
        elif pt == self._codec_pt:
            self._audio_packet(packet, now)

    def _new_source(self, ssrc: int, now: float) -> None:
        # A new SSRC (phones pick one per hold/resume): fresh statistics and event state.
        self._flush_jitter(now)
        self._rx_ssrc = ssrc
        self._rx_stats = RtpReceiveStats(ssrc)
        self._events = TelephoneEventReceiver()

    def _event_packet(self, packet: RtpPacket) -> None:
        try:
            presses = self._events.feed(packet)
        except TelephoneEventError:
            self._invalid += 1
            return
        if not self._rfc4733_seen:
            # The phone sends RFC 4733: in-band detection would only produce doubles.
            self._rfc4733_seen = True
            self._pending_inband.clear()
            self._inband_due = None
        for press in presses:
            if press.digit is not None:
                self._emit(press.digit, "rfc4733")

    def _audio_packet(self, packet: RtpPacket, now: float) -> None:
        last = self._last_audio_seq
        if last is not None and abs(seq_diff(packet.sequence, last)) > _MAX_SEQ_JUMP:
            self._flush_jitter(now)  # a restart, not a gap worth filling with silence
        self._last_audio_seq = packet.sequence
        self._jitter.push(packet)
        while (frame := self._jitter.pop()) is not None:
            self._consume(g711.decode(self._law, frame.payload), now)

    def _flush_jitter(self, now: float) -> None:
        for frame in self._jitter.drain():
            self._consume(g711.decode(self._law, frame.payload), now)
        self._jitter = JitterBuffer(self._law, fill=Fill.REPEAT)
        self._last_audio_seq = None

    def _consume(self, samples: Samples, now: float) -> None:
        self._audio.append(samples)
        self._audio_samples += len(samples)
        while self._audio_samples > self._audio_limit and self._audio:
            self._audio_samples -= len(self._audio.popleft())
        if not self.inband_dtmf or self._rfc4733_seen:
            return
        if self._detector is None:
            self._detector = DtmfDetector()
        for found in self._detector.feed(samples):
            if len(self._pending_inband) < _MAX_PENDING_DIGITS:
                self._pending_inband.append(found.digit)
            if self._inband_due is None:
                self._inband_due = now + self.inband_grace

    def _flush_inband(self) -> None:
        pending, self._pending_inband = self._pending_inband, []
        if self._rfc4733_seen:
            return
        for digit in pending:
            self._emit(digit, "inband")

    def _emit(self, digit: str, method: str) -> None:
        self._digits[method] += 1
        if self.on_digit is not None:
            self.on_digit(digit, method)

    # --- introspection -----------------------------------------------------------------

    def received_audio(self) -> Samples:
        """Decoded audio received so far (the last `audio_history_seconds`), int16 8 kHz."""
        if not self._audio:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(list(self._audio))

    def clear_received_audio(self) -> None:
        self._audio.clear()
        self._audio_samples = 0

    @property
    def remote(self) -> tuple[str, int] | None:
        """Where we send RTP (the SDP's address, or the latched source)."""
        return self._remote

    @property
    def negotiated(self) -> Negotiated | None:
        return self._negotiated

    @property
    def playing(self) -> bool:
        return self._playback is not None

    @property
    def stats(self) -> MediaStats:
        rx = self._rx_stats
        return MediaStats(
            self._packets_sent, self._octets_sent, self._packets_received,
            max(rx.lost, 0) if rx is not None else 0,
            rx.jitter * 1000.0 / SAMPLE_RATE if rx is not None else 0.0,
            self._invalid, self._foreign, self._latches, self._remote,
            self._digits["rfc4733"], self._digits["inband"])


__all__ = ["Clock", "Datagram", "MediaSession", "MediaStats", "Samples"]
