"""One RTP audio stream on Twisted: a UDP socket from a port pool, paced G.711 sending (tones,
prompts, RFC 4733 and in-band DTMF), and receiving with DTMF detection and statistics.

Theory of operation. Everything we send is a *playback*: packets with the times they are
due, computed from the playback's start time (codecs.wavplayer for audio, codecs.
telephone_event for key presses). One `reactor.callLater` is armed for the next due packet;
when it fires, every packet due by then goes out, so a late timer catches up instead of
drifting. Sequence numbers and the SSRC run on across playbacks; the RTP timestamp follows
the reactor clock from a random origin (RFC 3550 5.1), so a silent gap shows as a timestamp
jump, and the first packet of each playback carries the marker (RFC 3551 4.1).

Received packets are parsed (codecs.rtp), counted (codecs.rtpstats, RFC 3550 A.1/A.8), and
dispatched by payload type: telephone-event to the RFC 4733 receiver, the negotiated G.711
codec through a small jitter buffer to the decoder, the in-band DTMF detector and a bounded
audio history. Each key press is reported once through `on_digit(digit, method)`. Phones
that send RFC 4733 *and* leave the tones in the audio would double every digit, so in-band
digits wait `inband_grace` seconds and are dropped once telephone-events show up; from
then on in-band detection stays off for the stream.

Symmetric RTP (RFC 4961; latching as SBCs do for phones behind NAT): the first valid packet
fixes where the peer's RTP comes from; if that is not the address in its SDP, we send to the
real source instead. Packets from any other address are then dropped. RTCP is neither sent
nor read (RTCP that arrives multiplexed on the RTP port is ignored).

Relay cost (issue 6): on Linux the RTP sockets of a port pool share one epoll set that the
reactor sees as a single reader (`RtpReceiver`), and a bridged session with nothing else to do
(`relay_to`) hands plain audio packets from the latched source to the other leg's
`forward_raw` after one struct unpack and the statistics update, without building an RtpPacket.
"""

from __future__ import annotations

import errno
import ipaddress
import secrets
import select
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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
from acdgate.gateway.media.sdp import Negotiated
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import DatagramProtocol
from twisted.python import log

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
# Ready sockets served per epoll call of the shared RTP reader.
_MAX_EVENTS = 256
_RECV_SIZE = 2048
# Under load the shared RTP reader stops taking a reactor wakeup per datagram and drains every
# socket on a timer instead (as Linux's NAPI does for a busy NIC): at POLL_S it adds at most
# 2 ms of delay, and of jitter, to a relayed stream (20 ms frames), and serves a few dozen
# datagrams per wakeup where it served one or two. It switches over when a window of BUSY_S
# held BUSY_DATAGRAMS (2,000/s, about 20 relayed calls), and back when a tick finds fewer than
# IDLE_DATAGRAMS. A tick's datagrams take its time as their arrival, so the RFC 3550 jitter in
# the receive statistics carries up to POLL_S of it meanwhile.
POLL_S = 0.002
BUSY_S = 0.02
BUSY_DATAGRAMS = 40
IDLE_DATAGRAMS = 2
# epoll calls per drain at most (each serves up to _MAX_EVENTS sockets one datagram): a flood
# on many sockets cannot hold the reactor.
_MAX_ROUNDS = 8

Samples = npt.NDArray[np.int16]
DigitCallback = Callable[[str, str], None]


class MediaError(RuntimeError):
    """Local misuse or resource trouble (no free port, not started, DTMF not negotiated)."""


class NoRtpPort(MediaError, OSError):
    """No UDP port could be bound for RTP (pool exhausted or bind failed); an OSError so
    callers that catch socket trouble catch it too."""


class RtpPortPool:
    """Even UDP ports for RTP between `low` and `high` (the odd port above each stays free for
    RTCP, RFC 3550 11); hands them out round-robin so a just-closed port rests a while."""

    def __init__(self, low: int = 20000, high: int = 29999) -> None:
        first = low + (low & 1)
        if not 0 < first < high <= 65535:
            raise ValueError(f"no even RTP port (with its RTCP port) in {low}-{high}")
        self._ports = range(first, high, 2)  # port + 1 (RTCP) stays inside the range
        self._next = 0
        self._in_use: set[int] = set()
        # The shared reader of the sockets bound on these ports (made by the first session).
        self.receiver: RtpReceiver | None = None

    def __len__(self) -> int:
        return len(self._ports)

    @property
    def in_use(self) -> frozenset[int]:
        return frozenset(self._in_use)

    def acquire(self) -> int:
        """The next free even port (marked in use); raises `MediaError` if all are taken."""
        n = len(self._ports)
        for i in range(n):
            port = self._ports[(self._next + i) % n]
            if port not in self._in_use:
                self._next = (self._next + i + 1) % n
                self._in_use.add(port)
                return port
        raise NoRtpPort(f"all {n} RTP ports in use")

    def release(self, port: int) -> None:
        self._in_use.discard(port)


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


class _RtpProtocol(DatagramProtocol):
    def __init__(self, session: MediaSession) -> None:
        self._session = session

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self._session.receive_datagram(datagram, (str(addr[0]), int(addr[1])))


class RtpReceiver:
    """The RTP sockets of one port pool in one epoll set, registered with the reactor as a
    single reader: one reactor dispatch per wakeup serves every socket that has datagrams,
    instead of one (with its logging context) per socket; under load it polls the set on a
    2 ms timer instead (see `POLL_S`). Linux only; elsewhere sessions keep Twisted's
    per-port reading."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._epoll = select.epoll()
        self._sockets: dict[int, tuple[socket.socket, MediaSession, bool]] = {}
        self._registered = False  # a reactor reader (interrupt mode)
        self._tick: IDelayedCall | None = None  # the next poll (polling mode)
        self._window_start = 0.0
        self._window_count = 0
        self.polling_ticks = 0  # ticks served in polling mode (for tests and diagnostics)

    @staticmethod
    def usable(reactor: Any, listening: Any) -> bool:
        return (hasattr(select, "epoll") and hasattr(reactor, "addReader")
                and isinstance(getattr(listening, "socket", None), socket.socket))

    @property
    def polling(self) -> bool:
        return self._tick is not None

    def add(self, sock: socket.socket, session: MediaSession) -> None:
        fd = sock.fileno()
        self._epoll.register(fd, select.EPOLLIN)
        self._sockets[fd] = (sock, session, sock.family == socket.AF_INET6)
        if not self._registered and self._tick is None:
            self._registered = True
            self._reactor.addReader(self)

    def remove(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if self._sockets.pop(fd, None) is None:
            return
        self._epoll.unregister(fd)
        if not self._sockets:
            if self._registered:
                self._registered = False
                self._reactor.removeReader(self)
            if self._tick is not None:
                self._tick.cancel()
                self._tick = None

    # IReadDescriptor
    def fileno(self) -> int:
        return self._epoll.fileno()

    def logPrefix(self) -> str:
        return "RtpReceiver"

    def doRead(self) -> None:
        now: float = self._reactor.seconds()
        served = self._drain(now)
        if now - self._window_start >= BUSY_S:
            self._window_start, self._window_count = now, 0
        self._window_count += served
        if self._window_count >= BUSY_DATAGRAMS and self._sockets:
            self._registered = False
            self._reactor.removeReader(self)
            self._tick = self._reactor.callLater(POLL_S, self._poll)

    def _poll(self) -> None:
        self.polling_ticks += 1
        served = self._drain(self._reactor.seconds())
        if served >= IDLE_DATAGRAMS or not self._sockets:
            self._tick = self._reactor.callLater(POLL_S, self._poll) if self._sockets else None
            return
        self._tick = None
        self._window_start, self._window_count = self._reactor.seconds(), 0
        self._registered = True
        self._reactor.addReader(self)

    def _drain(self, now: float) -> int:
        """Serve every socket epoll reports ready, one datagram each; the number served.

        epoll is level-triggered: a socket with more waiting is reported again, at the next
        call, and no recvfrom ends in EAGAIN (a syscall and an exception in Twisted's own
        drain loop)."""
        sockets = self._sockets
        served = 0
        for _ in range(_MAX_ROUNDS):
            ready = self._epoll.poll(0, _MAX_EVENTS)
            for fd, _ in ready:
                entry = sockets.get(fd)
                if entry is None:
                    continue
                sock, session, v6 = entry
                try:
                    data, addr = sock.recvfrom(_RECV_SIZE)
                except OSError:  # EAGAIN after a spurious wakeup, ICMP errors: nothing to read
                    continue
                served += 1
                if v6:
                    addr = addr[:2]
                try:
                    session._receive(data, addr, now)
                except Exception:  # one bad packet or callback must not stop every call's RTP
                    log.err()  # type: ignore[no-untyped-call]
            if len(ready) < _MAX_EVENTS:
                break
        return served

    def connectionLost(self, reason: object) -> None:
        self._registered = False
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None


class MediaSession:
    """One RTP audio stream: `open()` binds, `start(negotiated)` sets peer and codec,
    `play`/`play_tone`/`send_dtmf` send, `on_digit` reports key presses, `close()` frees."""

    def __init__(self, reactor: Any, bind_ip: str, ports: RtpPortPool, *,
                 audio_history_seconds: float = 60.0, inband_grace: float = 0.12) -> None:
        self._reactor = reactor
        self.bind_ip = bind_ip
        self._ports = ports
        self.on_digit: DigitCallback | None = None
        self.inband_dtmf = True
        self.inband_grace = inband_grace
        self.local_port: int | None = None
        self._listening: Any = None
        self._receiver: RtpReceiver | None = None
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
        self._timer: IDelayedCall | None = None
        # Receiving.
        self._rx_ssrc: int | None = None
        self._rx_stats: RtpReceiveStats | None = None
        self._jitter = JitterBuffer(self._law, fill=Fill.REPEAT)
        self._last_audio_seq: int | None = None
        self._events = TelephoneEventReceiver()
        self._detector: DtmfDetector | None = None  # made on first use: relayed legs never need it
        self._rfc4733_seen = False
        self._pending_inband: list[str] = []
        self._inband_timer: IDelayedCall | None = None
        self._audio: deque[Samples] = deque()
        self._audio_samples = 0
        self._audio_limit = int(audio_history_seconds * SAMPLE_RATE)
        self._packets_sent = 0
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

    # --- lifecycle ---------------------------------------------------------------------

    def open(self) -> int:
        """Bind the UDP socket on an even pool port (busy ports are skipped); the port.
        Raises `NoRtpPort` (an OSError) when none can be bound."""
        if self._closed:
            raise MediaError("session closed")
        if self.local_port is not None:
            return self.local_port
        for _ in range(len(self._ports)):
            port = self._ports.acquire()
            try:
                self._listening = self._reactor.listenUDP(port, _RtpProtocol(self),
                                                          interface=self.bind_ip)
            except CannotListenError as exc:
                self._ports.release(port)
                if getattr(exc.socketError, "errno", None) != errno.EADDRINUSE:
                    raise NoRtpPort(f"cannot bind RTP on {self.bind_ip}:{port}: "
                                    f"{exc.socketError}") from exc
                continue
            self.local_port = port
            if RtpReceiver.usable(self._reactor, self._listening):
                if self._ports.receiver is None:
                    self._ports.receiver = RtpReceiver(self._reactor)
                self._receiver = self._ports.receiver
                self._reactor.removeReader(self._listening)
                self._receiver.add(self._listening.socket, self)
            return port
        raise NoRtpPort(f"no free RTP port on {self.bind_ip}")

    def start(self, negotiated: Negotiated) -> None:
        """Use the negotiated codec, telephone-event and peer (again after a re-INVITE)."""
        if self.local_port is None or self._closed:
            raise MediaError("open() the session before start()")
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

    def close(self) -> defer.Deferred[None]:
        """Stop playing and timers, close the socket, give the port back to the pool."""
        if self._closed:
            return defer.succeed(None)
        self._closed = True
        self.stop_playing()
        if self._inband_timer is not None:
            self._inband_timer.cancel()
            self._inband_timer = None
        self._pending_inband.clear()
        listening, self._listening = self._listening, None
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.remove(listening.socket)
        port = self.local_port
        d: defer.Deferred[None] = (defer.maybeDeferred(listening.stopListening)
                                   if listening is not None else defer.succeed(None))

        def release(result: object) -> None:
            if port is not None:
                self._ports.release(port)

        d.addCallback(release)
        return d

    # --- sending -----------------------------------------------------------------------

    def play(self, samples: npt.ArrayLike) -> defer.Deferred[None]:
        """Send 8 kHz int16 samples as paced 20 ms packets; fires after the last one is sent
        (or when a new playback or `stop_playing` cuts it short)."""
        now = self._require_started()
        packetizer = WavPacketizer(samples, self._law, self.ssrc, self._seq,
                                   self._timestamp_at(now), now)
        packetizer.payload_type = self._codec_pt  # the offer's number (dynamic PCMU exists)
        return self._begin(_AudioPlayback(packetizer))

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
        return self._begin(_EventPlayback(items))

    def stop_playing(self) -> None:
        """End the current playback now (its Deferred fires)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        playback, self._playback = self._playback, None
        if playback is not None:
            playback.deferred.callback(None)

    def _require_started(self) -> float:
        if self._negotiated is None or self._closed:
            raise MediaError("start() the session before sending")
        now: float = self._reactor.seconds()
        return now

    def _timestamp_at(self, now: float) -> int:
        # RFC 3550 5.1: the timestamp follows the sampling clock, across silent gaps too.
        if self._time_origin is None:
            self._time_origin = now
        ts = ts_add(self._ts_origin, round((now - self._time_origin) * SAMPLE_RATE))
        if self._ts_floor is not None and ts_diff(ts, self._ts_floor) < 0:
            ts = self._ts_floor
        return ts

    def _begin(self, playback: _Playback) -> defer.Deferred[None]:
        self.stop_playing()
        self._playback = playback
        self._tick()
        return playback.deferred

    def _tick(self) -> None:
        self._timer = None
        playback = self._playback
        if playback is None:
            return
        now: float = self._reactor.seconds()
        for packet in playback.due(now):
            self._send(packet)
        nxt = playback.next_due()
        if nxt is None:
            self._playback = None
            playback.deferred.callback(None)
        else:
            self._timer = self._reactor.callLater(max(0.0, nxt - now), self._tick)

    def _send(self, packet: RtpPacket) -> None:
        self._seq = seq_add(packet.sequence, 1)
        if packet.payload_type == self._event_pt:
            units = int.from_bytes(packet.payload[2:4], "big")  # RFC 4733 2.3 duration
            self._ts_floor = ts_add(packet.timestamp, units)
        else:
            self._ts_floor = ts_add(packet.timestamp, len(packet.payload))
        if not self._sending or self._remote is None or self._listening is None:
            return
        try:
            self._listening.write(packet.build(), self._remote)
        except OSError:
            return  # ICMP errors surface here on some platforms; RTP is best effort
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
        if self._closed or not self._sending or self._remote is None or self._listening is None:
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
            now_ts = self._timestamp_at(self._reactor.seconds())
            self._fwd_ts_offset = (now_ts - timestamp) & 0xFFFFFFFF
        # The relay's hot path: a plain 12-byte header (RFC 3550 5.1: V=2, no padding,
        # extension or CSRCs of ours) with struct, and the socket's sendto without
        # Twisted's per-write address checks (the address was checked when it latched).
        seq = self._seq
        data = _RTP_HEADER.pack(0x80, 0x80 | pt if marker else pt, seq,
                                (timestamp + self._fwd_ts_offset) & 0xFFFFFFFF, self.ssrc) + payload
        self._seq = (seq + 1) & 0xFFFF
        sock = getattr(self._listening, "socket", None)  # in-memory test ports have none
        try:
            if sock is not None:
                sock.sendto(data, self._remote)
            else:
                self._listening.write(data, self._remote)
        except OSError:  # EAGAIN on a full buffer, ICMP errors: RTP is best effort
            return
        self._packets_sent += 1
        self._octets_sent += len(payload)

    def restart_forwarding(self) -> None:
        """Take the next forwarded packet's timestamp offset afresh (after our own playback)."""
        self._fwd_ssrc = None

    # --- receiving ---------------------------------------------------------------------

    def receive_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """One UDP datagram that arrived on our RTP port (called by the protocol)."""
        self._receive(data, addr, self._reactor.seconds())

    def _receive(self, data: bytes, addr: tuple[str, int], now: float) -> None:
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
            self._new_source(packet.ssrc)
        assert self._rx_stats is not None
        self._rx_stats.update(packet.sequence, packet.timestamp, now)
        if self._on_rtp is not None:
            self._on_rtp(packet, None if pt == self._event_pt else (self._law if pt == self._codec_pt else None))
            if not self.decode_received:
                return
        if pt == self._event_pt:
            self._event_packet(packet)
        elif pt == self._codec_pt:
            self._audio_packet(packet)

    def _new_source(self, ssrc: int) -> None:
        # A new SSRC (phones pick one per hold/resume): fresh statistics and event state.
        self._flush_jitter()
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
            if self._inband_timer is not None:
                self._inband_timer.cancel()
                self._inband_timer = None
        for press in presses:
            if press.digit is not None:
                self._emit(press.digit, "rfc4733")

    def _audio_packet(self, packet: RtpPacket) -> None:
        last = self._last_audio_seq
        if last is not None and abs(seq_diff(packet.sequence, last)) > _MAX_SEQ_JUMP:
            self._flush_jitter()  # a restart, not a gap worth filling with silence
        self._last_audio_seq = packet.sequence
        self._jitter.push(packet)
        while (frame := self._jitter.pop()) is not None:
            self._consume(g711.decode(self._law, frame.payload))

    def _flush_jitter(self) -> None:
        for frame in self._jitter.drain():
            self._consume(g711.decode(self._law, frame.payload))
        self._jitter = JitterBuffer(self._law, fill=Fill.REPEAT)
        self._last_audio_seq = None

    def _consume(self, samples: Samples) -> None:
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
            if self._inband_timer is None:
                self._inband_timer = self._reactor.callLater(self.inband_grace,
                                                             self._flush_inband)

    def _flush_inband(self) -> None:
        self._inband_timer = None
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


__all__ = ["MediaError", "MediaSession", "MediaStats", "NoRtpPort", "RtpPortPool"]
