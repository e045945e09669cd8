"""What a stateless UAS answered lately, so a retransmitted request gets the same bytes.

RFC 3261 8.2.7 lets a UAS answer some requests (unauthenticated challenges) without a server
transaction; a retransmission of such a request is then a new request. Answering it with a new
401 (a new nonce and To tag) is legal, but a client that already took the first 401 sees a
second, different one: SIPp's scenario engine calls that an unexpected message. Kamailio avoids
it with nonces that stay the same for a while; here the answer itself is kept for a few seconds
by the request's transaction identity (RFC 3261 17.2.3: branch, sent-by, CSeq, method). A dict
and a deque, no timers; bounded in time and in count. Sans-IO: time is an argument.
"""

from __future__ import annotations

from collections import deque

from acdgate.gateway.sip.message import Request

__all__ = ["RecentAnswers", "request_identity"]

Address = tuple[str, int]


def request_identity(request: Request) -> str | None:
    """The request's transaction identity (RFC 3261 17.2.3, with Call-ID for RFC 2543 peers,
    and whether it carries credentials: a client that wrongly reuses branch and CSeq for its
    authenticated retry must not get the cached challenge); None when its top Via or CSeq does
    not parse (it is then never answered statelessly)."""
    try:
        via = request.top_via
        cseq = request.cseq
    except ValueError:
        return None
    if via is None or cseq is None:
        return None
    signed = "Authorization" in request.headers or "Proxy-Authorization" in request.headers
    return f"{via.branch} {via.host}:{via.port} {cseq[0]} {request.method} {request.call_id} {signed}"


class RecentAnswers:
    """Answers sent statelessly in the last `seconds`, at most `capacity` of them."""

    def __init__(self, seconds: float = 8.0, capacity: int = 32768) -> None:
        # 8 s covers a UDP client's retransmissions at 0.5, 1.5, 3.5 and 7.5 s (RFC 3261 17.1.2.2)
        self.seconds = seconds
        self.capacity = capacity
        self._sent: dict[str, tuple[bytes, Address, str]] = {}
        self._order: deque[tuple[float, str]] = deque()  # (expiry, identity), oldest first

    def __len__(self) -> int:
        return len(self._sent)

    def remember(self, identity: str, data: bytes, dest: Address, transport: str, now: float) -> None:
        """Keep what was sent for `identity`."""
        self._forget_old(now)
        if identity not in self._sent:
            self._order.append((now + self.seconds, identity))
        self._sent[identity] = (data, dest, transport)
        while len(self._sent) > self.capacity:  # under a flood the window shrinks instead
            _, oldest = self._order.popleft()
            self._sent.pop(oldest, None)

    def answer_to(self, identity: str, now: float) -> tuple[bytes, Address, str] | None:
        """What was sent for `identity`, if still kept: (bytes, destination, transport)."""
        self._forget_old(now)
        return self._sent.get(identity)

    def _forget_old(self, now: float) -> None:
        order = self._order
        while order and order[0][0] <= now:
            _, identity = order.popleft()
            self._sent.pop(identity, None)
