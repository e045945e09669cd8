"""The RTP port pool: even UDP ports handed out round-robin, and the errors of media set-up.

Pure bookkeeping (no sockets): the I/O edge (gateway.media.receiver) binds the ports it is
given and gives them back when its socket is closed.
"""

from __future__ import annotations

from typing import Protocol


class MediaError(RuntimeError):
    """Local misuse or resource trouble (no free port, not started, DTMF not negotiated)."""


class NoRtpPort(MediaError, OSError):
    """No UDP port could be bound for RTP (pool exhausted or bind failed); an OSError so
    callers that catch socket trouble catch it too."""


class _Forwarder(Protocol):
    """A media session as the pool counts it for /metrics (`session.MediaSession`)."""

    @property
    def packets_forwarded(self) -> int: ...


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
        # What the I/O edge shares between the sockets bound on these ports (the epoll reader
        # of gateway.media.receiver, made with the first socket); the pool only carries it, so
        # it does not import the edge.
        self.receiver: object | None = None
        # RTP streams for /metrics: the session on each bound port (its relayed-packet count is
        # read when scraped) and the packets relayed by sessions whose ports came back
        self._streams: dict[int, _Forwarder] = {}
        self._forwarded_before = 0

    def __len__(self) -> int:
        return len(self._ports)

    @property
    def in_use(self) -> frozenset[int]:
        return frozenset(self._in_use)

    def acquire(self) -> int:
        """The next free even port (marked in use); raises `NoRtpPort` if all are taken."""
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
        session = self._streams.pop(port, None)
        if session is not None:
            self._forwarded_before += session.packets_forwarded

    def bound(self, port: int, session: _Forwarder) -> None:
        """The socket on `port` carries `session`'s stream (until `release`)."""
        self._streams[port] = session

    @property
    def streams(self) -> int:
        """RTP streams open now: sessions with a bound port."""
        return len(self._streams)

    def packets_forwarded(self) -> int:
        """RTP packets relayed from one call leg to another since start."""
        return self._forwarded_before + sum(s.packets_forwarded for s in self._streams.values())


__all__ = ["MediaError", "NoRtpPort", "RtpPortPool"]
