"""SIP messages counted on the wire, in and out, by method and status: plain ints for `/metrics`.

The stack counts every message it reads or writes here (retransmissions included: they are on
the wire) and the metrics collector reads the tables when scraped. Plain dict increments cost
about a tenth of a microsecond a message, where a prometheus-client Counter with labels costs a
few (a lock and a label lookup each). Unknown request methods count as "other", so a peer
inventing methods cannot grow the tables without bound; status codes are bounded by the parser
(100-699).
"""

from __future__ import annotations

# RFC 3261 and its extensions: INFO (6086), PRACK (3262), SUBSCRIBE/NOTIFY (6665), UPDATE (3311),
# MESSAGE (3428), REFER (3515), PUBLISH (3903)
KNOWN_METHODS = frozenset({
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "PRACK", "SUBSCRIBE",
    "NOTIFY", "UPDATE", "MESSAGE", "REFER", "PUBLISH",
})  # fmt: skip
OTHER = "other"


class MessageCounts:
    """Requests by method and responses by status, received and sent."""

    __slots__ = ("requests_in", "requests_out", "responses_in", "responses_out")

    def __init__(self) -> None:
        self.requests_in: dict[str, int] = {}
        self.responses_in: dict[int, int] = {}
        # sent: keyed by the bytes the message starts with (the method, or the status digits),
        # so counting costs no decoding; `sent_requests`/`sent_responses` decode when read
        self.requests_out: dict[bytes, int] = {}
        self.responses_out: dict[bytes, int] = {}

    def request_received(self, method: str) -> None:
        """Count one request read from the wire."""
        if method not in KNOWN_METHODS:
            method = OTHER
        counts = self.requests_in
        counts[method] = counts.get(method, 0) + 1

    def response_received(self, status: int) -> None:
        """Count one response read from the wire."""
        counts = self.responses_in
        counts[status] = counts.get(status, 0) + 1

    def sent(self, data: bytes) -> None:
        """Count one serialised message written to the wire (RFC 3261 7.1/7.2: a request line
        starts with the method, a status line with "SIP/2.0 " and three digits)."""
        if data.startswith(b"SIP/2.0 "):
            status = data[8:11]
            counts = self.responses_out
            counts[status] = counts.get(status, 0) + 1
            return
        end = data.find(b" ", 0, 12)
        method = data[:end] if end > 0 else b"?"
        counts = self.requests_out
        counts[method] = counts.get(method, 0) + 1

    def sent_requests(self) -> dict[str, int]:
        """Requests sent, by method."""
        out: dict[str, int] = {}
        for head, n in list(self.requests_out.items()):
            method = head.decode("ascii", "replace")
            method = method if method in KNOWN_METHODS else OTHER
            out[method] = out.get(method, 0) + n
        return out

    def sent_responses(self) -> dict[int, int]:
        """Responses sent, by status."""
        out: dict[int, int] = {}
        for head, n in list(self.responses_out.items()):
            status = int(head) if head.isdigit() else 0
            out[status] = out.get(status, 0) + n
        return out


__all__ = ["KNOWN_METHODS", "OTHER", "MessageCounts"]
