"""The I/O edge of RTP: each MediaSession's UDP socket and timer (`RtpSocket`), and the
shared epoll reader of a port pool's sockets (`RtpReceiver`). Nothing here parses RTP.

`RtpSocket` is the thin adapter of DESIGN.md's sans-IO engines: it binds a pool port, hands
every datagram to `MediaSession.receive(data, addr, now)`, and on the session's `on_output`
cue sends `datagrams_to_send(now)` and (re)arms one `reactor.callLater` for `get_timer()`,
which runs `handle_timer(now)`.

Relay cost (issue 6): on Linux the RTP sockets of a port pool share one epoll set that the
reactor sees as a single reader (`RtpReceiver`); datagrams go out through the socket's own
`sendto`, without Twisted's per-write address checks (the session checked the address when
it started or latched).
"""

from __future__ import annotations

import errno
import select
import socket
from collections.abc import Callable
from typing import Any

from acdgate.gateway.media.ports import MediaError, NoRtpPort, RtpPortPool
from acdgate.gateway.media.session import MediaSession
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import DatagramProtocol
from twisted.python import log

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


class _RtpProtocol(DatagramProtocol):
    """Twisted's per-port reading, where the shared epoll reader is not used."""

    def __init__(self, reactor: Any, session: MediaSession) -> None:
        self._reactor = reactor
        self._session = session

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self._session.receive(datagram, (str(addr[0]), int(addr[1])), self._reactor.seconds())


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
                    session.receive(data, addr, now)
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


class RtpSocket:
    """One session's UDP socket from the pool and its one timer: `open()` binds (the port),
    `close()` closes the session and the socket and gives the port back."""

    def __init__(self, reactor: Any, bind_ip: str, ports: RtpPortPool,
                 session: MediaSession) -> None:
        self._reactor = reactor
        self.bind_ip = bind_ip
        self._ports = ports
        self.session = session
        self._listening: Any = None
        self._send: Callable[[bytes, tuple[str, int]], object] | None = None
        self._receiver: RtpReceiver | None = None
        self._timer: IDelayedCall | None = None
        self._timer_at: float | None = None
        self._closed = False

    def open(self) -> int:
        """Bind the UDP socket on an even pool port (busy ports are skipped); the port, which
        the session takes as its `local_port`. Raises `NoRtpPort` (an OSError) when none can
        be bound."""
        if self._closed or self.session.closed:
            raise MediaError("session closed")
        if self.session.local_port is not None:
            return self.session.local_port
        for _ in range(len(self._ports)):
            port = self._ports.acquire()
            try:
                self._listening = self._reactor.listenUDP(
                    port, _RtpProtocol(self._reactor, self.session), interface=self.bind_ip)
            except CannotListenError as exc:
                self._ports.release(port)
                if getattr(exc.socketError, "errno", None) != errno.EADDRINUSE:
                    raise NoRtpPort(f"cannot bind RTP on {self.bind_ip}:{port}: "
                                    f"{exc.socketError}") from exc
                continue
            self.session.local_port = port
            self._ports.bound(port, self.session)
            sock = getattr(self._listening, "socket", None)  # in-memory test ports have none
            self._send = sock.sendto if isinstance(sock, socket.socket) else self._listening.write
            if RtpReceiver.usable(self._reactor, self._listening):
                receiver = self._ports.receiver
                if not isinstance(receiver, RtpReceiver):
                    receiver = self._ports.receiver = RtpReceiver(self._reactor)
                self._receiver = receiver
                self._reactor.removeReader(self._listening)
                receiver.add(self._listening.socket, self.session)
            self.session.on_output = self._transmit
            self.session.direct_send = self._send_now
            return port
        raise NoRtpPort(f"no free RTP port on {self.bind_ip}")

    def close(self) -> defer.Deferred[None]:
        """Close the session (playback ends, timers stop), then the socket; fires when the
        port is back in the pool."""
        if self._closed:
            return defer.succeed(None)
        self._closed = True
        self.session.close()
        self.session.on_output = None
        self.session.direct_send = None
        self._arm(None)
        listening, self._listening = self._listening, None
        self._send = None
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.remove(listening.socket)
        port = self.session.local_port
        d: defer.Deferred[None] = (defer.maybeDeferred(listening.stopListening)
                                   if listening is not None else defer.succeed(None))

        def release(result: object) -> None:
            if port is not None:
                self._ports.release(port)

        d.addCallback(release)
        return d

    def _transmit(self) -> None:
        """The session's `on_output`: send what waits, follow its timer."""
        send = self._send
        if send is not None:
            for data, addr in self.session.datagrams_to_send(self._reactor.seconds()):
                try:
                    send(data, addr)
                except OSError:  # EAGAIN on a full buffer, ICMP errors: RTP is best effort
                    continue
        when = self.session.get_timer()
        if when != self._timer_at:
            self._arm(when)

    def _send_now(self, data: bytes, addr: tuple[str, int]) -> None:
        """The session's `direct_send` (relayed packets)."""
        send = self._send
        if send is None:
            return
        try:
            send(data, addr)
        except OSError:  # EAGAIN on a full buffer, ICMP errors: RTP is best effort
            return

    def _arm(self, when: float | None) -> None:
        """Arm the one timer for `when` (None: none)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None:
            self._timer = self._reactor.callLater(max(0.0, when - self._reactor.seconds()),
                                                  self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self.session.handle_timer(self._reactor.seconds())
        self._transmit()  # re-arms even when the session's timer did not move


__all__ = ["BUSY_DATAGRAMS", "BUSY_S", "IDLE_DATAGRAMS", "POLL_S", "RtpReceiver", "RtpSocket"]
