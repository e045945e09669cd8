"""The four RFC 3261 / RFC 6026 transaction state machines, driven directly with a fake clock
(plain floats): timer values and doubling, retransmission, ACK generation, termination."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pytest
from acdgate.gateway.sip.message import Headers, Request, Response, make_response
from acdgate.gateway.sip.transaction import (
    TIMER_INPUT,
    Fault,
    Input,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    State,
    TimerSettings,
    Transaction,
    TransactionError,
)
from acdgate.gateway.sip.transaction_actions import (
    Action,
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
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = TimerSettings()
UAS = ("192.0.2.10", 5060)
UAC = ("192.0.2.20", 5060)


def make_request(method: str = "INVITE", branch: str = "z9hG4bKtest1") -> Request:
    return Request(
        method,
        "sip:bob@example.com",
        Headers(
            [
                ("Via", f"SIP/2.0/UDP 192.0.2.20:5060;branch={branch}"),
                ("Via", "SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKupstream"),
                ("Max-Forwards", "70"),
                ("Route", "<sip:proxy.example.com;lr>"),
                ("From", "Alice <sip:alice@example.com>;tag=from1"),
                ("To", "Bob <sip:bob@example.com>"),
                ("Call-ID", "call1@192.0.2.20"),
                ("CSeq", f"7 {method}"),
                ("Contact", "<sip:alice@192.0.2.20>"),
            ]
        ),
    )


def make_ack_for_2xx(request: Request) -> Request:
    ack = Request("ACK", request.uri, request.headers.copy())
    ack.headers.set("CSeq", "7 ACK")
    return ack


def of_type(actions: Sequence[Action], kind: type) -> list[Action]:
    return [a for a in actions if isinstance(a, kind)]


def sends(actions: Sequence[Action]) -> list[SendMessage]:
    return [a for a in actions if isinstance(a, SendMessage)]


def starts(actions: Sequence[Action]) -> dict[TimerName, float]:
    return {a.name: a.at for a in actions if isinstance(a, StartTimer)}


def cancels(actions: Sequence[Action]) -> set[TimerName]:
    return {a.name for a in actions if isinstance(a, CancelTimer)}


def invite_client(reliable: bool = False, s: TimerSettings = SETTINGS) -> InviteClientTransaction:
    return InviteClientTransaction("c1", make_request("INVITE"), UAS, reliable, s)


def non_invite_client(reliable: bool = False) -> NonInviteClientTransaction:
    return NonInviteClientTransaction("c2", make_request("REGISTER"), UAS, reliable, SETTINGS)


def invite_server(reliable: bool = False) -> InviteServerTransaction:
    return InviteServerTransaction("s1", make_request("INVITE"), UAC, reliable, SETTINGS)


def non_invite_server(reliable: bool = False) -> NonInviteServerTransaction:
    return NonInviteServerTransaction("s2", make_request("REGISTER"), UAC, reliable, SETTINGS)


# -- settings ----------------------------------------------------------------------------


def test_timer_settings_defaults_are_rfc_values() -> None:
    assert (SETTINGS.t1, SETTINGS.t2, SETTINGS.t4, SETTINGS.timer_d) == (0.5, 4.0, 5.0, 32.0)


@pytest.mark.parametrize("kwargs", [{"t1": 0}, {"t1": 5.0, "t2": 4.0}, {"t4": 0}, {"timer_d": -1}])
def test_timer_settings_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TimerSettings(**kwargs)


# -- INVITE client -------------------------------------------------------------------------


def test_invite_client_timer_a_doubles_until_timer_b() -> None:
    t = invite_client()
    actions = t.start(0.0)
    assert [m.message for m in sends(actions)] == [t.request]
    assert sends(actions)[0].destination == UAS
    assert starts(actions) == {TimerName.A: SETTINGS.t1, TimerName.B: 64 * SETTINGS.t1}
    now, interval, transmissions = SETTINGS.t1, SETTINGS.t1, 1
    while now < 64 * SETTINGS.t1:
        actions = t.fire(TimerName.A, now)
        transmissions += len(sends(actions))
        interval *= 2  # RFC 3261 17.1.1.2: A doubles, no cap
        assert starts(actions) == {TimerName.A: now + interval}
        now += interval
    assert transmissions == 7  # RFC 3261 17.1.1.2: 7 transmissions in 64*T1 with T1 = 500 ms
    actions = t.fire(TimerName.B, 64 * SETTINGS.t1)
    assert of_type(actions, TransactionTimeout) == [TransactionTimeout("c1")]
    assert cancels(actions) == {TimerName.A}
    assert actions[-1] == TransactionTerminated("c1")
    assert t.state is State.TERMINATED and not t.timers


def test_invite_client_custom_t1_scales_a_and_b() -> None:
    t = invite_client(s=TimerSettings(t1=0.1, t2=1.0))
    assert starts(t.start(10.0)) == {TimerName.A: pytest.approx(10.1), TimerName.B: pytest.approx(16.4)}


def test_invite_client_reliable_has_no_timer_a() -> None:
    t = invite_client(reliable=True)
    assert starts(t.start(0.0)) == {TimerName.B: 64 * SETTINGS.t1}


def test_invite_client_provisional_stops_a_and_b() -> None:
    t = invite_client()
    t.start(0.0)
    ringing = make_response(t.request, 180, to_tag="to1")
    actions = t.handle(Input.PROVISIONAL, 0.3, ringing)
    assert of_type(actions, DeliverResponse) == [DeliverResponse(ringing, "c1")]
    assert cancels(actions) == {TimerName.A, TimerName.B}
    assert t.state is State.PROCEEDING and not t.timers
    # RFC 3261 17.1.1.2: no retransmission in Proceeding; a fire now is the caller's error.
    with pytest.raises(TransactionError) as err:
        t.fire(TimerName.A, 0.5)
    assert err.value.fault is Fault.LOCAL


@pytest.mark.parametrize("provisional_first", [False, True])
def test_invite_client_acks_non_2xx_with_same_branch_and_to_tag(provisional_first: bool) -> None:
    t = invite_client()
    t.start(0.0)
    if provisional_first:
        t.handle(Input.PROVISIONAL, 0.1, make_response(t.request, 100))
    busy = make_response(t.request, 486, to_tag="to486")
    actions = t.handle(Input.FAILURE, 0.2, busy)
    assert of_type(actions, DeliverResponse) == [DeliverResponse(busy, "c1")]
    (send,) = sends(actions)
    ack = send.message
    assert isinstance(ack, Request) and send.destination == UAS
    # RFC 3261 17.1.1.3: Request-URI, Call-ID, From, CSeq number, top Via of the request; To
    # of the response; the request's Route set; one Via only.
    assert (ack.method, ack.uri) == ("ACK", t.request.uri)
    assert ack.vias == [t.request.vias[0]]
    assert ack.top_via is not None and ack.top_via.branch == "z9hG4bKtest1"
    assert ack.to_addr is not None and ack.to_addr.tag == "to486"
    assert ack.from_addr == t.request.from_addr and ack.call_id == t.request.call_id
    assert ack.cseq == (7, "ACK")
    assert ack.headers.get_all("Route") == t.request.headers.get_all("Route")
    assert starts(actions) == {TimerName.D: 0.2 + SETTINGS.timer_d}
    assert t.state is State.COMPLETED
    # A retransmitted 486 is absorbed and re-ACKed, not delivered again.
    again = t.handle(Input.FAILURE, 1.0, make_response(t.request, 486, to_tag="to486"))
    assert [s.message for s in sends(again)] == [ack] and not of_type(again, DeliverResponse)
    done = t.fire(TimerName.D, 0.2 + SETTINGS.timer_d)
    assert done == [TransactionTerminated("c1")]
    assert t.state.value == "terminated"  # (mypy narrows `is` comparisons on the attribute)


def test_invite_client_reliable_timer_d_is_zero() -> None:
    t = invite_client(reliable=True)
    t.start(0.0)
    actions = t.handle(Input.FAILURE, 0.2, make_response(t.request, 404, to_tag="x"))
    assert len(sends(actions)) == 1  # the ACK
    assert actions[-1] == TransactionTerminated("c1") and TimerName.D not in starts(actions)
    assert cancels(actions) == {TimerName.B}


def test_invite_client_2xx_goes_to_accepted_and_passes_retransmissions_up() -> None:
    t = invite_client()
    t.start(0.0)
    ok = make_response(t.request, 200, to_tag="to200")
    actions = t.handle(Input.SUCCESS, 1.0, ok)
    assert of_type(actions, DeliverResponse) == [DeliverResponse(ok, "c1")]
    assert not sends(actions)  # the ACK for a 2xx is the TU's (RFC 3261 13.2.2.4)
    assert starts(actions) == {TimerName.M: 1.0 + 64 * SETTINGS.t1}  # RFC 6026 Timer M
    assert t.state is State.ACCEPTED
    again = t.handle(Input.SUCCESS, 2.0, ok)
    assert again == [DeliverResponse(ok, "c1")]  # RFC 6026 7.2: so the TU re-ACKs
    with pytest.raises(TransactionError) as err:
        t.handle(Input.FAILURE, 2.5, make_response(t.request, 500))
    assert err.value.fault is Fault.REMOTE and t.state is State.ACCEPTED
    assert t.fire(TimerName.M, 33.0) == [TransactionTerminated("c1")]


def test_invite_client_transport_error_terminates_and_cancels_timers() -> None:
    t = invite_client()
    t.start(0.0)
    actions = t.handle(Input.TRANSPORT_ERROR, 0.0)
    assert actions[0] == TransportFailed("c1")
    assert cancels(actions) == {TimerName.A, TimerName.B}
    assert actions[-1] == TransactionTerminated("c1")


# -- non-INVITE client ---------------------------------------------------------------------


def test_non_invite_client_timer_e_doubles_to_t2_then_stays() -> None:
    t = non_invite_client()
    actions = t.start(0.0)
    assert starts(actions) == {TimerName.E: SETTINGS.t1, TimerName.F: 64 * SETTINGS.t1}
    now, interval, intervals = SETTINGS.t1, SETTINGS.t1, []
    while now < 64 * SETTINGS.t1:
        actions = t.fire(TimerName.E, now)
        assert len(sends(actions)) == 1
        new_at = starts(actions)[TimerName.E]
        intervals.append(new_at - now)
        interval = min(2 * interval, SETTINGS.t2)
        assert new_at - now == interval
        now = new_at
    assert intervals[:4] == [1.0, 2.0, 4.0, 4.0] and set(intervals[3:]) == {SETTINGS.t2}
    actions = t.fire(TimerName.F, 64 * SETTINGS.t1)
    assert TransactionTimeout("c2") in actions and cancels(actions) == {TimerName.E}
    assert t.state is State.TERMINATED and not t.timers


def test_non_invite_client_provisional_moves_e_to_t2() -> None:
    t = non_invite_client()
    t.start(0.0)
    trying = make_response(t.request, 100)
    actions = t.handle(Input.PROVISIONAL, 0.1, trying)
    assert actions == [DeliverResponse(trying, "c2")] and t.state is State.PROCEEDING
    # RFC 3261 17.1.2.2: in Proceeding, Timer E is reset to T2 when it fires.
    assert starts(t.fire(TimerName.E, 0.5)) == {TimerName.E: 0.5 + SETTINGS.t2}
    assert starts(t.fire(TimerName.E, 4.5)) == {TimerName.E: 4.5 + SETTINGS.t2}


@pytest.mark.parametrize(("reliable", "k"), [(False, SETTINGS.t4), (True, 0.0)])
def test_non_invite_client_final_starts_k_and_absorbs_retransmissions(
    reliable: bool, k: float
) -> None:
    t = non_invite_client(reliable)
    t.start(0.0)
    ok = make_response(t.request, 200, to_tag="r")
    actions = t.handle(Input.SUCCESS, 1.0, ok)
    assert of_type(actions, DeliverResponse) == [DeliverResponse(ok, "c2")]
    assert TimerName.E not in t.timers and TimerName.F not in t.timers
    if k == 0:
        assert actions[-1] == TransactionTerminated("c2")
        return
    assert starts(actions) == {TimerName.K: 1.0 + k}
    assert t.handle(Input.SUCCESS, 2.0, ok) == []  # absorbed
    assert t.fire(TimerName.K, 1.0 + k) == [TransactionTerminated("c2")]


# -- INVITE server -------------------------------------------------------------------------


def test_invite_server_sends_100_trying_when_tu_is_slow() -> None:
    t = invite_server()
    actions = t.start(0.0)
    assert actions[0] == DeliverRequest(t.request, "s1", UAC)
    assert starts(actions) == {TimerName.TRYING: SETTINGS.trying}
    assert t.handle(Input.REQUEST, 0.1, t.request) == []  # nothing to resend yet
    (send,) = sends(t.fire(TimerName.TRYING, 0.2))
    trying = send.message
    assert isinstance(trying, Response) and trying.status == 100 and send.destination is None
    assert trying.to_addr is not None and trying.to_addr.tag is None
    # An INVITE retransmission gets the 100 again (RFC 3261 17.2.1).
    assert [s.message for s in sends(t.handle(Input.REQUEST, 0.6, t.request))] == [trying]


def test_invite_server_no_100_when_tu_answers_in_time() -> None:
    t = invite_server()
    t.start(0.0)
    ringing = make_response(t.request, 180, to_tag="t")
    actions = t.handle(Input.TU_PROVISIONAL, 0.05, ringing)
    assert cancels(actions) == {TimerName.TRYING}
    assert [s.message for s in sends(actions)] == [ringing] and not t.timers


def test_invite_server_non_2xx_retransmits_with_g_until_ack() -> None:
    t = invite_server()
    t.start(0.0)
    busy = make_response(t.request, 486, to_tag="t")
    actions = t.handle(Input.TU_FAILURE, 0.1, busy)
    assert [s.message for s in sends(actions)] == [busy]
    assert starts(actions) == {TimerName.G: 0.1 + SETTINGS.t1, TimerName.H: 0.1 + 64 * SETTINGS.t1}
    assert cancels(actions) == {TimerName.TRYING}
    now, interval = 0.1 + SETTINGS.t1, SETTINGS.t1
    for _ in range(5):
        actions = t.fire(TimerName.G, now)
        assert [s.message for s in sends(actions)] == [busy]
        interval = min(2 * interval, SETTINGS.t2)  # RFC 3261 17.2.1: G doubles to T2
        assert starts(actions) == {TimerName.G: now + interval}
        now += interval
    assert [s.message for s in sends(t.handle(Input.REQUEST, now, t.request))] == [busy]
    ack = t.request  # only its method matters to the machine
    actions = t.handle(Input.ACK, now, ack)
    assert cancels(actions) == {TimerName.G, TimerName.H}
    assert starts(actions) == {TimerName.I: now + SETTINGS.t4} and t.state is State.CONFIRMED
    assert t.handle(Input.ACK, now + 1, ack) == []  # ACK retransmissions absorbed
    assert t.fire(TimerName.I, now + SETTINGS.t4) == [TransactionTerminated("s1")]


def test_invite_server_timer_h_times_out_without_ack() -> None:
    t = invite_server(reliable=True)
    t.start(0.0)
    actions = t.handle(Input.TU_FAILURE, 0.0, make_response(t.request, 603, to_tag="t"))
    assert starts(actions) == {TimerName.H: 64 * SETTINGS.t1}  # no G on reliable transports
    actions = t.fire(TimerName.H, 64 * SETTINGS.t1)
    assert actions == [TransactionTimeout("s1"), TransactionTerminated("s1")]


def test_invite_server_reliable_ack_terminates_at_once() -> None:
    t = invite_server(reliable=True)
    t.start(0.0)
    t.handle(Input.TU_FAILURE, 0.0, make_response(t.request, 486, to_tag="t"))
    actions = t.handle(Input.ACK, 0.1, t.request)
    assert actions == [CancelTimer("s1", TimerName.H), TransactionTerminated("s1")]  # I = 0


def test_invite_server_2xx_goes_to_accepted_rfc6026() -> None:
    t = invite_server()
    t.start(0.0)
    ok = make_response(t.request, 200, to_tag="t")
    actions = t.handle(Input.TU_SUCCESS, 0.1, ok)
    assert [s.message for s in sends(actions)] == [ok]
    assert starts(actions) == {TimerName.L: 0.1 + 64 * SETTINGS.t1}
    assert t.state is State.ACCEPTED
    assert t.handle(Input.REQUEST, 0.5, t.request) == []  # INVITE retransmission absorbed
    assert [s.message for s in sends(t.handle(Input.TU_SUCCESS, 0.6, ok))] == [ok]  # TU's resend
    ack = make_ack_for_2xx(t.request)
    assert t.handle(Input.ACK, 0.7, ack, UAC) == [DeliverRequest(ack, "s1", UAC)]
    with pytest.raises(TransactionError) as err:
        t.handle(Input.TU_FAILURE, 0.8, make_response(t.request, 500))
    assert err.value.fault is Fault.LOCAL
    assert t.fire(TimerName.L, 0.1 + 64 * SETTINGS.t1) == [TransactionTerminated("s1")]


def test_invite_server_ack_in_proceeding_is_a_remote_error() -> None:
    t = invite_server()
    t.start(0.0)
    with pytest.raises(TransactionError) as err:
        t.handle(Input.ACK, 0.1, t.request)
    assert err.value.fault is Fault.REMOTE and t.state is State.PROCEEDING
    assert set(t.timers) == {TimerName.TRYING}


# -- non-INVITE server ---------------------------------------------------------------------


@pytest.mark.parametrize(("reliable", "j"), [(False, 64 * SETTINGS.t1), (True, 0.0)])
def test_non_invite_server_absorbs_and_resends(reliable: bool, j: float) -> None:
    t = non_invite_server(reliable)
    request = t.request
    assert t.start(0.0) == [DeliverRequest(request, "s2", UAC)]
    assert t.handle(Input.REQUEST, 0.5, request) == []  # Trying: absorbed, nothing to resend
    trying = make_response(request, 100)
    t.handle(Input.TU_PROVISIONAL, 0.6, trying)
    assert [s.message for s in sends(t.handle(Input.REQUEST, 1.0, request))] == [trying]
    ok = make_response(request, 200, to_tag="t")
    actions = t.handle(Input.TU_SUCCESS, 1.1, ok)
    assert [s.message for s in sends(actions)] == [ok]
    if j == 0:
        assert actions[-1] == TransactionTerminated("s2")
        return
    assert starts(actions) == {TimerName.J: 1.1 + j}
    with pytest.raises(TransactionError):  # Completed only resends: the request is let go
        _ = t.request
    assert [s.message for s in sends(t.handle(Input.REQUEST, 2.0, request))] == [ok]
    with pytest.raises(TransactionError):
        t.handle(Input.TU_FAILURE, 2.0, make_response(request, 500))  # a second final
    assert t.fire(TimerName.J, 1.1 + j) == [TransactionTerminated("s2")]


def test_non_invite_server_transport_error() -> None:
    t = non_invite_server()
    t.start(0.0)
    actions = t.handle(Input.TU_SUCCESS, 0.0, make_response(t.request, 200, to_tag="t"))
    assert TimerName.J in starts(actions)
    actions = t.handle(Input.TRANSPORT_ERROR, 0.0)
    assert actions == [TransportFailed("s2"), CancelTimer("s2", TimerName.J), TransactionTerminated("s2")]


# -- every machine: structural properties ---------------------------------------------------

MACHINES = {
    "invite client": invite_client,
    "non-invite client": non_invite_client,
    "invite server": invite_server,
    "non-invite server": non_invite_server,
}
CLIENT_STATUS = {Input.PROVISIONAL: 180, Input.SUCCESS: 200, Input.FAILURE: 486}
SERVER_STATUS = {Input.TU_PROVISIONAL: 180, Input.TU_SUCCESS: 200, Input.TU_FAILURE: 486}


def request_of(t: Transaction) -> Request:
    """The transaction's request, or an equal one once a completed non-INVITE server
    transaction has let it go."""
    try:
        return t.request
    except TransactionError:
        return make_request("REGISTER")


def message_for(t: Transaction, event: Input) -> Request | Response | None:
    if event in CLIENT_STATUS:
        return make_response(request_of(t), CLIENT_STATUS[event], to_tag="to")
    if event in SERVER_STATUS:
        return make_response(request_of(t), SERVER_STATUS[event], to_tag="to")
    if event is Input.ACK:
        return make_ack_for_2xx(request_of(t))
    if event is Input.REQUEST:
        return request_of(t)
    return None


def feed(t: Transaction, event: Input, now: float) -> list[Action]:
    timer = next((name for name, i in TIMER_INPUT.items() if i is event), None)
    if timer is not None:
        return t.fire(timer, now)
    return t.handle(event, now, message_for(t, event), UAC)


def test_every_table_entry_is_reachable_and_every_gap_raises() -> None:
    """Explore each machine (reliable and not) breadth-first from Init: every (state, input)
    in the table is taken at least once, and every other pair raises TransactionError."""
    for make in MACHINES.values():
        taken: set[tuple[State, Input]] = set()
        for reliable in (False, True):
            first = make(reliable)  # type: ignore[operator]
            frontier, seen = [first], {State.INIT}
            while frontier:
                t = frontier.pop()
                for event in Input:
                    trial = copy.deepcopy(t)
                    before = trial.state
                    try:
                        feed(trial, event, 1.0)
                    except TransactionError:
                        assert trial.state is before
                        continue
                    taken.add((before, event))
                    if trial.state not in seen:
                        seen.add(trial.state)
                        frontier.append(trial)
        assert taken == set(first.TABLE), (type(first).__name__, set(first.TABLE) - taken)


Step = tuple[Input | None, float]
steps_strategy = st.lists(
    st.tuples(st.sampled_from([None, *Input]), st.floats(0.0, 40.0, allow_nan=False)),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(machine=st.sampled_from(sorted(MACHINES)), reliable=st.booleans(), steps=steps_strategy)
def test_random_inputs_keep_the_invariants(
    machine: str, reliable: bool, steps: list[Step]
) -> None:
    """Random (input, time) sequences: no exception but TransactionError (which changes
    nothing), every state change follows a table entry, pending timers as the actions said
    and allowed in the state, and Terminated cancels every timer and is announced once."""
    t: Transaction = MACHINES[machine](reliable)  # type: ignore[operator]
    table = t.TABLE
    pending: dict[TimerName, float] = {}
    now = 0.0
    terminated = 0

    def apply(actions: list[Action], before: State, event: Input) -> None:
        nonlocal terminated
        assert (before, event) in table
        target = table[(before, event)][1]
        # Zero-length timers may chain one more table entry inside the same call.
        assert t.state is target or any(
            table.get((target, e), ((), None))[1] is t.state for e in TIMER_INPUT.values()
        )
        for action in actions:
            if isinstance(action, StartTimer):
                assert action.at >= now
                pending[action.name] = action.at
            elif isinstance(action, CancelTimer):
                del pending[action.name]
            elif isinstance(action, TransactionTerminated):
                terminated += 1
                assert action is actions[-1]
        assert pending == t.timers
        assert set(pending) <= t.LIVE_TIMERS[t.state]
        if t.state is State.TERMINATED:
            assert not pending and terminated == 1
        else:
            assert terminated == 0

    apply(t.start(now), State.INIT, Input.START)
    for event, dt in steps:
        if event is None:  # fire the earliest pending timer at its time
            if not pending:
                continue
            earliest = min(pending, key=pending.__getitem__)
            now = max(now, pending[earliest])
            event = TIMER_INPUT[earliest]
        else:
            now += dt
        name = next((n for n, i in TIMER_INPUT.items() if i is event), None)
        was_pending = name is not None and pending.pop(name, None) is not None
        before = t.state
        try:
            actions = feed(t, event, now)
        except TransactionError:
            assert t.state is before and t.timers == pending
            assert not was_pending  # a pending timer always has an entry in its state
            continue
        apply(actions, before, event)
