"""The four SIP transaction state machines of RFC 3261 section 17, with RFC 6026's Accepted
states, as sans-IO engines: `(input, now)` in, actions out."""

# Theory of operation
# -------------------
# A transaction is one request and its responses. Each of the four kinds (INVITE client,
# non-INVITE client, INVITE server, non-INVITE server) is a table
#     (State, Input) -> (ops, next State)
# An `Input` is what happened: the peer's response or request retransmission, the TU's response,
# a timer firing, a transport error. An `Op` is what to do about it: send or resend a message,
# deliver to the TU, start a timer, report a timeout. `Transaction.handle` looks the pair up,
# runs the ops, then enters the next state. A pair with no entry is a protocol error: it raises
# `TransactionError`, saying whose fault it was, and changes nothing (the layer turns the peer's
# errors into a `Dropped` action; the TU's own errors propagate).
#
# Timers are owned by the caller: the engine emits `StartTimer` / `CancelTimer` and the caller
# calls back with `fire`. Two rules keep timers out of the tables' way:
#   * `LIVE_TIMERS[state]` lists the timers that may run in a state; entering a state cancels
#     every pending timer not listed, so Terminated (which lists none) cancels everything.
#   * retransmission timers (A, E, G) are not started on reliable transports, and timers whose
#     duration is zero on reliable transports (D, I, J, K: RFC 3261 17.1.1.2 etc.) fire at once,
#     inside the same call, as if the caller had fired them.
#   * timers start before the message they guard is sent, so a caller that reports a failed
#     send (`transport_error`) while still running the actions sees those timers cancelled.
# Server INVITE transactions follow RFC 6026: a 2xx moves to Accepted (Timer L) instead of
# Terminated, so INVITE retransmissions are absorbed and ACKs for the 2xx reach the TU; the
# client likewise waits in Accepted (Timer M) and passes 2xx retransmissions to the TU.

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from acdgate.gateway.sip.message import Headers, Request, Response, make_response
from acdgate.gateway.sip.transaction_actions import (
    Action,
    Address,
    CancelTimer,
    DeliverRequest,
    DeliverResponse,
    SendMessage,
    StartTimer,
    TimerName,
    TransactionTerminated,
    TransactionTimeout,
    TransportFailed,
)


@dataclass(frozen=True, slots=True)
class TimerSettings:
    """RFC 3261 timer base values in seconds (17.1.1.1, table 4); `trying` is the delay before
    an INVITE server transaction sends 100 Trying on the TU's behalf (17.2.1)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0
    trying: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            raise ValueError(f"need 0 < T1 <= T2, got T1={self.t1} T2={self.t2}")
        if self.t4 <= 0 or self.timer_d < 0 or self.trying < 0:
            raise ValueError("T4 must be positive, Timer D and the 100 Trying delay >= 0")


class State(Enum):
    __hash__ = object.__hash__  # members are singletons: identity hash, for table lookups

    INIT = "init"  # constructed, not started
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"  # RFC 6026
    TERMINATED = "terminated"


class Fault(Enum):
    LOCAL = "local"  # we (the TU, or the caller's timers) broke the protocol
    REMOTE = "remote"  # the peer did


class Input(Enum):
    __hash__ = object.__hash__  # members are singletons: identity hash, for table lookups

    START = "start"
    # from the peer
    REQUEST = "request"  # server: retransmission of the request
    ACK = "ack"  # INVITE server: ACK matching the transaction
    PROVISIONAL = "1xx"  # client: responses received
    SUCCESS = "2xx"
    FAILURE = "3xx-6xx"
    # from the TU
    TU_PROVISIONAL = "TU 1xx"  # server: responses the TU sends
    TU_SUCCESS = "TU 2xx"
    TU_FAILURE = "TU 3xx-6xx"
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TIMER_TRYING = "Timer Trying"


TIMER_INPUT: Mapping[TimerName, Input] = {name: Input["TIMER_" + name.name] for name in TimerName}
REMOTE_INPUTS = frozenset(
    {Input.REQUEST, Input.ACK, Input.PROVISIONAL, Input.SUCCESS, Input.FAILURE}
)


class TransactionError(Exception):
    """An input with no entry in the state table. `fault` says whose: REMOTE inputs are dropped
    by the layer, LOCAL ones are a bug in the caller. `status` is the SIP status to answer
    with, when one applies."""

    def __init__(self, message: str, fault: Fault, status: int | None = None) -> None:
        super().__init__(message)
        self.fault = fault
        self.status = status


class Op(Enum):
    __hash__ = object.__hash__

    SEND_REQUEST = "send request"
    SEND_RESPONSE = "send TU response"
    RESEND_RESPONSE = "resend last response"  # if any
    SEND_TRYING = "send 100 Trying"
    STOP_TRYING = "cancel Trying"  # the TU answered first (RFC 3261 17.2.1)
    DELIVER = "deliver to TU"
    SEND_ACK = "send ACK"  # RFC 3261 17.1.1.3
    RESEND_ACK = "resend ACK"
    REPORT_TIMEOUT = "report timeout"
    REPORT_TRANSPORT_ERROR = "report transport error"
    START_A = "start A at T1"
    DOUBLE_A = "restart A doubled"
    START_B = "start B"
    START_D = "start D"
    START_E = "start E at T1"
    DOUBLE_E = "restart E doubled, at most T2"
    E_AT_T2 = "restart E at T2"
    START_F = "start F"
    START_G = "start G at T1"
    DOUBLE_G = "restart G doubled, at most T2"
    START_H = "start H"
    START_I = "start I"
    START_J = "start J"
    START_K = "start K"
    START_L = "start L"
    START_M = "start M"
    START_TRYING = "start Trying"


class _Rule(Enum):
    FIXED = 0
    FIRST = 1  # retransmit timer: T1
    DOUBLE = 2  # retransmit timer: twice the last interval
    DOUBLE_TO_T2 = 3  # retransmit timer: twice the last interval, at most T2
    AT_T2 = 4  # retransmit timer: T2


_TIMER_OPS: Mapping[Op, tuple[TimerName, _Rule]] = {
    Op.START_A: (TimerName.A, _Rule.FIRST),
    Op.DOUBLE_A: (TimerName.A, _Rule.DOUBLE),  # RFC 3261 17.1.1.2: A doubles, B caps it
    Op.START_B: (TimerName.B, _Rule.FIXED),
    Op.START_D: (TimerName.D, _Rule.FIXED),
    Op.START_E: (TimerName.E, _Rule.FIRST),
    Op.DOUBLE_E: (TimerName.E, _Rule.DOUBLE_TO_T2),  # 17.1.2.2
    Op.E_AT_T2: (TimerName.E, _Rule.AT_T2),  # 17.1.2.2: in Proceeding, E is reset to T2
    Op.START_F: (TimerName.F, _Rule.FIXED),
    Op.START_G: (TimerName.G, _Rule.FIRST),
    Op.DOUBLE_G: (TimerName.G, _Rule.DOUBLE_TO_T2),  # 17.2.1
    Op.START_H: (TimerName.H, _Rule.FIXED),
    Op.START_I: (TimerName.I, _Rule.FIXED),
    Op.START_J: (TimerName.J, _Rule.FIXED),
    Op.START_K: (TimerName.K, _Rule.FIXED),
    Op.START_L: (TimerName.L, _Rule.FIXED),
    Op.START_M: (TimerName.M, _Rule.FIXED),
    Op.START_TRYING: (TimerName.TRYING, _Rule.FIXED),
}
RETRANSMIT_TIMERS = frozenset({TimerName.A, TimerName.E, TimerName.G})


def fixed_duration(name: TimerName, settings: TimerSettings, reliable: bool) -> float:
    """Duration of a non-retransmission timer (RFC 3261 17, table 4; RFC 6026 for L, M)."""
    t1_64 = 64 * settings.t1
    if name is TimerName.D:
        return 0.0 if reliable else settings.timer_d
    if name is TimerName.I or name is TimerName.K:
        return 0.0 if reliable else settings.t4
    if name is TimerName.J:
        return 0.0 if reliable else t1_64
    if name is TimerName.TRYING:
        return settings.trying
    return t1_64  # B, F, H, L, M


Transition = tuple[tuple[Op, ...], State]
Table = Mapping[tuple[State, Input], Transition]

S = State
I = Input  # noqa: E741

# RFC 3261 17.1.1.2 figure 5, as amended by RFC 6026 7.2 (figure 5 there).
INVITE_CLIENT_TABLE: Table = {
    (S.INIT, I.START): ((Op.START_A, Op.START_B, Op.SEND_REQUEST), S.CALLING),
    (S.CALLING, I.TIMER_A): ((Op.DOUBLE_A, Op.SEND_REQUEST), S.CALLING),
    (S.CALLING, I.TIMER_B): ((Op.REPORT_TIMEOUT,), S.TERMINATED),
    (S.CALLING, I.PROVISIONAL): ((Op.DELIVER,), S.PROCEEDING),
    (S.CALLING, I.SUCCESS): ((Op.DELIVER, Op.START_M), S.ACCEPTED),
    (S.CALLING, I.FAILURE): ((Op.DELIVER, Op.START_D, Op.SEND_ACK), S.COMPLETED),
    (S.CALLING, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.PROCEEDING, I.PROVISIONAL): ((Op.DELIVER,), S.PROCEEDING),
    (S.PROCEEDING, I.SUCCESS): ((Op.DELIVER, Op.START_M), S.ACCEPTED),
    (S.PROCEEDING, I.FAILURE): ((Op.DELIVER, Op.START_D, Op.SEND_ACK), S.COMPLETED),
    (S.COMPLETED, I.FAILURE): ((Op.RESEND_ACK,), S.COMPLETED),  # retransmission absorbed
    (S.COMPLETED, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.COMPLETED, I.TIMER_D): ((), S.TERMINATED),
    (S.ACCEPTED, I.SUCCESS): ((Op.DELIVER,), S.ACCEPTED),  # RFC 6026: TU re-ACKs 2xx retransmits
    (S.ACCEPTED, I.TIMER_M): ((), S.TERMINATED),
}

# RFC 3261 17.1.2.2 figure 6.
_FINAL_CLIENT = ((Op.DELIVER, Op.START_K), S.COMPLETED)
NON_INVITE_CLIENT_TABLE: Table = {
    (S.INIT, I.START): ((Op.START_E, Op.START_F, Op.SEND_REQUEST), S.TRYING),
    (S.TRYING, I.TIMER_E): ((Op.DOUBLE_E, Op.SEND_REQUEST), S.TRYING),
    (S.TRYING, I.TIMER_F): ((Op.REPORT_TIMEOUT,), S.TERMINATED),
    (S.TRYING, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.TRYING, I.PROVISIONAL): ((Op.DELIVER,), S.PROCEEDING),
    (S.TRYING, I.SUCCESS): _FINAL_CLIENT,
    (S.TRYING, I.FAILURE): _FINAL_CLIENT,
    (S.PROCEEDING, I.TIMER_E): ((Op.E_AT_T2, Op.SEND_REQUEST), S.PROCEEDING),
    (S.PROCEEDING, I.TIMER_F): ((Op.REPORT_TIMEOUT,), S.TERMINATED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.PROCEEDING, I.PROVISIONAL): ((Op.DELIVER,), S.PROCEEDING),
    (S.PROCEEDING, I.SUCCESS): _FINAL_CLIENT,
    (S.PROCEEDING, I.FAILURE): _FINAL_CLIENT,
    # Completed buffers response retransmissions (and late, reordered provisionals).
    (S.COMPLETED, I.PROVISIONAL): ((), S.COMPLETED),
    (S.COMPLETED, I.SUCCESS): ((), S.COMPLETED),
    (S.COMPLETED, I.FAILURE): ((), S.COMPLETED),
    (S.COMPLETED, I.TIMER_K): ((), S.TERMINATED),
}

# RFC 3261 17.2.1 figure 7, as amended by RFC 6026 7.1 (figure 7 there).
_TU_TO_COMPLETED = ((Op.START_G, Op.START_H, Op.SEND_RESPONSE), S.COMPLETED)
INVITE_SERVER_TABLE: Table = {
    (S.INIT, I.START): ((Op.DELIVER, Op.START_TRYING), S.PROCEEDING),
    (S.PROCEEDING, I.TIMER_TRYING): ((Op.SEND_TRYING,), S.PROCEEDING),
    (S.PROCEEDING, I.REQUEST): ((Op.RESEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, I.TU_PROVISIONAL): ((Op.STOP_TRYING, Op.SEND_RESPONSE), S.PROCEEDING),
    (S.PROCEEDING, I.TU_SUCCESS): ((Op.STOP_TRYING, Op.START_L, Op.SEND_RESPONSE), S.ACCEPTED),
    (S.PROCEEDING, I.TU_FAILURE): _TU_TO_COMPLETED,
    (S.PROCEEDING, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.COMPLETED, I.REQUEST): ((Op.RESEND_RESPONSE,), S.COMPLETED),
    (S.COMPLETED, I.TIMER_G): ((Op.DOUBLE_G, Op.RESEND_RESPONSE), S.COMPLETED),
    (S.COMPLETED, I.TIMER_H): ((Op.REPORT_TIMEOUT,), S.TERMINATED),
    (S.COMPLETED, I.ACK): ((Op.START_I,), S.CONFIRMED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.CONFIRMED, I.ACK): ((), S.CONFIRMED),  # ACK retransmissions absorbed
    (S.CONFIRMED, I.TIMER_I): ((), S.TERMINATED),
    (S.ACCEPTED, I.REQUEST): ((), S.ACCEPTED),  # RFC 6026 7.1: absorbed, the TU resends 2xx
    (S.ACCEPTED, I.ACK): ((Op.DELIVER,), S.ACCEPTED),  # RFC 6026 7.1: ACK for 2xx to the TU
    (S.ACCEPTED, I.TU_SUCCESS): ((Op.SEND_RESPONSE,), S.ACCEPTED),  # TU's 2xx retransmits
    # RFC 6026 has no transport-error arc in Accepted; the TU still hears of the failed 2xx.
    (S.ACCEPTED, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.ACCEPTED),
    (S.ACCEPTED, I.TIMER_L): ((), S.TERMINATED),
}

# RFC 3261 17.2.2 figure 8.
_TU_FINAL = ((Op.START_J, Op.SEND_RESPONSE), S.COMPLETED)
NON_INVITE_SERVER_TABLE: Table = {
    (S.INIT, I.START): ((Op.DELIVER,), S.TRYING),
    (S.TRYING, I.REQUEST): ((), S.TRYING),  # no response yet to resend
    (S.TRYING, I.TU_PROVISIONAL): ((Op.SEND_RESPONSE,), S.PROCEEDING),
    (S.TRYING, I.TU_SUCCESS): _TU_FINAL,
    (S.TRYING, I.TU_FAILURE): _TU_FINAL,
    (S.PROCEEDING, I.REQUEST): ((Op.RESEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, I.TU_PROVISIONAL): ((Op.SEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, I.TU_SUCCESS): _TU_FINAL,
    (S.PROCEEDING, I.TU_FAILURE): _TU_FINAL,
    (S.PROCEEDING, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.COMPLETED, I.REQUEST): ((Op.RESEND_RESPONSE,), S.COMPLETED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ((Op.REPORT_TRANSPORT_ERROR,), S.TERMINATED),
    (S.COMPLETED, I.TIMER_J): ((), S.TERMINATED),
}

_T = TimerName
_NONE: frozenset[TimerName] = frozenset()
INVITE_CLIENT_TIMERS: Mapping[State, frozenset[TimerName]] = {
    S.INIT: _NONE,
    S.CALLING: frozenset({_T.A, _T.B}),
    S.PROCEEDING: _NONE,  # RFC 3261 17.1.1.2: a provisional response stops A (and B)
    S.COMPLETED: frozenset({_T.D}),
    S.ACCEPTED: frozenset({_T.M}),
    S.TERMINATED: _NONE,
}
NON_INVITE_CLIENT_TIMERS: Mapping[State, frozenset[TimerName]] = {
    S.INIT: _NONE,
    S.TRYING: frozenset({_T.E, _T.F}),
    S.PROCEEDING: frozenset({_T.E, _T.F}),
    S.COMPLETED: frozenset({_T.K}),
    S.TERMINATED: _NONE,
}
INVITE_SERVER_TIMERS: Mapping[State, frozenset[TimerName]] = {
    S.INIT: _NONE,
    S.PROCEEDING: frozenset({_T.TRYING}),  # cancelled by the TU's first response below
    S.COMPLETED: frozenset({_T.G, _T.H}),
    S.CONFIRMED: frozenset({_T.I}),
    S.ACCEPTED: frozenset({_T.L}),
    S.TERMINATED: _NONE,
}
NON_INVITE_SERVER_TIMERS: Mapping[State, frozenset[TimerName]] = {
    S.INIT: _NONE,
    S.TRYING: _NONE,
    S.PROCEEDING: _NONE,
    S.COMPLETED: frozenset({_T.J}),
    S.TERMINATED: _NONE,
}


def client_input(status: int) -> Input:
    """The client-side input for a received response status (100-699)."""
    if status < 200:
        return Input.PROVISIONAL
    return Input.SUCCESS if status < 300 else Input.FAILURE


def server_input(status: int) -> Input:
    """The server-side input for a response status the TU sends (100-699)."""
    if status < 200:
        return Input.TU_PROVISIONAL
    return Input.TU_SUCCESS if status < 300 else Input.TU_FAILURE


def make_ack(request: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response to `request` (RFC 3261 17.1.1.3): same Request-URI,
    Call-ID, From, CSeq number and top Via (so the same branch), To of the response, the
    request's Route set."""
    source = request.headers
    headers = Headers()
    vias = source.get_all("Via")
    if vias:
        headers.add("Via", vias[0])
    for route in source.get_all("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    for name in ("From", "Call-ID"):
        value = source.get(name)
        if value is not None:
            headers.add(name, value)
    to = response.headers.get("To")
    if to is not None:
        headers.add("To", to)
    cseq = request.cseq
    headers.add("CSeq", f"{cseq[0] if cseq else 0} ACK")
    return Request("ACK", request.uri, headers)


class Transaction:
    """One transaction's state machine. Subclasses pick the table; `handle` drives it."""

    TABLE: ClassVar[Table]
    LIVE_TIMERS: ClassVar[Mapping[State, frozenset[TimerName]]]

    __slots__ = (
        "_intervals",
        "_request",
        "key",
        "last_response",
        "reliable",
        "settings",
        "state",
        "timers",
    )

    def __init__(self, key: str, request: Request, reliable: bool, settings: TimerSettings) -> None:
        self.key = key
        self._request: Request | None = request
        self.reliable = reliable
        self.settings = settings
        self.state = State.INIT
        self.last_response: Response | None = None
        self.timers: dict[TimerName, float] = {}  # pending timer -> when it is due
        self._intervals: dict[TimerName, float] = {}  # retransmit timer -> last interval

    @property
    def request(self) -> Request:
        """The request this transaction is for (a completed non-INVITE server transaction
        lets it go: see `NonInviteServerTransaction`)."""
        if self._request is None:
            raise TransactionError(f"{self.key}: request released in {self.state.name}", Fault.LOCAL)
        return self._request

    def start(self, now: float) -> list[Action]:
        """Begin: send the request (client) or deliver it to the TU (server)."""
        return self.handle(Input.START, now)

    def fire(self, name: TimerName, now: float) -> list[Action]:
        """Timer `name` is due. A timer that is not pending (cancelled, already fired) is the
        caller's error."""
        if self.timers.pop(name, None) is None:
            raise TransactionError(f"Timer {name.value} is not pending", Fault.LOCAL)
        return self.handle(TIMER_INPUT[name], now)

    def handle(
        self,
        event: Input,
        now: float,
        message: Request | Response | None = None,
        source: Address | None = None,
    ) -> list[Action]:
        """Feed one input; `message` is the response or request that came with it."""
        actions: list[Action] = []
        self._step(event, now, message, source, actions)
        return actions

    def _step(
        self,
        event: Input,
        now: float,
        message: Request | Response | None,
        source: Address | None,
        actions: list[Action],
    ) -> None:
        entry = self.TABLE.get((self.state, event))
        if entry is None:
            fault = Fault.REMOTE if event in REMOTE_INPUTS else Fault.LOCAL
            raise TransactionError(
                f"{type(self).__name__} in {self.state.name} cannot take {event.value}", fault
            )
        ops, next_state = entry
        immediate: list[TimerName] = []
        for op in ops:
            timer = _TIMER_OPS.get(op)
            if timer is not None:
                self._start_timer(timer[0], timer[1], now, actions, immediate)
            else:
                self._run(op, message, source, actions)
        self._enter(next_state, actions)
        for name in immediate:  # zero-length timers (reliable transports) fire right away
            if self.state is not State.TERMINATED:
                self._step(TIMER_INPUT[name], now, None, None, actions)

    def _start_timer(
        self,
        name: TimerName,
        rule: _Rule,
        now: float,
        actions: list[Action],
        immediate: list[TimerName],
    ) -> None:
        if rule is _Rule.FIXED:
            duration = fixed_duration(name, self.settings, self.reliable)
            if duration == 0:
                immediate.append(name)
                return
        else:
            if self.reliable:  # RFC 3261 17.1.1.2 etc.: no retransmissions over TCP/TLS
                return
            t1, t2 = self.settings.t1, self.settings.t2
            last = self._intervals.get(name, t1)
            if rule is _Rule.FIRST:
                duration = t1
            elif rule is _Rule.DOUBLE:
                duration = 2 * last
            elif rule is _Rule.DOUBLE_TO_T2:
                duration = min(2 * last, t2)
            else:
                duration = t2
            self._intervals[name] = duration
        at = now + duration
        self.timers[name] = at
        actions.append(StartTimer(self.key, name, at))

    def _enter(self, state: State, actions: list[Action]) -> None:
        if self.timers:
            live = self.LIVE_TIMERS[state]
            for name in [name for name in self.timers if name not in live]:
                del self.timers[name]
                actions.append(CancelTimer(self.key, name))
        self.state = state
        if state is State.TERMINATED:
            actions.append(TransactionTerminated(self.key))

    def _run(
        self,
        op: Op,
        message: Request | Response | None,
        source: Address | None,
        actions: list[Action],
    ) -> None:
        if op is Op.REPORT_TIMEOUT:
            actions.append(TransactionTimeout(self.key))
        elif op is Op.REPORT_TRANSPORT_ERROR:
            actions.append(TransportFailed(self.key))
        elif op is Op.STOP_TRYING:
            if self.timers.pop(TimerName.TRYING, None) is not None:
                actions.append(CancelTimer(self.key, TimerName.TRYING))
        elif op is Op.RESEND_RESPONSE:
            if self.last_response is not None:
                actions.append(SendMessage(self.last_response, None, self.key))
        else:
            self._run_specific(op, message, source, actions)

    def _run_specific(
        self,
        op: Op,
        message: Request | Response | None,
        source: Address | None,
        actions: list[Action],
    ) -> None:
        raise AssertionError(f"{type(self).__name__} has no op {op}")  # a table bug


class ClientTransaction(Transaction):
    """Sends a request to `destination` and matches its responses (RFC 3261 17.1)."""

    __slots__ = ("ack", "destination")

    def __init__(
        self,
        key: str,
        request: Request,
        destination: Address,
        reliable: bool,
        settings: TimerSettings,
    ) -> None:
        super().__init__(key, request, reliable, settings)
        self.destination = destination
        self.ack: Request | None = None

    def _run_specific(
        self,
        op: Op,
        message: Request | Response | None,
        source: Address | None,
        actions: list[Action],
    ) -> None:
        if op is Op.SEND_REQUEST:
            actions.append(SendMessage(self.request, self.destination, self.key))
        elif op is Op.DELIVER:
            assert isinstance(message, Response)
            self.last_response = message
            actions.append(DeliverResponse(message, self.key))
        elif op is Op.SEND_ACK:
            assert isinstance(message, Response)
            self.ack = make_ack(self.request, message)
            actions.append(SendMessage(self.ack, self.destination, self.key))
        elif op is Op.RESEND_ACK:
            assert self.ack is not None
            actions.append(SendMessage(self.ack, self.destination, self.key))
        else:
            super()._run_specific(op, message, source, actions)


class InviteClientTransaction(ClientTransaction):
    TABLE = INVITE_CLIENT_TABLE
    LIVE_TIMERS = INVITE_CLIENT_TIMERS
    __slots__ = ()


class NonInviteClientTransaction(ClientTransaction):
    TABLE = NON_INVITE_CLIENT_TABLE
    LIVE_TIMERS = NON_INVITE_CLIENT_TIMERS
    __slots__ = ()


class ServerTransaction(Transaction):
    """Delivers a received request to the TU and sends the TU's responses (RFC 3261 17.2).
    `cancels`: for a CANCEL, the key of the INVITE server transaction it matches."""

    __slots__ = ("cancels", "fallback_keys", "source")

    def __init__(
        self,
        key: str,
        request: Request,
        source: Address,
        reliable: bool,
        settings: TimerSettings,
        cancels: str | None = None,
    ) -> None:
        super().__init__(key, request, reliable, settings)
        self.source = source
        self.cancels = cancels
        # The layer's RFC 2543 secondary index entries for this transaction, removed with it.
        self.fallback_keys: tuple[tuple[object, ...], tuple[object, ...]] | None = None

    def _run_specific(
        self,
        op: Op,
        message: Request | Response | None,
        source: Address | None,
        actions: list[Action],
    ) -> None:
        if op is Op.SEND_RESPONSE:
            assert isinstance(message, Response)
            self.last_response = message
            actions.append(SendMessage(message, None, self.key))
        elif op is Op.SEND_TRYING:
            trying = make_response(self.request, 100)
            self.last_response = trying
            actions.append(SendMessage(trying, None, self.key))
        elif op is Op.DELIVER:
            if isinstance(message, Request):  # an ACK for the 2xx, in Accepted
                actions.append(DeliverRequest(message, self.key, source or self.source))
            else:
                actions.append(DeliverRequest(self.request, self.key, self.source, self.cancels))
        else:
            super()._run_specific(op, message, source, actions)


class InviteServerTransaction(ServerTransaction):
    TABLE = INVITE_SERVER_TABLE
    LIVE_TIMERS = INVITE_SERVER_TIMERS
    __slots__ = ()


class NonInviteServerTransaction(ServerTransaction):
    TABLE = NON_INVITE_SERVER_TABLE
    LIVE_TIMERS = NON_INVITE_SERVER_TIMERS
    __slots__ = ()

    def _enter(self, state: State, actions: list[Action]) -> None:
        super()._enter(state, actions)
        if state is State.COMPLETED and self.fallback_keys is None:
            # RFC 3261 17.2.2: Completed only resends the final response, for Timer J (32 s on
            # UDP); dropping the request then halves what thousands of such transactions keep
            # alive for the garbage collector. RFC 2543 matching still needs it (To tag).
            self._request = None
