"""What the SIP transaction layer asks of its caller: the actions (frozen dataclasses) returned
by every `TransactionLayer` call, and the names of the RFC 3261 / RFC 6026 timers they start."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from acdgate.gateway.sip.message import Request, Response


class TimerName(Enum):
    """RFC timers keep their RFC names (RFC 3261 17, table 4; RFC 6026 for L and M)."""

    __hash__ = object.__hash__  # members are singletons: identity hash, cheaper than Enum's

    A = "A"  # INVITE client: request retransmit (unreliable only), doubles from T1
    B = "B"  # INVITE client: transaction timeout in Calling, 64*T1
    D = "D"  # INVITE client: wait for response retransmits in Completed, 32 s (0 reliable)
    E = "E"  # non-INVITE client: request retransmit (unreliable only), doubles to T2
    F = "F"  # non-INVITE client: transaction timeout, 64*T1
    G = "G"  # INVITE server: final response retransmit (unreliable only), doubles to T2
    H = "H"  # INVITE server: wait for ACK, 64*T1
    I = "I"  # INVITE server: absorb ACK retransmits in Confirmed, T4 (0 reliable)  # noqa: E741
    J = "J"  # non-INVITE server: absorb request retransmits in Completed, 64*T1 (0 reliable)
    K = "K"  # non-INVITE client: absorb response retransmits in Completed, T4 (0 reliable)
    L = "L"  # INVITE server (RFC 6026): absorb INVITE retransmits in Accepted, 64*T1
    M = "M"  # INVITE client (RFC 6026): accept 2xx retransmits/forks in Accepted, 64*T1
    TRYING = "Trying"  # INVITE server: send 100 Trying if the TU is silent for 200 ms (17.2.1)


Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Send `message`. `destination` None means a response: reply per its top Via (RFC 3261
    18.2.2), which is the transport's job. `transaction_key` names whom to tell, through
    `TransactionLayer.transport_error`, if the send fails."""

    message: Request | Response
    destination: Address | None
    transaction_key: str | None = None


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Call `TransactionLayer.timer_fired(transaction_key, name, at)` at time `at`; replaces any
    pending timer of the same key and name."""

    transaction_key: str
    name: TimerName
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget the pending timer `name` of `transaction_key`."""

    transaction_key: str
    name: TimerName


@dataclass(frozen=True, slots=True)
class DeliverRequest:
    """A new request for the TU. `transaction_key` None: an ACK that matches no transaction (the
    ACK for a 2xx, RFC 3261 17.2.3; the dialog layer's). `cancels`: for a CANCEL, the key of
    the INVITE server transaction it matches (None: answer the CANCEL 481, RFC 3261 9.2)."""

    request: Request
    transaction_key: str | None
    source: Address
    cancels: str | None = None


@dataclass(frozen=True, slots=True)
class DeliverResponse:
    """A response for the TU that sent the request of `transaction_key` (each once, except 2xx
    retransmissions to an INVITE, which RFC 6026 7.2 passes up so the TU can re-ACK)."""

    response: Response
    transaction_key: str


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """Timer B, F or H fired: no (final) response, or no ACK, arrived in time."""

    transaction_key: str


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The transport reported an error sending for this transaction (RFC 3261 17.1.4, 17.2.4)."""

    transaction_key: str


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """The transaction reached Terminated; its pending timers were cancelled just before."""

    transaction_key: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """Input ignored (stray or out-of-state message, stale timer); for logging only."""

    reason: str
    message: Request | Response | None = None
    transaction_key: str | None = None


Action = (
    SendMessage
    | StartTimer
    | CancelTimer
    | DeliverRequest
    | DeliverResponse
    | TransactionTimeout
    | TransportFailed
    | TransactionTerminated
    | Dropped
)
