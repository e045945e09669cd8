"""The transaction layer: matching (RFC 3261 17.1.3, 17.2.3, RFC 2543 fallback), dispatch,
reaping; and a UAC layer wired to a UAS layer over a lossy in-memory network (fake clock,
messages serialised and re-parsed) recovering from lost messages by retransmission."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from acdgate.gateway.sip.message import Headers, Request, Response, make_response, new_branch
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.transaction import Fault, State, TimerSettings, TransactionError
from acdgate.gateway.sip.transaction_actions import (
    Action,
    CancelTimer,
    DeliverRequest,
    DeliverResponse,
    Dropped,
    SendMessage,
    StartTimer,
    TimerName,
    TransactionTerminated,
    TransactionTimeout,
    TransportFailed,
)
from acdgate.gateway.sip.transaction_layer import TransactionLayer
from hypothesis import example, given, settings
from hypothesis import strategies as st

T1 = TimerSettings().t1
T2 = TimerSettings().t2
UAC_ADDR = ("192.0.2.20", 5060)
UAS_ADDR = ("192.0.2.10", 5060)


def make_request(
    method: str = "REGISTER",
    branch: str | None = None,
    *,
    sent_by: str = "192.0.2.20:5060",
    cseq: int = 1,
    to_tag: str | None = None,
    call_id: str = "call1@192.0.2.20",
) -> Request:
    via = f"SIP/2.0/UDP {sent_by}" + (f";branch={branch}" if branch is not None else "")
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return Request(
        method,
        "sip:bob@example.com",
        Headers(
            [
                ("Via", via),
                ("Max-Forwards", "70"),
                ("From", "<sip:alice@example.com>;tag=from1"),
                ("To", to),
                ("Call-ID", call_id),
                ("CSeq", f"{cseq} {method}"),
            ]
        ),
    )


def wire(message: Request | Response) -> Request | Response:
    """What the peer gets: the bytes, parsed again."""
    parsed = parse_message(message.to_bytes())
    assert isinstance(parsed, Request | Response), parsed
    return parsed


def only(actions: list[Action], kind: type) -> list[Action]:
    return [a for a in actions if isinstance(a, kind)]


def sent(actions: list[Action]) -> list[Request | Response]:
    return [a.message for a in actions if isinstance(a, SendMessage)]


# -- the in-memory pair ----------------------------------------------------------------------


@dataclass
class Side:
    name: str
    address: tuple[str, int]
    layer: TransactionLayer
    tu: list[Action] = field(default_factory=list)  # what reached the TU
    sent: list[Request | Response] = field(default_factory=list)


class Pair:
    """A UAC layer and a UAS layer on a lossy network with a fake clock (ConnectionPair-like).

    `drop(message, sender)` decides losses; the UAS TU answers every new request with
    `status` after `answer_delay`; the UAC TU ACKs 2xx responses to INVITE (RFC 3261 13.2.2.4).
    """

    def __init__(
        self,
        *,
        status: int = 200,
        answer_delay: float = 0.0,
        reliable: bool = False,
        drop: Callable[[Request | Response, str], bool] = lambda m, s: False,
        latency: float = 0.01,
    ) -> None:
        self.now = 0.0
        self.reliable = reliable
        self.drop = drop
        self.latency = latency
        self.status = status
        self.answer_delay = answer_delay
        self.uac = Side("uac", UAC_ADDR, TransactionLayer())
        self.uas = Side("uas", UAS_ADDR, TransactionLayer())
        self.timers: dict[tuple[str, str, TimerName], float] = {}
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._seq), fn))

    def peer(self, side: Side) -> Side:
        return self.uas if side is self.uac else self.uac

    def transmit(self, side: Side, message: Request | Response) -> None:
        side.sent.append(message)
        if self.drop(message, side.name):
            return
        data = wire(message)
        to = self.peer(side)
        self.later(
            self.latency,
            lambda: self.run_actions(to, to.layer.receive(data, side.address, self.reliable, self.now)),
        )

    def run_actions(self, side: Side, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendMessage):
                self.transmit(side, action.message)
            elif isinstance(action, StartTimer):
                self.timers[(side.name, action.transaction_key, action.name)] = action.at
            elif isinstance(action, CancelTimer):
                del self.timers[(side.name, action.transaction_key, action.name)]
            else:
                side.tu.append(action)
                self.tu_react(side, action)

    def tu_react(self, side: Side, action: Action) -> None:
        if side is self.uas and isinstance(action, DeliverRequest):
            request = action.request
            if action.transaction_key is None or request.method == "ACK":
                return
            status = 200 if request.method == "CANCEL" else self.status
            response = make_response(request, status, to_tag="uas-tag")
            self.later(self.answer_delay, lambda: self.answer(response, 0.0))
        elif side is self.uac and isinstance(action, DeliverResponse):
            response = action.response
            if response.cseq == (1, "INVITE") and 200 <= response.status < 300:
                self.transmit(side, ack_for_2xx(response))

    def answer(self, response: Response, interval: float, first_sent: float | None = None) -> None:
        """The UAS TU sends `response`; a 2xx to INVITE it resends itself until the ACK comes,
        T1 doubling to T2, for 64*T1 after its first sending (RFC 3261 13.3.1.4), through the
        Accepted transaction."""
        acked = any(isinstance(a, DeliverRequest) and a.request.method == "ACK" for a in self.uas.tu)
        first = self.now if first_sent is None else first_sent
        if acked or self.now - first >= 64 * T1:  # 13.3.1.4: then the UAS gives up (and sends BYE)
            return
        self.run_actions(self.uas, self.uas.layer.send_response(response, self.now))
        if response.cseq == (1, "INVITE") and 200 <= response.status < 300:
            step = min(2 * interval, T2) if interval else T1
            self.later(step, lambda: self.answer(response, step, first))

    def send(self, request: Request) -> str:
        key, actions = self.uac.layer.send_request(request, UAS_ADDR, self.reliable, self.now)
        self.run_actions(self.uac, actions)
        return key

    def run(self, until: float = 300.0) -> None:
        """Deliver messages and fire timers in time order until nothing is left."""
        while True:
            due_timer = min(self.timers.items(), key=lambda kv: kv[1], default=None)
            due_queue = self._queue[0][0] if self._queue else None
            if due_timer is None and due_queue is None:
                return
            if min(t for t in (due_queue, due_timer and due_timer[1]) if t is not None) > until:
                return
            if due_queue is not None and (due_timer is None or due_queue <= due_timer[1]):
                self.now, _, fn = heapq.heappop(self._queue)
                fn()
            else:
                assert due_timer is not None
                (name, key, timer), at = due_timer
                del self.timers[(name, key, timer)]
                self.now = at
                side = self.uac if name == "uac" else self.uas
                self.run_actions(side, side.layer.timer_fired(key, timer, self.now))

    def assert_reaped(self) -> None:
        assert len(self.uac.layer) == 0 and len(self.uas.layer) == 0
        assert not self.timers and not self._queue


def ack_for_2xx(response: Response) -> Request:
    """The UAC core's ACK for a 2xx: a new transaction of its own (new branch)."""
    headers = Headers(
        [
            ("Via", f"SIP/2.0/UDP 192.0.2.20:5060;branch={new_branch()}"),
            ("Max-Forwards", "70"),
            ("From", response.headers.get("From") or ""),
            ("To", response.headers.get("To") or ""),
            ("Call-ID", response.call_id or ""),
            ("CSeq", "1 ACK"),
        ]
    )
    return Request("ACK", "sip:bob@192.0.2.10", headers)


def drop_first(n: int, match: Callable[[Request | Response], bool]) -> Callable[..., bool]:
    """A loss pattern: drop the first `n` messages that `match`."""
    left = [n]

    def drop(message: Request | Response, sender: str) -> bool:
        if left[0] > 0 and match(message):
            left[0] -= 1
            return True
        return False

    return drop


def is_final(m: Request | Response) -> bool:
    return isinstance(m, Response) and m.status >= 200


def statuses(side: Side) -> list[int]:
    return [a.response.status for a in side.tu if isinstance(a, DeliverResponse)]


def requests(side: Side) -> list[str]:
    return [a.request.method for a in side.tu if isinstance(a, DeliverRequest)]


# -- pair scenarios ------------------------------------------------------------------------


def test_register_clean_exchange_is_reaped_after_j_and_k() -> None:
    pair = Pair()
    key = pair.send(make_request("REGISTER", new_branch()))
    pair.run(until=1.0)
    assert statuses(pair.uac) == [200] and requests(pair.uas) == ["REGISTER"]
    assert pair.uac.layer.state(key) is State.COMPLETED  # Timer K = T4 still running
    pair.run()
    assert pair.now == pytest.approx(0.01 + 64 * T1)  # the UAS's Timer J was last
    pair.assert_reaped()


def test_lost_final_responses_are_recovered_by_retransmission() -> None:
    pair = Pair(drop=drop_first(2, is_final))
    pair.send(make_request("REGISTER", new_branch()))
    pair.run()
    assert statuses(pair.uac) == [200]  # delivered once
    assert requests(pair.uas) == ["REGISTER"]  # retransmissions absorbed
    assert [m.status for m in pair.uas.sent if isinstance(m, Response)] == [200, 200, 200]
    assert len(pair.uac.sent) == 3  # original + two Timer E retransmissions
    pair.assert_reaped()


def test_lost_requests_are_recovered_by_timer_e() -> None:
    pair = Pair(drop=drop_first(2, lambda m: isinstance(m, Request)))
    pair.send(make_request("OPTIONS", new_branch()))
    pair.run()
    assert statuses(pair.uac) == [200] and requests(pair.uas) == ["OPTIONS"]
    pair.assert_reaped()


def test_invite_rejected_with_lost_486_and_lost_ack() -> None:
    lose_486 = drop_first(2, is_final)
    lose_ack = drop_first(1, lambda m: isinstance(m, Request) and m.method == "ACK")
    pair = Pair(status=486, drop=lambda m, s: lose_486(m, s) or lose_ack(m, s))
    pair.send(make_request("INVITE", new_branch()))
    pair.run()
    assert statuses(pair.uac) == [486]
    assert requests(pair.uas) == ["INVITE"]  # the ACK for a non-2xx stays in the transaction
    acks = [m for m in pair.uac.sent if isinstance(m, Request) and m.method == "ACK"]
    assert len(acks) == 2  # the first was lost; Timer G's 486 got it resent
    invite = pair.uac.sent[0]
    assert isinstance(invite, Request) and invite.top_via is not None
    assert all(a.top_via is not None and a.top_via.branch == invite.top_via.branch for a in acks)
    pair.assert_reaped()


def test_invite_answered_goes_through_accepted_and_ack_reaches_the_tu() -> None:
    pair = Pair(status=200, drop=drop_first(1, is_final))
    pair.send(make_request("INVITE", new_branch()))
    pair.run()
    # The lost 200 comes again from the UAS TU (RFC 6026: the Accepted transaction passes the
    # TU's 2xx retransmissions on, and absorbs the UAC's INVITE retransmissions).
    assert statuses(pair.uac) == [200]
    assert requests(pair.uas) == ["INVITE", "ACK"]
    ack = [a for a in pair.uas.tu if isinstance(a, DeliverRequest)][1]
    assert ack.transaction_key is None  # the ACK for a 2xx belongs to no transaction
    assert [m.status for m in pair.uas.sent if isinstance(m, Response)] == [200, 200]
    pair.assert_reaped()


def test_slow_tu_gets_100_trying_which_stops_timer_a() -> None:
    pair = Pair(status=486, answer_delay=3.0)
    pair.send(make_request("INVITE", new_branch()))
    pair.run()
    assert statuses(pair.uac) == [100, 486]
    invites = [m for m in pair.uac.sent if isinstance(m, Request) and m.method == "INVITE"]
    assert len(invites) == 1  # the 100 at 200 ms came before Timer A (500 ms)
    pair.assert_reaped()


def test_fast_tu_gets_no_100_trying() -> None:
    pair = Pair(status=486, answer_delay=0.1)
    pair.send(make_request("INVITE", new_branch()))
    pair.run()
    assert statuses(pair.uac) == [486]
    pair.assert_reaped()


def test_all_responses_lost_times_out_with_timer_f() -> None:
    pair = Pair(drop=lambda m, s: isinstance(m, Response))
    key = pair.send(make_request("REGISTER", new_branch()))
    pair.run()
    assert only(pair.uac.tu, TransactionTimeout) == [TransactionTimeout(key)]
    assert only(pair.uac.tu, TransactionTerminated) == [TransactionTerminated(key)]
    assert statuses(pair.uac) == []
    pair.assert_reaped()


def test_reliable_transport_no_retransmissions_and_immediate_reaping() -> None:
    pair = Pair(reliable=True, status=486)
    pair.send(make_request("INVITE", new_branch()))
    pair.run()
    assert statuses(pair.uac) == [486]
    assert [m.method for m in pair.uac.sent if isinstance(m, Request)] == ["INVITE", "ACK"]
    assert pair.now < 1.0  # D, I = 0 on reliable transports
    pair.assert_reaped()


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["REGISTER", "INVITE"]),
    status=st.sampled_from([200, 404, 486]),
    losses=st.lists(st.booleans(), max_size=12),
)
# the INVITE gets through only as Timer B fires and the first 2xx is lost: the UAC's
# transaction is gone, the 2xx retransmissions are dropped (RFC 6026 8.9) until the UAS TU
# gives up 64*T1 after its first 2xx
@example(method="INVITE", status=200, losses=[True] * 6 + [False, True])
def test_random_loss_patterns(method: str, status: int, losses: list[bool]) -> None:
    """Whatever is lost: the TU sees at most one final response (once per 2xx retransmit for
    INVITE), the UAS TU sees the request at most once, and everything is reaped at the end."""
    pattern = iter(losses)
    pair = Pair(status=status, drop=lambda m, s: next(pattern, False))
    pair.send(make_request(method, new_branch()))
    pair.run()
    finals = [s for s in statuses(pair.uac) if s >= 200]
    timeouts = only(pair.uac.tu, TransactionTimeout)
    assert len(finals) + len(timeouts) >= 1
    assert set(finals) <= {status}
    if method != "INVITE" or status >= 300:
        assert len(finals) <= 1  # 2xx to INVITE: once per retransmission, the TU re-ACKs
    assert requests(pair.uas).count(method) <= 1
    pair.assert_reaped()


# -- matching and dispatch, one layer --------------------------------------------------------


def test_retransmitted_request_is_absorbed_and_last_response_resent() -> None:
    layer = TransactionLayer()
    request = make_request("REGISTER", "z9hG4bKr1")
    (deliver,) = layer.receive(request, UAC_ADDR, False, 0.0)
    assert isinstance(deliver, DeliverRequest) and deliver.source == UAC_ADDR
    assert layer.receive(wire(request), UAC_ADDR, False, 0.1) == []  # Trying: nothing yet
    ok = make_response(request, 200, to_tag="t")
    assert sent(layer.send_response(ok, 0.2)) == [ok]
    assert sent(layer.receive(wire(request), UAC_ADDR, False, 0.3)) == [ok]


def test_sent_by_is_normalised_for_matching() -> None:
    layer = TransactionLayer()
    layer.receive(make_request("OPTIONS", "z9hG4bKn1", sent_by="Host.Example.COM"), UAC_ADDR, False, 0)
    again = make_request("OPTIONS", "z9hG4bKn1", sent_by="host.example.com:5060")
    assert layer.receive(again, UAC_ADDR, False, 0.1) == [] and len(layer) == 1
    other = make_request("OPTIONS", "z9hG4bKn1", sent_by="host.example.com:5070")
    assert only(layer.receive(other, UAC_ADDR, False, 0.2), DeliverRequest)  # a new one
    assert len(layer) == 2


def test_method_is_part_of_the_server_key() -> None:
    layer = TransactionLayer()
    layer.receive(make_request("INVITE", "z9hG4bKm1"), UAC_ADDR, False, 0)
    actions = layer.receive(make_request("OPTIONS", "z9hG4bKm1"), UAC_ADDR, False, 0)
    assert only(actions, DeliverRequest) and len(layer) == 2


def test_cancel_opens_its_own_transaction_and_names_the_invite() -> None:
    layer = TransactionLayer()
    (deliver_invite, _) = layer.receive(make_request("INVITE", "z9hG4bKc1"), UAC_ADDR, False, 0)
    assert isinstance(deliver_invite, DeliverRequest)
    (deliver_cancel,) = layer.receive(make_request("CANCEL", "z9hG4bKc1"), UAC_ADDR, False, 0.1)
    assert isinstance(deliver_cancel, DeliverRequest)
    assert deliver_cancel.cancels == deliver_invite.transaction_key
    assert deliver_cancel.transaction_key != deliver_invite.transaction_key and len(layer) == 2
    (lone,) = layer.receive(make_request("CANCEL", "z9hG4bKother"), UAC_ADDR, False, 0.2)
    assert isinstance(lone, DeliverRequest) and lone.cancels is None  # the TU answers 481


def test_ack_for_non_2xx_matches_and_stray_ack_goes_to_the_tu() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", "z9hG4bKa1")
    (deliver, _) = layer.receive(invite, UAC_ADDR, False, 0)
    assert isinstance(deliver, DeliverRequest) and isinstance(deliver.transaction_key, str)
    key = deliver.transaction_key
    layer.send_response(make_response(invite, 486, to_tag="t"), 0.1)
    ack = make_request("ACK", "z9hG4bKa1", to_tag="t")
    ack.headers.set("CSeq", "1 ACK")
    actions = layer.receive(ack, UAC_ADDR, False, 0.2)
    assert layer.state(key) is State.CONFIRMED and not only(actions, DeliverRequest)
    stray = make_request("ACK", "z9hG4bKnew", to_tag="t")
    assert layer.receive(stray, UAC_ADDR, False, 0.3) == [DeliverRequest(stray, None, UAC_ADDR)]


def test_ack_in_proceeding_is_dropped_not_raised() -> None:
    layer = TransactionLayer()
    layer.receive(make_request("INVITE", "z9hG4bKp1"), UAC_ADDR, False, 0)
    (dropped,) = layer.receive(make_request("ACK", "z9hG4bKp1"), UAC_ADDR, False, 0.1)
    assert isinstance(dropped, Dropped) and "PROCEEDING" in dropped.reason


def test_rfc2543_fallback_matching() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", None)  # no branch: an RFC 2543 peer
    (deliver, _) = layer.receive(invite, UAC_ADDR, False, 0)
    assert isinstance(deliver, DeliverRequest) and isinstance(deliver.transaction_key, str)
    key = deliver.transaction_key
    assert only(layer.receive(wire(invite), UAC_ADDR, False, 0.1), DeliverRequest) == []
    cancel = make_request("CANCEL", None)
    (deliver_cancel,) = layer.receive(cancel, UAC_ADDR, False, 0.15)
    assert isinstance(deliver_cancel, DeliverRequest) and deliver_cancel.cancels == key
    busy = make_response(invite, 486, to_tag="t2543")
    assert sent(layer.send_response(busy, 0.2)) == [busy]  # found without the key
    other_ack = make_request("ACK", None, to_tag="other")
    other_ack.headers.set("CSeq", "1 ACK")
    assert only(layer.receive(other_ack, UAC_ADDR, False, 0.3), DeliverRequest)  # not ours
    ack = make_request("ACK", None, to_tag="t2543")
    ack.headers.set("CSeq", "1 ACK")
    assert layer.receive(ack, UAC_ADDR, False, 0.3) == [
        StartTimer(key, TimerName.I, 0.3 + 5.0),
        CancelTimer(key, TimerName.G),
        CancelTimer(key, TimerName.H),
    ]
    assert layer.state(key) is State.CONFIRMED
    layer.timer_fired(key, TimerName.I, 5.3)
    assert layer.state(key) is None
    # Reaped from the secondary index too: the same request now opens a new transaction.
    (again, _) = layer.receive(invite, UAC_ADDR, False, 6.0)
    assert isinstance(again, DeliverRequest) and again.transaction_key != key


def test_unmatched_and_malformed_responses_are_dropped() -> None:
    layer = TransactionLayer()
    stray = make_response(make_request("REGISTER", "z9hG4bKnobody"), 200)
    (dropped,) = layer.receive(stray, UAS_ADDR, False, 0)
    assert isinstance(dropped, Dropped) and dropped.message is stray
    broken = Response(200, "OK", Headers([("Via", "garbage"), ("CSeq", "1 REGISTER")]))
    assert isinstance(layer.receive(broken, UAS_ADDR, False, 0)[0], Dropped)
    no_cseq = make_request("OPTIONS", "z9hG4bKx")
    no_cseq.headers.remove("CSeq")
    assert isinstance(layer.receive(no_cseq, UAC_ADDR, False, 0)[0], Dropped)
    assert len(layer) == 0


def test_client_matching_uses_branch_and_cseq_method() -> None:
    layer = TransactionLayer()
    request = make_request("INVITE", "z9hG4bKcli")
    key, _ = layer.send_request(request, UAS_ADDR, False, 0)
    wrong_method = make_response(make_request("CANCEL", "z9hG4bKcli"), 200)
    assert isinstance(layer.receive(wrong_method, UAS_ADDR, False, 0.1)[0], Dropped)
    ringing = make_response(request, 180, to_tag="t")
    assert only(layer.receive(wire(ringing), UAS_ADDR, False, 0.1), DeliverResponse)
    assert layer.state(key) is State.PROCEEDING


def test_tu_misuse_raises_local_errors() -> None:
    layer = TransactionLayer()
    with pytest.raises(TransactionError) as err:
        layer.send_request(make_request("OPTIONS", None), UAS_ADDR, False, 0)
    assert err.value.fault is Fault.LOCAL
    with pytest.raises(TransactionError):
        layer.send_request(make_request("ACK", "z9hG4bKack"), UAS_ADDR, False, 0)
    layer.send_request(make_request("OPTIONS", "z9hG4bKdup"), UAS_ADDR, False, 0)
    with pytest.raises(TransactionError):
        layer.send_request(make_request("OPTIONS", "z9hG4bKdup"), UAS_ADDR, False, 0)
    request = make_request("OPTIONS", "z9hG4bKsrv")
    layer.receive(request, UAC_ADDR, False, 0)
    layer.send_response(make_response(request, 200, to_tag="t"), 0.1)
    with pytest.raises(TransactionError) as err:
        layer.send_response(make_response(request, 500, to_tag="t"), 0.2)
    assert err.value.fault is Fault.LOCAL


def test_late_tu_response_and_stale_timers_are_dropped() -> None:
    layer = TransactionLayer()
    request = make_request("OPTIONS", "z9hG4bKlate")
    assert isinstance(layer.send_response(make_response(request, 200), 0)[0], Dropped)
    key, _ = layer.send_request(make_request("OPTIONS", "z9hG4bKst"), UAS_ADDR, True, 0)
    assert isinstance(layer.timer_fired(key, TimerName.E, 1.0)[0], Dropped)  # never started
    assert isinstance(layer.timer_fired("no such key", TimerName.F, 1.0)[0], Dropped)


def test_transport_error_fails_and_reaps_the_transaction() -> None:
    layer = TransactionLayer()
    key, actions = layer.send_request(make_request("INVITE", "z9hG4bKte"), UAS_ADDR, False, 0)
    assert {a.name for a in actions if isinstance(a, StartTimer)} == {TimerName.A, TimerName.B}
    actions = layer.transport_error(key, 0.0)
    assert actions[0] == TransportFailed(key)
    assert {a.name for a in actions if isinstance(a, CancelTimer)} == {TimerName.A, TimerName.B}
    assert actions[-1] == TransactionTerminated(key) and len(layer) == 0
    assert isinstance(layer.transport_error(key, 0.1)[0], Dropped)
    # No transport-error arc in Proceeding (nothing is sent there): dropped, not raised.
    key2, _ = layer.send_request(make_request("INVITE", "z9hG4bKte2"), UAS_ADDR, True, 0)
    layer.receive(make_response(make_request("INVITE", "z9hG4bKte2"), 100), UAS_ADDR, True, 0.1)
    assert isinstance(layer.transport_error(key2, 0.2)[0], Dropped)


def test_a_new_cseq_on_a_reused_branch_is_a_new_transaction() -> None:
    """pyVoIP 1.6.8 resends a challenged INVITE with the same branch and CSeq 2 (docs/interop.md)."""
    from acdgate.gateway.sip.parser import parse_message
    from acdgate.gateway.sip.transaction_actions import DeliverRequest
    from acdgate.gateway.sip.transaction_layer import TransactionLayer

    def invite(cseq: int) -> bytes:
        return (
            "INVITE sip:*37@127.0.0.1 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:17000;branch=z9hG4bKsame\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:2101@127.0.0.1>;tag=a\r\nTo: <sip:*37@127.0.0.1>\r\n"
            f"Call-ID: reuse@x\r\nCSeq: {cseq} INVITE\r\nContact: <sip:2101@127.0.0.1:17000>\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    layer = TransactionLayer()
    first = parse_message(invite(1))
    actions = layer.receive(first, ("127.0.0.1", 17000), False, 0.0)  # type: ignore[arg-type]
    delivered = [a for a in actions if isinstance(a, DeliverRequest)]
    assert len(delivered) == 1
    layer.send_response(make_401(delivered[0].request), 0.01)
    again = layer.receive(parse_message(invite(1)), ("127.0.0.1", 17000), False, 0.02)  # type: ignore[arg-type]
    assert not [a for a in again if isinstance(a, DeliverRequest)]  # a retransmission: absorbed
    second = layer.receive(parse_message(invite(2)), ("127.0.0.1", 17000), False, 0.03)  # type: ignore[arg-type]
    assert [a.request.cseq for a in second if isinstance(a, DeliverRequest)] == [(2, "INVITE")]


def make_401(request):  # type: ignore[no-untyped-def]
    from acdgate.gateway.sip.message import make_response

    return make_response(request, 401, to_tag="t1")
