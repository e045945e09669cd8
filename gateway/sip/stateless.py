"""What a stateless UAS answered lately, so a retransmitted request gets the same bytes.

RFC 3261 8.2.7 lets a UAS answer requests without a server transaction, provided processing an
identical request again would give the same answer. For REGISTER it would not: a new 401 has a
new nonce and To tag (SIPp's scenario engine calls a second, different 401 an unexpected
message), and an authenticated REGISTER processed twice fails its nonce-count check. So the
answer itself is kept by the request's transaction identity (RFC 3261 17.2.3: branch, sent-by,
CSeq, method) for as long as a UDP client retransmits (64*T1, its Timer F), and a request
still being answered (its binding not yet committed) is marked so that retransmissions are
absorbed meanwhile. A dict and a deque, no timers; bounded in time and in count. Sans-IO: time
is an argument.
"""

from __future__ import annotations

from collections import deque

from acdgate.gateway.sip.message import Request

__all__ = ["RecentAnswers", "request_identity", "transaction_identity"]

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
    return transaction_identity(via.branch, via.host, via.port, cseq[0], request.method, request.call_id, signed)


def transaction_identity(branch: str | None, host: str, port: int | None, cseq: int, method: str,
                         call_id: str | None, signed: bool) -> str:
    """`request_identity` from the parts (the top Via's branch and sent-by), for a request
    read without a `Request`."""
    return f"{branch} {host}:{port} {cseq} {method} {call_id} {signed}"


class RecentAnswers:
    """Answers sent statelessly in the last `seconds`, at most `capacity` of them.

    An entry whose bytes are empty is a request taken and not yet answered (`expect`).
    """

    # 32 s covers a UDP client's retransmissions up to its Timer F (64*T1, RFC 3261 17.1.2.2);
    # at ~700 bytes an entry, the cap bounds the memory near 90 MB under a flood, where the
    # window shrinks instead (a server transaction per request, as before, had no bound)
    def __init__(self, seconds: float = 32.0, capacity: int = 131072) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self._sent: dict[str, tuple[bytes, Address, str, float]] = {}
        self._order: deque[tuple[float, str]] = deque()  # (expiry, identity), oldest first

    def __len__(self) -> int:
        return len(self._sent)

    def remember(self, identity: str, data: bytes, dest: Address, transport: str, now: float) -> None:
        """Keep what was sent for `identity`, and when (`now`)."""
        self._forget_old(now)
        if identity not in self._sent:
            self._order.append((now + self.seconds, identity))
        self._sent[identity] = (data, dest, transport, now)
        while len(self._sent) > self.capacity:  # under a flood the window shrinks instead
            _, oldest = self._order.popleft()
            self._sent.pop(oldest, None)

    def expect(self, identity: str, now: float) -> None:
        """Mark `identity` as being answered: `answer_to` gives empty bytes until `remember`."""
        self.remember(identity, b"", ("", 0), "", now)

    def forget(self, identity: str) -> None:
        """Drop `identity` (the TU did not take it after all); its queue entry lapses later."""
        self._sent.pop(identity, None)

    def answer_to(self, identity: str, now: float) -> tuple[bytes, Address, str, float] | None:
        """What was sent for `identity`, if still kept: (bytes, destination, transport, when);
        empty bytes while the answer is pending."""
        self._forget_old(now)
        return self._sent.get(identity)

    def _forget_old(self, now: float) -> None:
        order = self._order
        while order and order[0][0] <= now:
            _, identity = order.popleft()
            self._sent.pop(identity, None)
