"""The sans-IO INVITE dialog engine: a UAC engine wired to a UAS engine over an in-memory wire
(h11's ConnectionPair style) with a fake clock and a loss pattern; every message is serialised
and re-parsed. The transaction layer's own retransmissions are tested in test_transaction_layer;
here the wire loses only what the dialog layer itself must recover: the 2xx to an INVITE and
its ACK (RFC 3261 13.3.1.4)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from acdgate.gateway.legs.invite_dialog import (
    _TABLE,
    Input,
    InviteDialog,
    InviteDialogError,
    Role,
    State,
)
from acdgate.gateway.legs.invite_dialog_actions import (
    Action,
    Answered,
    AnswerReceived,
    CancelTimer,
    Confirmed,
    DialogTimer,
    EndCause,
    Ended,
    OfferReceived,
    PeerError,
    Ringing,
    SendAck,
    SendRequest,
    SendResponse,
    StartTimer,
)
from acdgate.gateway.legs.session_timer import Refresher, SessionExpires
from acdgate.gateway.sip.message import (
    Headers,
    Request,
    Response,
    make_response,
    new_branch,
    new_tag,
)
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.transaction import TimerSettings
from hypothesis import given
from hypothesis import strategies as st

SETTINGS = TimerSettings()
T1, T2 = SETTINGS.t1, SETTINGS.t2
UAC_VIA = "SIP/2.0/UDP 192.0.2.20:5060"
UAS_VIA = "SIP/2.0/UDP 192.0.2.10:5060"

Message = Request | Response
Loss = Callable[[str, Message], bool]  # (sender "uac" | "uas", message) -> lost


def wire(message: Message) -> Message:
    """Serialise and parse again, as the network and the parser would."""
    parsed = parse_message(message.to_bytes())
    assert isinstance(parsed, Request | Response), parsed
    return parsed


def wire_request(request: Request) -> Request:
    parsed = wire(request)
    assert isinstance(parsed, Request)
    return parsed


def make_invite(*, session_expires: str | None = None, allow_update: bool = False) -> Request:
    headers = Headers([
        ("Via", f"{UAC_VIA};branch={new_branch()}"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:2101@192.0.2.20>;tag={new_tag()}"),
        ("To", "<sip:3000@192.0.2.10>"),
        ("Call-ID", f"{new_tag()}@192.0.2.20"),
        ("CSeq", "1 INVITE"),
        ("Contact", "<sip:2101@192.0.2.20:5060>"),
        ("Supported", "timer"),
    ])
    if allow_update:
        headers.add("Allow", "INVITE, ACK, CANCEL, BYE, UPDATE")
    if session_expires is not None:
        headers.add("Session-Expires", session_expires)
    headers.add("Content-Type", "application/sdp")
    return Request("INVITE", "sip:3000@192.0.2.10", headers, b"v=0 offer\r\n")


@dataclass
class Side:
    """One engine with its timers, the events it reported and its open client transactions."""

    name: str
    engine: InviteDialog
    timers: dict[DialogTimer, float] = field(default_factory=dict)
    events: list[Action] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)
    pending: dict[tuple[int, str], Request] = field(default_factory=dict)  # CSeq -> our request
    answer_body: bytes = b"v=0 answer\r\n"

    def ended(self) -> list[Ended]:
        return [e for e in self.events if isinstance(e, Ended)]


class DialogPair:
    """A UAC engine and a UAS engine joined by a FIFO wire that loses what `lose` says."""

    def __init__(self, *, lose: Loss | None = None, reliable: bool = False,
                 session_expires: str | None = None, uas_timer: SessionExpires | None = None,
                 allow_update: bool = False) -> None:
        self.now = 0.0
        self.lose: Loss = lose if lose is not None else (lambda sender, message: False)
        self.queue: list[tuple[Side, Message]] = []
        self.lost: list[tuple[str, Message]] = []
        self.reliable = reliable
        invite = make_invite(session_expires=session_expires, allow_update=allow_update)
        self.uac = Side("uac", InviteDialog.uac(invite, local_contact="sip:2101@192.0.2.20:5060", via=UAC_VIA,
                                               settings=SETTINGS, reliable=reliable, rng=random.Random(1)))
        self.uac.pending[(1, "INVITE")] = invite
        received = wire(invite)
        assert isinstance(received, Request)
        self.uas = Side("uas", InviteDialog.uas(received, local_tag=new_tag(),
                                               local_contact="sip:acdgate@192.0.2.10:5060", via=UAS_VIA,
                                               settings=SETTINGS, reliable=reliable, session_timer=uas_timer,
                                               rng=random.Random(2)))

    def other(self, side: Side) -> Side:
        return self.uas if side is self.uac else self.uac

    def run(self, side: Side, actions: list[Action]) -> None:
        """Carry out `actions` as a leg would; messages go on the wire."""
        for action in actions:
            if isinstance(action, SendRequest | SendResponse | SendAck):
                message = action.request if isinstance(action, SendRequest | SendAck) else action.response
                side.sent.append(message)
                if isinstance(action, SendRequest):
                    cseq = message.cseq
                    assert cseq is not None
                    side.pending[cseq] = action.request
                self.queue.append((side, message))
            elif isinstance(action, StartTimer):
                side.timers[action.name] = action.at
            elif isinstance(action, CancelTimer):
                side.timers.pop(action.name, None)
            else:
                side.events.append(action)
                if isinstance(action, OfferReceived):
                    self.run(side, side.engine.accept_offer(action.request, side.answer_body, self.now))

    def deliver(self) -> None:
        """Deliver what is on the wire (and what that provokes) until it is quiet."""
        while self.queue:
            sender, message = self.queue.pop(0)
            if self.lose(sender.name, message):
                self.lost.append((sender.name, message))
                continue
            receiver = self.other(sender)
            message = wire(message)
            if isinstance(message, Request):
                if message.method == "CANCEL":  # the stack answers it and tells the TU (RFC 3261 9.2)
                    self.run(receiver, [SendResponse(make_response(message, 200))])
                    self.run(receiver, receiver.engine.cancel_received(self.now))
                else:
                    self.run(receiver, receiver.engine.request_received(message, self.now))
            else:
                cseq = message.cseq
                assert cseq is not None
                request = receiver.pending[cseq]
                self.run(receiver, receiver.engine.response_received(request, message, self.now))

    def advance(self, seconds: float) -> None:
        """Move the clock, firing each due timer in order."""
        target = self.now + seconds
        while True:
            due = [(at, side.name, name, side) for side in (self.uac, self.uas)
                   for name, at in side.timers.items() if at <= target]
            if not due:
                break
            at, _, name, side = min(due, key=lambda d: (d[0], d[1], d[2].value))
            self.now = at
            del side.timers[name]
            self.run(side, side.engine.timer_fired(name, self.now))
            self.deliver()
        self.now = target

    def call(self) -> None:
        """180, then the 2xx, delivered."""
        self.run(self.uas, self.uas.engine.ringing(self.now))
        self.run(self.uas, self.uas.engine.answer(b"v=0 answer\r\n", self.now))
        self.deliver()


def sent(side: Side, method: str, status: int | None = None) -> list[Message]:
    """What `side` sent: requests of `method`, or responses with `status` to `method`."""
    out: list[Message] = []
    for message in side.sent:
        cseq = message.cseq
        if cseq is None or cseq[1] != method:
            continue
        if status is None and isinstance(message, Request) and message.method == method:
            out.append(message)
        elif status is not None and isinstance(message, Response) and message.status == status:
            out.append(message)
    return out


# -- the INVITE: answer, ACK, loss -------------------------------------------------------


def test_answer_ack_confirms_both_sides() -> None:
    pair = DialogPair()
    pair.call()
    assert pair.uac.engine.state is State.CONFIRMED and pair.uas.engine.state is State.CONFIRMED
    assert [type(e) for e in pair.uac.events] == [Ringing, Answered]
    assert [type(e) for e in pair.uas.events] == [Confirmed]
    assert pair.uas.timers == {}  # no retransmission left running
    pair.advance(64 * T1)
    assert len(sent(pair.uas, "INVITE", 200)) == 1


def test_2xx_retransmitted_until_the_ack_t1_doubling_to_t2() -> None:
    acks_lost = 3
    lost: list[Message] = []

    def lose(sender: str, message: Message) -> bool:
        if isinstance(message, Request) and message.method == "ACK" and len(lost) < acks_lost:
            lost.append(message)
            return True
        return False

    pair = DialogPair(lose=lose)
    pair.call()
    assert pair.uas.engine.state is State.ACCEPTED
    times: list[float] = []
    while pair.uas.engine.state is State.ACCEPTED:
        before = len(sent(pair.uas, "INVITE", 200))
        pair.advance(min(pair.uas.timers.values()) - pair.now)
        if len(sent(pair.uas, "INVITE", 200)) > before:
            times.append(pair.now)
    # RFC 3261 13.3.1.4: resent at T1, then 2*T1, 4*T1 later (capped at T2); each is re-ACKed
    assert times == [T1, 3 * T1, 7 * T1]
    assert pair.uas.engine.state is State.CONFIRMED
    assert [type(e) for e in pair.uas.events] == [Confirmed]
    assert len(sent(pair.uac, "ACK")) == 4  # the first ACK and one per retransmission
    assert [type(e) for e in pair.uac.events] == [Ringing, Answered]  # answered once


def test_lost_2xx_is_retransmitted_and_acked() -> None:
    first = True

    def lose(sender: str, message: Message) -> bool:
        nonlocal first
        if isinstance(message, Response) and message.status == 200 and first:
            first = False
            return True
        return False

    pair = DialogPair(lose=lose)
    pair.call()
    assert pair.uac.engine.state is State.PROCEEDING and pair.uas.engine.state is State.ACCEPTED
    pair.advance(T1)
    assert pair.uac.engine.state is State.CONFIRMED and pair.uas.engine.state is State.CONFIRMED
    assert [type(e) for e in pair.uas.events] == [Confirmed]


def test_no_ack_in_64_t1_ends_with_bye() -> None:
    pair = DialogPair(lose=lambda sender, m: isinstance(m, Request) and m.method == "ACK")
    pair.call()
    pair.advance(64 * T1 - 0.001)
    assert pair.uas.engine.state is State.ACCEPTED
    retransmissions = len(sent(pair.uas, "INVITE", 200)) - 1
    # T1, 3T1, 7T1, 15T1, then every T2 (4 s) before 64*T1 (32 s): 0.5 1.5 3.5 7.5 11.5 ... 31.5
    assert retransmissions == len([0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    pair.advance(0.001)
    assert pair.uas.engine.state is State.TERMINATED
    assert pair.uas.ended() == [Ended(EndCause.NO_ACK, "no ACK for our 2xx (RFC 3261 13.3.1.4)")]
    assert len(sent(pair.uas, "BYE")) == 1
    # the UAC was answered (its ACKs were lost) and hangs up on the BYE
    assert pair.uac.engine.state is State.TERMINATED
    assert pair.uac.ended()[0].cause is EndCause.REMOTE_HANGUP
    assert pair.uas.timers == {} and pair.uac.timers == {}


def test_reliable_transport_sends_the_2xx_once_and_still_waits_64_t1() -> None:
    pair = DialogPair(reliable=True)
    pair.run(pair.uas, pair.uas.engine.answer(b"v=0 answer\r\n", pair.now))  # on the wire, not delivered
    pair.advance(64 * T1 - 0.001)
    assert pair.uas.engine.state is State.ACCEPTED and len(sent(pair.uas, "INVITE", 200)) == 1
    pair.advance(0.001)
    assert len(sent(pair.uas, "INVITE", 200)) == 1
    assert pair.uas.ended()[0].cause is EndCause.NO_ACK


# -- BYE -------------------------------------------------------------------------------


def test_bye_either_way() -> None:
    for who in ("uac", "uas"):
        pair = DialogPair()
        pair.call()
        side = pair.uac if who == "uac" else pair.uas
        pair.run(side, side.engine.hangup(pair.now))
        pair.deliver()
        assert side.ended() == [Ended(EndCause.LOCAL_HANGUP, "hung up")]
        assert pair.other(side).ended()[0].cause is EndCause.REMOTE_HANGUP
        assert len(sent(pair.other(side), "BYE", 200)) == 1


def test_uas_hanging_up_before_the_ack_byes_after_it() -> None:
    """RFC 3261 15: the callee sends no BYE until the ACK for its 2xx (or 64*T1 without one)."""
    first = True

    def lose(sender: str, message: Message) -> bool:
        nonlocal first
        if isinstance(message, Response) and message.status == 200 and first:
            first = False
            return True
        return False

    pair = DialogPair(lose=lose)
    pair.call()
    pair.run(pair.uas, pair.uas.engine.hangup(pair.now))
    assert pair.uas.ended() == [Ended(EndCause.LOCAL_HANGUP, "hung up")]
    assert pair.uas.engine.state is State.BYE_PENDING and not sent(pair.uas, "BYE")
    pair.advance(T1)  # the 2xx again; the ACK; now the BYE
    assert len(sent(pair.uas, "BYE")) == 1 and pair.uas.engine.state is State.TERMINATED
    assert [type(e) for e in pair.uac.events] == [Ringing, Answered, Ended]
    assert pair.uas.timers == {} and len(pair.uas.ended()) == 1


def test_bye_crossing() -> None:
    pair = DialogPair()
    pair.call()
    pair.run(pair.uac, pair.uac.engine.hangup(pair.now))
    pair.run(pair.uas, pair.uas.engine.hangup(pair.now))
    pair.deliver()
    for side in (pair.uac, pair.uas):
        assert side.engine.state is State.TERMINATED
        assert side.ended() == [Ended(EndCause.LOCAL_HANGUP, "hung up")]  # one end each, ours
        assert len(sent(side, "BYE", 200)) == 1  # their BYE answered all the same
    assert not [e for e in pair.uac.events + pair.uas.events if isinstance(e, PeerError)]


# -- CANCEL ----------------------------------------------------------------------------


def test_cancel_of_a_ringing_invite_gets_487() -> None:
    pair = DialogPair()
    pair.run(pair.uas, pair.uas.engine.ringing(pair.now))
    pair.deliver()
    pair.run(pair.uac, pair.uac.engine.cancel(pair.now))
    assert pair.uac.ended() == [Ended(EndCause.LOCAL_HANGUP, "cancelled")]
    pair.deliver()
    assert len(sent(pair.uas, "INVITE", 487)) == 1
    assert pair.uas.ended() == [Ended(EndCause.REMOTE_HANGUP, "cancelled")]
    assert pair.uac.engine.state is State.TERMINATED and pair.uas.engine.state is State.TERMINATED
    assert len(pair.uac.ended()) == 1  # the 487 adds no second end


def test_cancel_racing_the_200_acks_then_byes() -> None:
    pair = DialogPair()
    pair.run(pair.uas, pair.uas.engine.ringing(pair.now))
    pair.deliver()
    # both leave at once: the UAS's 200 and the UAC's CANCEL cross on the wire
    pair.run(pair.uas, pair.uas.engine.answer(b"v=0 answer\r\n", pair.now))
    pair.run(pair.uac, pair.uac.engine.cancel(pair.now))
    pair.deliver()
    assert pair.uac.engine.state is State.TERMINATED
    assert len(sent(pair.uac, "ACK")) == 1 and len(sent(pair.uac, "BYE")) == 1  # RFC 3261 9.1, 15
    assert [type(e) for e in pair.uac.events] == [Ringing, Ended]  # never reported answered
    assert not sent(pair.uas, "INVITE", 487)  # the CANCEL came after the final response
    assert [type(e) for e in pair.uas.events] == [Confirmed, Ended]
    assert pair.uas.ended()[0].cause is EndCause.REMOTE_HANGUP
    assert pair.uas.timers == {} and pair.uac.timers == {}


def test_bye_on_early_dialog_ends_the_invite_with_487() -> None:
    pair = DialogPair()
    bye = Request("BYE", "sip:acdgate@192.0.2.10", Headers([
        ("Via", f"{UAC_VIA};branch={new_branch()}"), ("From", pair.uas.engine.invite.headers.get("From") or ""),
        ("To", f"<sip:3000@192.0.2.10>;tag={pair.uas.engine.local_tag}"),
        ("Call-ID", pair.uas.engine.invite.call_id or ""), ("CSeq", "2 BYE")]))
    actions = pair.uas.engine.request_received(wire_request(bye), 0.0)
    statuses = [a.response.status for a in actions if isinstance(a, SendResponse)]
    assert statuses == [200, 487]
    assert pair.uas.engine.state is State.TERMINATED


# -- re-INVITE / UPDATE ------------------------------------------------------------------


def test_reinvite_with_offer_is_answered_and_its_2xx_retransmitted_until_ack() -> None:
    acks = 0

    def lose(sender: str, message: Message) -> bool:
        nonlocal acks
        if sender == "uas" and isinstance(message, Request) and message.method == "ACK":
            acks += 1
            return acks == 1
        return False

    pair = DialogPair(lose=lose)
    pair.call()
    pair.run(pair.uas, pair.uas.engine.refresh(pair.now))  # the UAS re-INVITEs (no UPDATE allowed)
    pair.deliver()
    offers = [e for e in pair.uac.events if isinstance(e, OfferReceived)]
    assert len(offers) == 1 and offers[0].request.method == "INVITE"
    assert [e for e in pair.uas.events if isinstance(e, AnswerReceived)] == [AnswerReceived(b"v=0 answer\r\n")]
    assert DialogTimer.RETRANSMIT_REINVITE_2XX in pair.uac.timers  # its first ACK was lost
    pair.advance(T1)
    assert len(sent(pair.uac, "INVITE", 200)) == 2
    assert DialogTimer.RETRANSMIT_REINVITE_2XX not in pair.uac.timers
    assert pair.uac.engine.state is State.CONFIRMED and pair.uas.engine.state is State.CONFIRMED


def test_reinvite_glare_491_both_then_both_succeed() -> None:
    pair = DialogPair()
    pair.call()
    pair.uac.engine.peer_allows_update = False  # both refresh with a re-INVITE (an UPDATE carries no offer)
    pair.run(pair.uac, pair.uac.engine.refresh(pair.now))
    pair.run(pair.uas, pair.uas.engine.refresh(pair.now))
    pair.deliver()
    assert len(sent(pair.uac, "INVITE", 491)) == 1 and len(sent(pair.uas, "INVITE", 491)) == 1
    # RFC 3261 14.1: the Call-ID's owner (the UAC) waits 2.1-4 s, the other 0-2 s
    assert 0 <= pair.uas.timers[DialogTimer.GLARE] - pair.now < 2.0
    assert 2.1 <= pair.uac.timers[DialogTimer.GLARE] - pair.now < 4.0
    pair.advance(4.0)
    # each answered the other's retried re-INVITE (the UAS's first 200 answered the call)
    assert len(sent(pair.uac, "INVITE", 200)) == 1 and len(sent(pair.uas, "INVITE", 200)) == 2
    assert not pair.uac.ended() and not pair.uas.ended()
    assert pair.uac.engine.state is State.CONFIRMED and pair.uas.engine.state is State.CONFIRMED


def test_second_reinvite_before_the_ack_gets_500_and_cseq_order_is_checked() -> None:
    pair = DialogPair(lose=lambda sender, m: sender == "uas" and isinstance(m, Request) and m.method == "ACK")
    pair.call()
    pair.run(pair.uas, pair.uas.engine.refresh(pair.now))
    pair.deliver()
    assert DialogTimer.RETRANSMIT_REINVITE_2XX in pair.uac.timers  # the ACK was lost
    pair.run(pair.uas, pair.uas.engine.refresh(pair.now))
    pair.deliver()
    [refused] = sent(pair.uac, "INVITE", 500)
    assert refused.reason == "Previous Re-INVITE Pending" and refused.headers.get("Retry-After") == "1"
    first = sent(pair.uas, "INVITE")[0]
    actions = pair.uac.engine.request_received(wire_request(first), pair.now)
    [response] = [a.response for a in actions if isinstance(a, SendResponse)]
    assert (response.status, response.reason) == (500, "CSeq Out Of Order")  # RFC 3261 12.2.2


def test_offer_refused_with_488_keeps_the_session() -> None:
    pair = DialogPair()
    pair.call()
    pair.run(pair.uas, pair.uas.engine.refresh(pair.now))
    _, reinvite = pair.queue.pop()
    assert isinstance(reinvite, Request)
    actions = pair.uac.engine.request_received(wire_request(reinvite), pair.now)
    [offer] = [a for a in actions if isinstance(a, OfferReceived)]
    [refusal] = pair.uac.engine.refuse_offer(offer.request, 488, "Not Acceptable Here", pair.now)
    assert isinstance(refusal, SendResponse) and refusal.response.status == 488
    with pytest.raises(InviteDialogError):  # answered already
        pair.uac.engine.accept_offer(offer.request, b"v=0\r\n", pair.now)
    assert pair.uac.engine.state is State.CONFIRMED


# -- session timers (RFC 4028) ---------------------------------------------------------------


def test_session_refreshed_by_update_keeps_the_call_up() -> None:
    timer = SessionExpires(90, Refresher.UAC)
    pair = DialogPair(session_expires="90;refresher=uac", uas_timer=timer, allow_update=True)
    pair.call()
    assert pair.uac.engine.peer_allows_update  # the UAS's 2xx allows UPDATE
    assert pair.uac.timers[DialogTimer.SESSION] == 45.0  # the refresher: half the interval
    assert pair.uas.timers[DialogTimer.SESSION] == 90 - 30  # the other: interval - min(32, interval/3)
    pair.advance(200)
    assert len(sent(pair.uac, "UPDATE")) == 4  # at 45, 90, 135, 180
    assert not pair.uac.ended() and not pair.uas.ended()


def test_session_timer_expiry_sends_bye() -> None:
    timer = SessionExpires(90, Refresher.UAS)
    # the UAS refreshes, and its UPDATE never arrives: the UAC must end the session
    pair = DialogPair(session_expires="90;refresher=uas", uas_timer=timer, allow_update=True,
                      lose=lambda sender, m: isinstance(m, Request) and m.method == "UPDATE" and sender == "uas")
    pair.call()
    assert pair.uas.timers[DialogTimer.SESSION] == 45.0 and pair.uac.timers[DialogTimer.SESSION] == 60.0
    pair.advance(59.9)
    assert len(sent(pair.uas, "UPDATE")) == 1 and not pair.uac.ended()
    pair.advance(0.1)  # RFC 4028 10: interval - min(32, interval/3) without a refresh
    assert pair.uac.ended() == [Ended(EndCause.SESSION_EXPIRED, "session expired without refresh (RFC 4028 10)")]
    assert len(sent(pair.uac, "BYE")) == 1
    assert pair.uas.ended()[0].cause is EndCause.REMOTE_HANGUP


def test_refresh_answered_481_ends_the_session() -> None:
    pair = DialogPair()
    pair.call()
    pair.run(pair.uac, pair.uac.engine.refresh(pair.now))
    _, reinvite = pair.queue.pop()
    assert isinstance(reinvite, Request)
    actions = pair.uac.engine.response_received(reinvite, make_response(reinvite, 481), pair.now)
    assert [type(a) for a in actions] == [SendRequest, Ended]
    assert actions[1] == Ended(EndCause.SESSION_EXPIRED, "session refresh answered 481")
    assert isinstance(actions[0], SendRequest) and actions[0].request.method == "BYE"
    assert pair.uac.engine.state is State.TERMINATED


# -- protocol errors -------------------------------------------------------------------------


def test_local_input_with_no_entry_raises() -> None:
    pair = DialogPair()
    with pytest.raises(InviteDialogError):
        pair.uas.engine.hangup(0.0)  # a BYE before any answer: refuse() is the leg's call
    with pytest.raises(InviteDialogError):
        pair.uac.engine.ringing(0.0)  # the UAC sends no provisional responses
    pair.call()
    with pytest.raises(InviteDialogError):
        pair.uas.engine.answer(b"", pair.now)  # a second final response
    with pytest.raises(InviteDialogError):
        pair.uas.engine.timer_fired(DialogTimer.RETRANSMIT_2XX, pair.now)  # not running


def test_peer_input_with_no_entry_is_a_peer_error_answered_481() -> None:
    pair = DialogPair()
    pair.call()
    pair.run(pair.uac, pair.uac.engine.hangup(pair.now))
    pair.deliver()
    [bye] = sent(pair.uac, "BYE")
    assert isinstance(bye, Request)
    reinvite = Request("INVITE", bye.uri, bye.headers.copy(), b"v=0\r\n")
    reinvite.headers.set("CSeq", "9 INVITE")
    actions = pair.uas.engine.request_received(wire_request(reinvite), pair.now)
    assert [a.response.status for a in actions if isinstance(a, SendResponse)] == [481]
    assert [type(a) for a in actions] == [SendResponse, PeerError]
    # an ACK matching no 2xx: reported, not answered, state unchanged
    ack = Request("ACK", bye.uri, bye.headers.copy())
    ack.headers.set("CSeq", "7 ACK")
    assert [type(a) for a in pair.uas.engine.request_received(wire_request(ack), pair.now)] == [PeerError]
    assert pair.uas.engine.state is State.TERMINATED


# -- every (state, input) pair -----------------------------------------------------------------


def test_table_only_names_reachable_roles() -> None:
    uas_only = {Input.RINGING, Input.ANSWER, Input.REFUSE, Input.CANCEL_IN, Input.NO_ACK, Input.ACK_IN}
    uac_only = {Input.PROVISIONAL_IN, Input.SUCCESS_IN, Input.FAILURE_IN, Input.INVITE_FAILED, Input.CANCEL}
    for role, state, event in _TABLE:
        assert not (role is Role.UAC and event in uas_only), (role, state, event)
        assert not (role is Role.UAS and event in uac_only), (role, state, event)
        assert not (role is Role.UAS and state is State.CANCELLING)
        assert not (role is Role.UAC and state is State.ACCEPTED)
    # nothing leaves TERMINATED
    assert all(nxt is State.TERMINATED for (_, state, _), nxt in _TABLE.items() if state is State.TERMINATED)


_LOCAL_CALLS: dict[str, tuple[str, Input]] = {
    "ring": ("uas", Input.RINGING),
    "answer": ("uas", Input.ANSWER),
    "refuse": ("uas", Input.REFUSE),
    "cancel": ("uac", Input.CANCEL),
    "hangup-uac": ("uac", Input.HANGUP),
    "hangup-uas": ("uas", Input.HANGUP),
    "refresh-uac": ("uac", Input.REFRESH),
    "refresh-uas": ("uas", Input.REFRESH),
}


def _call(pair: DialogPair, op: str) -> list[Action]:
    engine = pair.uas.engine if _LOCAL_CALLS[op][0] == "uas" else pair.uac.engine
    if op == "ring":
        return engine.ringing(pair.now)
    if op == "answer":
        return engine.answer(b"v=0 answer\r\n", pair.now)
    if op == "refuse":
        return engine.refuse(486, None, pair.now)
    if op == "cancel":
        return engine.cancel(pair.now)
    if op.startswith("hangup"):
        return engine.hangup(pair.now)
    return engine.refresh(pair.now)


def _losable(message: Message) -> bool:
    """What the dialog layer retransmits itself: an INVITE's 2xx and the ACK."""
    if isinstance(message, Request):
        return message.method == "ACK"
    cseq = message.cseq
    return cseq is not None and cseq[1] == "INVITE" and 200 <= message.status < 300


@given(
    ops=st.lists(st.one_of(st.sampled_from(sorted(_LOCAL_CALLS)), st.just("deliver"),
                           st.floats(min_value=0.1, max_value=40.0)), max_size=25),
    losses=st.lists(st.booleans(), max_size=40),
    reliable=st.booleans(),
)
def test_property_every_local_input_follows_the_table_and_both_ends_agree(
        ops: list[str | float], losses: list[bool], reliable: bool) -> None:
    """A local input raises exactly when (role, state, input) has no entry, and otherwise moves to
    the entry's state; each side ends at most once, with no timer left behind; and once the wire
    stops losing, the two ends agree on whether the dialog is over."""
    draws = iter(losses)
    lossy = True

    def lose(sender: str, message: Message) -> bool:
        return lossy and not reliable and _losable(message) and next(draws, False)

    pair = DialogPair(lose=lose, reliable=reliable)
    for op in ops:
        if isinstance(op, float):
            pair.advance(op)
            continue
        if op == "deliver":
            pair.deliver()
            continue
        who, event = _LOCAL_CALLS[op]
        side = pair.uas if who == "uas" else pair.uac
        role, before = side.engine.role, side.engine.state
        entry = _TABLE.get((role, before, event))
        if entry is None:
            with pytest.raises(InviteDialogError):
                _call(pair, op)
            assert side.engine.state is before
            continue
        pair.run(side, _call(pair, op))
        assert side.engine.state is entry
    lossy = False
    pair.deliver()
    pair.advance(200.0)
    if pair.uac.engine.state is State.PROCEEDING:  # never answered (or every 2xx lost): the leg gives up
        pair.run(pair.uac, pair.uac.engine.cancel(pair.now))
        pair.deliver()
        pair.advance(200.0)
    for side in (pair.uac, pair.uas):
        assert len(side.ended()) <= 1
        if side.engine.state is State.TERMINATED:
            assert side.ended() and side.timers == {}
    assert (pair.uac.engine.state is State.TERMINATED) == (pair.uas.engine.state is State.TERMINATED)
    assert (pair.uac.engine.state is State.CONFIRMED) == (pair.uas.engine.state is State.CONFIRMED)


_PEER_INPUTS = (Input.ACK_IN, Input.BYE_IN, Input.OFFER_IN, Input.CANCEL_IN, Input.PROVISIONAL_IN,
                Input.SUCCESS_IN, Input.FAILURE_IN, Input.INVITE_FAILED)


def _pair_in(role: Role, state: State) -> tuple[DialogPair, Side]:
    """A pair whose `role` side is in `state`, reached the ordinary way."""
    pair = DialogPair()
    side = pair.uas if role is Role.UAS else pair.uac
    if state is State.CANCELLING:
        pair.run(pair.uac, pair.uac.engine.cancel(pair.now))
    elif state in (State.ACCEPTED, State.BYE_PENDING):
        pair.run(pair.uas, pair.uas.engine.answer(b"v=0 answer\r\n", pair.now))  # the 2xx not delivered
        if state is State.BYE_PENDING:
            pair.run(pair.uas, pair.uas.engine.hangup(pair.now))
    elif state in (State.CONFIRMED, State.TERMINATED):
        pair.call()
        if state is State.TERMINATED:
            pair.run(side, side.engine.hangup(pair.now))
    pair.queue.clear()
    assert side.engine.state is state
    return pair, side


def _in_dialog(pair: DialogPair, method: str, cseq: int, body: bytes = b"") -> Request:
    """A request inside the dialog, from the INVITE's headers (the engine does not match dialogs:
    the dispatcher does)."""
    invite = pair.uas.engine.invite
    headers = invite.headers.copy()
    headers.set("To", f"<sip:3000@192.0.2.10>;tag={pair.uas.engine.local_tag}")
    headers.set("CSeq", f"{cseq} {method}")
    return Request(method, invite.uri, headers, body)


def _feed(pair: DialogPair, side: Side, event: Input) -> list[Action]:
    engine, now = side.engine, pair.now
    invite = pair.uac.engine.invite
    if event is Input.ACK_IN:
        return engine.request_received(_in_dialog(pair, "ACK", 1), now)
    if event is Input.BYE_IN:
        return engine.request_received(_in_dialog(pair, "BYE", 5), now)
    if event is Input.OFFER_IN:
        return engine.request_received(_in_dialog(pair, "INVITE", 6, b"v=0 offer\r\n"), now)
    if event is Input.CANCEL_IN:
        return engine.cancel_received(now)
    if event is Input.INVITE_FAILED:
        return engine.request_failed(engine.invite, now)
    status = {Input.PROVISIONAL_IN: 180, Input.SUCCESS_IN: 200, Input.FAILURE_IN: 486}[event]
    response = make_response(invite, status, to_tag="callee1")
    response.headers.add("Contact", "<sip:3000@192.0.2.10:5060>")
    return engine.response_received(engine.invite, response, now)


_REACHABLE = [(Role.UAS, s) for s in (State.PROCEEDING, State.ACCEPTED, State.BYE_PENDING, State.CONFIRMED,
                                      State.TERMINATED)] + \
             [(Role.UAC, s) for s in (State.PROCEEDING, State.CANCELLING, State.CONFIRMED, State.TERMINATED)]


@pytest.mark.parametrize(("role", "state"), _REACHABLE, ids=lambda v: v.value)
@pytest.mark.parametrize("event", _PEER_INPUTS, ids=lambda v: v.value)
def test_every_state_and_peer_input_follows_the_table(role: Role, state: State, event: Input) -> None:
    """A peer input with no entry is a PeerError (a request among them answered 481) and changes
    nothing; one with an entry moves to the entry's state."""
    pair, side = _pair_in(role, state)
    entry = _TABLE.get((role, state, event))
    actions = _feed(pair, side, event)
    errors = [a for a in actions if isinstance(a, PeerError)]
    if entry is None:
        assert errors and side.engine.state is state
        answered = [a.response.status for a in actions if isinstance(a, SendResponse)]
        assert answered == ([481] if event in (Input.BYE_IN, Input.OFFER_IN) else [])
    else:
        assert side.engine.state is entry
        assert not errors
