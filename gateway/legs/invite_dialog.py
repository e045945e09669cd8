"""INVITE dialogs, sans-IO: one `InviteDialog` per dialog, as UAS or as UAC.

Theory of operation. Every call takes `now` and returns actions (`invite_dialog_actions`):
messages to send, named timers to start or cancel, and events for the leg (answered, confirmed,
offer received, ended ...). The leg (a thin Twisted adapter) carries them out with the SIP
stack and `reactor.callLater`, and feeds back what arrives: requests inside the dialog, the
responses to the requests we sent, and timer firings. SDP stays opaque here: the leg
negotiates it (`OfferReceived` -> `accept_offer` / `refuse_offer`).

States (`_TABLE`, the single source of truth for where a dialog is):

    UAS: PROCEEDING --answer--> ACCEPTED --ACK--> CONFIRMED --BYE either way--> TERMINATED
         PROCEEDING --refuse / CANCEL / BYE--> TERMINATED;  ACCEPTED --no ACK in 64*T1--> TERMINATED (BYE)
         ACCEPTED --hangup--> BYE_PENDING --ACK, or no ACK in 64*T1--> TERMINATED (BYE, RFC 3261 15)
    UAC: PROCEEDING --2xx (ACKed)--> CONFIRMED --BYE either way--> TERMINATED
         PROCEEDING --cancel--> CANCELLING --487 / 2xx (ACK + BYE) / Timer B--> TERMINATED

What the engine owns: the 2xx retransmission until the ACK (RFC 3261 13.3.1.4: from T1,
doubling to T2, given up after 64*T1 with a BYE), ACK matching by CSeq, re-INVITE and UPDATE
offers both ways (RFC 3261 14, RFC 3311) with glare (491, and 500 for a second re-INVITE),
BYE both ways, CANCEL of the pending INVITE (487), and the session timer (RFC 4028) on
`session_timer`'s pure helpers. An input with no entry in the table is a protocol error: the
leg's own (`InviteDialogError` raised) or the peer's (`PeerError` returned, a request answered
481), never a silent no-op.
"""

from __future__ import annotations

import random
from enum import Enum

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
from acdgate.gateway.legs.session_timer import (
    MIN_SE,
    Refresher,
    SessionExpires,
    SessionTimer,
    TimerAction,
    TimerSyntaxError,
    TooSmall,
    negotiate,
    parse_session_expires,
)
from acdgate.gateway.sip.dialog import Dialog
from acdgate.gateway.sip.message import (
    Headers,
    Request,
    Response,
    SipSyntaxError,
    make_response,
)
from acdgate.gateway.sip.transaction import TimerSettings

ALLOW = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS, UPDATE, REFER, NOTIFY"
SUPPORTED = "timer, replaces"
MAX_GLARE_RETRIES = 3
_BUSY_RETRY = 1.0  # seconds before a refresh postponed by an offer in progress is tried again


def allows(message: Request | Response, method: str) -> bool:
    """Whether the peer's Allow header lists `method`."""
    return any(method == m.strip().upper() for v in message.headers.get_all("Allow") for m in v.split(","))


def supports_timer(message: Request | Response) -> bool:
    """Whether the message says `Supported: timer` (RFC 4028 7.1)."""
    return any("timer" == t.strip().lower() for v in message.headers.get_all("Supported") for t in v.split(","))


def timer_headers(negotiated: SessionExpires | None, require: bool) -> list[tuple[str, str]]:
    """Session-Expires (and Require: timer when the peer supports it) for a 2xx (RFC 4028 9)."""
    if negotiated is None:
        return []
    headers = [("Session-Expires", negotiated.header())]
    if require:
        headers.append(("Require", "timer"))
    return headers


class Role(Enum):
    """Which side of the initial INVITE we are."""

    UAS = "uas"
    UAC = "uac"


class State(Enum):
    """Where the dialog is (its INVITE transaction and the dialog proper)."""

    PROCEEDING = "proceeding"  # the INVITE has no final response yet
    CANCELLING = "cancelling"  # UAC: we sent CANCEL; the INVITE's final response is still to come
    ACCEPTED = "accepted"  # UAS: 2xx sent, its ACK not yet here (RFC 6026 calls it Accepted)
    BYE_PENDING = "bye-pending"  # UAS: we hung up before the ACK; the BYE waits for it (RFC 3261 15)
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Input(Enum):
    """What can happen to a dialog: local calls, peer messages and timers."""

    RINGING = "ringing"  # UAS, local: send a provisional response
    ANSWER = "answer"  # UAS, local: send the 2xx
    REFUSE = "refuse"  # UAS, local: send a final non-2xx
    CANCEL_IN = "cancel-in"  # UAS, peer: a CANCEL matched the INVITE
    ACK_IN = "ack-in"  # UAS, peer: the ACK for our 2xx to the INVITE (CSeq matched)
    REACK_IN = "reinvite-ack-in"  # peer: the ACK for our 2xx to their re-INVITE (CSeq matched)
    NO_ACK = "no-ack"  # UAS, timer: the 2xx went unacknowledged for 64*T1
    PROVISIONAL_IN = "1xx-in"  # UAC, peer: 1xx to our INVITE
    SUCCESS_IN = "2xx-in"  # UAC, peer: 2xx to our INVITE (first, retransmitted or forked)
    FAILURE_IN = "failure-in"  # UAC, peer: final non-2xx to our INVITE
    INVITE_FAILED = "invite-failed"  # UAC, transaction: Timer B or a transport error
    CANCEL = "cancel"  # UAC, local: CANCEL our INVITE
    HANGUP = "hangup"  # local: BYE
    BYE_IN = "bye-in"  # peer: BYE
    OFFER_IN = "offer-in"  # peer: re-INVITE or UPDATE
    REFRESH = "refresh"  # session timer: time for our refresh (RFC 4028 10)
    EXPIRE = "expire"  # session timer expired, a refresh failed, or a re-INVITE 2xx went unACKed


_U, _C = Role.UAS, Role.UAC
_P, _X, _A, _F, _T = State.PROCEEDING, State.CANCELLING, State.ACCEPTED, State.CONFIRMED, State.TERMINATED
_B = State.BYE_PENDING

_TABLE: dict[tuple[Role, State, Input], State] = {
    # -- UAS -----------------------------------------------------------------------------
    (_U, _P, Input.RINGING): _P,
    (_U, _P, Input.ANSWER): _A,
    (_U, _P, Input.REFUSE): _T,
    (_U, _P, Input.CANCEL_IN): _T,  # RFC 3261 9.2: 487 to the INVITE
    (_U, _A, Input.CANCEL_IN): _A,  # RFC 3261 9.2: a CANCEL after the final response has no effect
    (_U, _F, Input.CANCEL_IN): _F,
    (_U, _T, Input.CANCEL_IN): _T,
    (_U, _A, Input.ACK_IN): _F,
    (_U, _F, Input.ACK_IN): _F,  # a retransmitted ACK
    (_U, _T, Input.ACK_IN): _T,  # late
    (_U, _A, Input.REACK_IN): _A,  # their re-INVITE overtook the ACK of our first 2xx
    (_U, _F, Input.REACK_IN): _F,
    (_U, _A, Input.NO_ACK): _T,  # RFC 3261 13.3.1.4: confirmed, then ended with a BYE
    (_U, _A, Input.HANGUP): _B,  # RFC 3261 15: no BYE until the ACK (or 64*T1); the 2xx goes on
    (_U, _B, Input.ACK_IN): _T,  # now the BYE
    (_U, _B, Input.NO_ACK): _T,
    (_U, _B, Input.BYE_IN): _T,  # theirs came first: no BYE of ours needed
    (_U, _B, Input.CANCEL_IN): _B,
    (_U, _F, Input.HANGUP): _T,
    (_U, _P, Input.BYE_IN): _T,  # RFC 3261 15.1.2: the INVITE gets 487
    (_U, _A, Input.BYE_IN): _T,
    (_U, _F, Input.BYE_IN): _T,
    (_U, _T, Input.BYE_IN): _T,  # BYEs crossing
    (_U, _P, Input.OFFER_IN): _P,  # RFC 3311 5.2: answered 500 with Retry-After
    (_U, _A, Input.OFFER_IN): _A,
    (_U, _F, Input.OFFER_IN): _F,
    (_U, _A, Input.REFRESH): _A,  # postponed until the ACK
    (_U, _F, Input.REFRESH): _F,
    (_U, _A, Input.EXPIRE): _T,
    (_U, _F, Input.EXPIRE): _T,
    # -- UAC -----------------------------------------------------------------------------
    (_C, _P, Input.PROVISIONAL_IN): _P,
    (_C, _X, Input.PROVISIONAL_IN): _X,
    (_C, _P, Input.SUCCESS_IN): _F,
    (_C, _X, Input.SUCCESS_IN): _T,  # CANCEL lost the race to the 2xx: ACK, then BYE (RFC 3261 9.1)
    (_C, _F, Input.SUCCESS_IN): _F,  # retransmitted 2xx: ACK again (RFC 3261 13.2.2.4)
    (_C, _T, Input.SUCCESS_IN): _T,
    (_C, _P, Input.FAILURE_IN): _T,
    (_C, _X, Input.FAILURE_IN): _T,  # the 487 our CANCEL asked for
    (_C, _P, Input.INVITE_FAILED): _T,
    (_C, _X, Input.INVITE_FAILED): _T,
    (_C, _P, Input.CANCEL): _X,
    (_C, _F, Input.REACK_IN): _F,
    (_C, _F, Input.HANGUP): _T,
    (_C, _F, Input.BYE_IN): _T,
    (_C, _T, Input.BYE_IN): _T,  # BYEs crossing
    (_C, _F, Input.OFFER_IN): _F,
    (_C, _F, Input.REFRESH): _F,
    (_C, _F, Input.EXPIRE): _T,
}


class InviteDialogError(RuntimeError):
    """Local fault: the leg fed an input the dialog's state has no entry for."""


class InviteDialog:
    """One INVITE dialog, UAS or UAC, as a sans-IO state machine (see the module docstring)."""

    def __init__(self, role: Role, invite: Request, *, dialog: Dialog | None, local_tag: str | None,
                 local_contact: str, via: str, settings: TimerSettings, reliable: bool,
                 session_timer: SessionExpires | None = None, peer_allows_update: bool = False,
                 rng: random.Random | None = None) -> None:
        self.role = role
        self.invite = invite
        self.dialog = dialog
        self.local_tag = local_tag
        self.local_contact = local_contact
        self.via = via  # our sent-by, without branch, for requests we originate
        self.settings = settings
        self.reliable = reliable  # TCP/TLS: nothing is retransmitted by us
        self.negotiated_timer = session_timer  # the session interval of the initial INVITE
        self.peer_allows_update = peer_allows_update
        self.local_body = b""  # our current SDP: the offer of our refreshing re-INVITEs
        self._state = State.PROCEEDING
        self._rng = rng if rng is not None else random.SystemRandom()
        self._armed: dict[DialogTimer, float] = {}
        self._response_2xx: Response | None = None  # our 2xx to the INVITE (UAS), until the ACK
        self._rtx_interval = settings.t1
        self._rtx_deadline = 0.0
        self._ack: Request | None = None  # UAC: our ACK for the 2xx, resent to retransmissions
        self._session: SessionTimer | None = None
        self._our_reinvite: Request | None = None  # our re-INVITE in progress (glare, RFC 3261 14.1)
        self._their_reinvite: Response | None = None  # our 2xx to their re-INVITE, until its ACK
        self._their_reinvite_request: Request | None = None
        self._re_interval = settings.t1
        self._re_deadline = 0.0
        self._offer: tuple[Request, SessionExpires | None] | None = None  # OfferReceived, unanswered
        self._glare_retries = 0
        self._ended = False  # `Ended` was returned (the UAC's CANCEL ends it before TERMINATED)

    @classmethod
    def uas(cls, invite: Request, *, local_tag: str, local_contact: str, via: str,
            settings: TimerSettings, reliable: bool, session_timer: SessionExpires | None = None,
            rng: random.Random | None = None) -> InviteDialog:
        """The UAS of `invite`; without a dialog (no Contact ...) it can only be refused."""
        try:
            dialog: Dialog | None = Dialog.from_invite(invite, local_tag, local_contact)
        except SipSyntaxError:
            dialog = None
        return cls(Role.UAS, invite, dialog=dialog, local_tag=local_tag, local_contact=local_contact,
                   via=via, settings=settings, reliable=reliable, session_timer=session_timer,
                   peer_allows_update=allows(invite, "UPDATE"), rng=rng)

    @classmethod
    def uac(cls, invite: Request, *, local_contact: str, via: str, settings: TimerSettings,
            reliable: bool, rng: random.Random | None = None) -> InviteDialog:
        """The UAC of `invite`, which the leg sends itself (its dialog comes with the 2xx)."""
        return cls(Role.UAC, invite, dialog=None, local_tag=None, local_contact=local_contact,
                   via=via, settings=settings, reliable=reliable, rng=rng)

    @property
    def state(self) -> State:
        return self._state

    @property
    def session_timer(self) -> SessionTimer | None:
        """The running session timer (RFC 4028), if one was negotiated."""
        return self._session

    # -- the table ---------------------------------------------------------------------------

    def _advance(self, event: Input) -> None:
        """A local input: no entry is our bug."""
        nxt = _TABLE.get((self.role, self._state, event))
        if nxt is None:
            raise InviteDialogError(f"{self.role.value} dialog in state {self._state.value}: no entry "
                                    f"for {event.value} (Call-ID {self.invite.call_id})")
        self._state = nxt

    def _peer_input(self, event: Input) -> bool:
        """A peer input: False when it has no entry (the peer's fault)."""
        nxt = _TABLE.get((self.role, self._state, event))
        if nxt is None:
            return False
        self._state = nxt
        return True

    def _peer_error(self, request: Request | None, event: Input) -> list[Action]:
        reason = f"{event.value} in {self.role.value} dialog state {self._state.value}"
        if request is None or request.method == "ACK":
            return [PeerError(reason)]
        return [SendResponse(make_response(request, 481)), PeerError(reason, 481)]

    # -- UAS: answering the INVITE ---------------------------------------------------------

    def ringing(self, now: float) -> list[Action]:
        """180 Ringing with our tag (it creates the early dialog)."""
        self._advance(Input.RINGING)
        response = make_response(self.invite, 180, to_tag=self.local_tag)
        response.headers.add("Contact", f"<{self.local_contact}>")
        return [SendResponse(response)]

    def answer(self, body: bytes, now: float) -> list[Action]:
        """The 2xx with our SDP; retransmitted until the ACK (RFC 3261 13.3.1.4)."""
        if self.dialog is None:
            raise InviteDialogError("answer() on an INVITE that made no dialog")
        self._advance(Input.ANSWER)
        response = make_response(self.invite, 200, to_tag=self.local_tag)
        for name, value in [("Contact", f"<{self.local_contact}>"), ("Content-Type", "application/sdp"),
                            ("Allow", ALLOW), ("Supported", SUPPORTED),
                            *timer_headers(self.negotiated_timer, supports_timer(self.invite))]:
            response.headers.add(name, value)
        response.body = body
        self.local_body = body
        self._response_2xx = response
        actions: list[Action] = [SendResponse(response)]
        self._rtx_interval = self.settings.t1
        self._rtx_deadline = now + 64 * self.settings.t1
        # RFC 3261 13.3.1.4: on a reliable transport the 2xx goes once; the 64*T1 wait stays
        actions.append(self._start(DialogTimer.RETRANSMIT_2XX,
                                   self._rtx_deadline if self.reliable else now + self.settings.t1))
        self._start_session(self.negotiated_timer, we_are_uas=True, now=now, actions=actions)
        return actions

    def refuse(self, status: int, reason: str | None, now: float) -> list[Action]:
        """A final non-2xx to the INVITE."""
        self._advance(Input.REFUSE)
        return [SendResponse(make_response(self.invite, status, reason, to_tag=self.local_tag)),
                *self._end(EndCause.REFUSED, f"refused {status}")]

    def cancel_received(self, now: float) -> list[Action]:
        """A CANCEL matched our INVITE (the stack answered the CANCEL itself, RFC 3261 9.2)."""
        before = self._state
        if not self._peer_input(Input.CANCEL_IN):
            return self._peer_error(None, Input.CANCEL_IN)
        if before is not State.PROCEEDING:
            return []  # the final response went first: the CANCEL changes nothing
        return [SendResponse(make_response(self.invite, 487, to_tag=self.local_tag)),
                *self._end(EndCause.REMOTE_HANGUP, "cancelled")]

    # -- UAC: our INVITE -------------------------------------------------------------------

    def cancel(self, now: float) -> list[Action]:
        """CANCEL our INVITE (RFC 3261 9.1: same Request-URI, Call-ID, To, From, CSeq number and
        top Via); the dialog ends for the leg now, and a 2xx that still comes is ACKed and BYEd."""
        self._advance(Input.CANCEL)
        invite = self.invite
        cseq = invite.cseq
        headers = Headers([
            ("Via", invite.headers.get("Via") or ""),
            ("Max-Forwards", "70"),
            ("From", invite.headers.get("From") or ""),
            ("To", invite.headers.get("To") or ""),
            ("Call-ID", invite.call_id or ""),
            ("CSeq", f"{cseq[0] if cseq is not None else 1} CANCEL"),
        ])
        return [SendRequest(Request("CANCEL", invite.uri, headers)),
                *self._end(EndCause.LOCAL_HANGUP, "cancelled")]

    def _invite_response(self, response: Response, now: float) -> list[Action]:
        status = response.status
        if status < 200:
            if not self._peer_input(Input.PROVISIONAL_IN):
                return self._peer_error(None, Input.PROVISIONAL_IN)
            if status > 100 and self._state is State.PROCEEDING:
                return [Ringing(response)]
            return []
        if status >= 300:
            if not self._peer_input(Input.FAILURE_IN):
                return self._peer_error(None, Input.FAILURE_IN)
            return self._end(EndCause.REFUSED, f"answered {status}")  # nothing new after our CANCEL
        before = self._state
        if before in (State.PROCEEDING, State.CANCELLING):
            try:
                self.dialog = Dialog.from_response(self.invite, response, self.local_contact)
            except SipSyntaxError as exc:  # no dialog to ACK or BYE in: as good as a failure
                if not self._peer_input(Input.FAILURE_IN):
                    return self._peer_error(None, Input.FAILURE_IN)
                return [PeerError(f"unusable 2xx: {exc}"), *self._end(EndCause.ERROR, str(exc))]
        if not self._peer_input(Input.SUCCESS_IN):
            return self._peer_error(None, Input.SUCCESS_IN)
        if before in (State.CONFIRMED, State.TERMINATED):
            return [SendAck(self._ack)] if self._ack is not None else []  # RFC 3261 13.2.2.4
        assert self.dialog is not None
        self._ack = self.dialog.request("ACK", self.via)
        actions: list[Action] = [SendAck(self._ack)]
        if before is State.CANCELLING:
            # RFC 3261 15: the call we gave up on was answered after all: end it with a BYE
            actions.append(SendRequest(self.dialog.request("BYE", self.via)))
            return actions
        self.peer_allows_update = allows(response, "UPDATE")
        value = response.headers.get("Session-Expires")
        if value is not None:  # RFC 4028 7.2: the UAS chose session timers for us
            try:
                self._start_session(parse_session_expires(value), we_are_uas=False, now=now, actions=actions)
            except TimerSyntaxError as exc:
                actions.append(PeerError(f"2xx to our INVITE: {exc}"))
        actions.append(Answered(response))
        return actions

    # -- requests inside the dialog ---------------------------------------------------------

    def request_received(self, request: Request, now: float) -> list[Action]:
        """An ACK, BYE, re-INVITE or UPDATE the dispatcher matched to this dialog."""
        method = request.method
        if method == "ACK":
            return self._ack_received(request)
        if method == "BYE":
            return self._bye_received(request)
        if method in ("INVITE", "UPDATE"):
            return self._offer_received(request, now)
        raise InviteDialogError(f"{method} is not the INVITE dialog's to handle")

    def _ack_received(self, ack: Request) -> list[Action]:
        """RFC 3261 13.2.2.4: an ACK for a 2xx carries the CSeq number of the INVITE it ACKs."""
        cseq = ack.cseq
        number = cseq[0] if cseq is not None else -1
        pending = self._their_reinvite_request
        if pending is not None and pending.cseq is not None and number == pending.cseq[0]:
            if not self._peer_input(Input.REACK_IN):
                return self._peer_error(ack, Input.REACK_IN)
            self._their_reinvite = self._their_reinvite_request = None
            actions = self._cancel(DialogTimer.RETRANSMIT_REINVITE_2XX)
            if not pending.body and ack.body:  # RFC 3264: the answer to the offer in our 2xx
                actions.append(AnswerReceived(ack.body))
            return actions
        invite_cseq = self.invite.cseq
        if self.role is Role.UAC or invite_cseq is None or number != invite_cseq[0]:
            return [PeerError(f"ACK with CSeq {number} matches no 2xx of ours")]
        before = self._state
        if not self._peer_input(Input.ACK_IN):
            return self._peer_error(ack, Input.ACK_IN)
        if before is State.ACCEPTED:
            self._response_2xx = None
            return [*self._cancel(DialogTimer.RETRANSMIT_2XX), Confirmed(ack)]
        if before is State.BYE_PENDING:
            assert self.dialog is not None
            self._response_2xx = None
            return [*self._cancel(DialogTimer.RETRANSMIT_2XX), SendRequest(self.dialog.request("BYE", self.via))]
        return []  # a retransmitted or late ACK

    def _bye_received(self, bye: Request) -> list[Action]:
        before = self._state
        if not self._peer_input(Input.BYE_IN):
            return self._peer_error(bye, Input.BYE_IN)
        actions: list[Action] = [SendResponse(make_response(bye, 200))]
        if before is State.TERMINATED:
            return actions  # our BYE crossed theirs
        if before is State.PROCEEDING:  # RFC 3261 15.1.2: the pending INVITE gets 487
            actions.append(SendResponse(make_response(self.invite, 487, to_tag=self.local_tag)))
        return [*actions, *self._end(EndCause.REMOTE_HANGUP, "BYE received")]

    def _offer_received(self, request: Request, now: float) -> list[Action]:
        """A re-INVITE or UPDATE (hold, resume, codec change, session refresh)."""
        if not self._peer_input(Input.OFFER_IN):
            return self._peer_error(request, Input.OFFER_IN)
        is_invite = request.method == "INVITE"
        if self._state is State.PROCEEDING:
            # RFC 3261 14.2 / RFC 3311 5.2: our INVITE transaction is still open
            return [self._reply(request, 500, "Initial INVITE Pending", [("Retry-After", "1")])]
        assert self.dialog is not None
        if not self.dialog.accept_remote_cseq(request):
            return [self._reply(request, 500, "CSeq Out Of Order")]  # RFC 3261 12.2.2
        if self._our_reinvite is not None and (is_invite or request.body):
            return [self._reply(request, 491)]  # RFC 3261 14.2 / RFC 3311 5.2: glare
        if (is_invite and self._their_reinvite is not None) or self._offer is not None:
            return [self._reply(request, 500, "Previous Re-INVITE Pending", [("Retry-After", "1")])]
        try:
            timer = negotiate(request.headers.get("Supported"), request.headers.get("Session-Expires"),
                              request.headers.get("Min-SE"), our_min_se=MIN_SE)
        except TimerSyntaxError as exc:
            return [self._reply(request, 400, str(exc)[:80])]
        if isinstance(timer, TooSmall):
            return [self._reply(request, 422, None, [("Min-SE", str(timer.min_se))])]
        if request.body:
            self._offer = (request, timer)
            return [OfferReceived(request)]
        # no offer: an UPDATE refresh, or an offerless re-INVITE (RFC 3261 14.2: our session is the offer)
        return self._answer_offer(request, timer, self.local_body if is_invite else b"", now)

    def accept_offer(self, request: Request, body: bytes, now: float) -> list[Action]:
        """Answer the re-offer of `OfferReceived` with 200 and our SDP `body`."""
        offer = self._take_offer(request)
        self.local_body = body
        return self._answer_offer(request, offer[1], body, now)

    def refuse_offer(self, request: Request, status: int, reason: str | None, now: float) -> list[Action]:
        """Refuse the re-offer of `OfferReceived` (488: RFC 3261 14.2, the session stays as it was)."""
        self._take_offer(request)
        return [self._reply(request, status, reason)]

    def _take_offer(self, request: Request) -> tuple[Request, SessionExpires | None]:
        offer = self._offer
        if offer is None or offer[0] is not request:
            raise InviteDialogError("no such re-offer is waiting for an answer")
        self._offer = None
        return offer

    def _answer_offer(self, request: Request, timer: SessionExpires | None, body: bytes,
                      now: float) -> list[Action]:
        assert self.dialog is not None
        actions: list[Action] = []
        self.dialog.update_target(request)
        if timer is not None:
            self._start_session(timer, we_are_uas=True, now=now, actions=actions)
        elif self._session is not None:
            self._session.refreshed(now)
            self._arm_session(actions)
        headers = [("Contact", f"<{self.local_contact}>"), ("Allow", ALLOW), ("Supported", SUPPORTED),
                   *timer_headers(timer, supports_timer(request))]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = self._reply(request, 200, None, headers, body)
        actions.insert(0, response)
        if request.method == "INVITE":
            self._their_reinvite = response.response
            self._their_reinvite_request = request
            if not self.reliable:  # RFC 3261 14.2 -> 13.3.1.4: retransmit until the ACK
                self._re_interval = self.settings.t1
                self._re_deadline = now + 64 * self.settings.t1
                actions.append(self._start(DialogTimer.RETRANSMIT_REINVITE_2XX, now + self.settings.t1))
        return actions

    @staticmethod
    def _reply(request: Request, status: int, reason: str | None = None,
               headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> SendResponse:
        response = make_response(request, status, reason)
        for name, value in headers or ():
            response.headers.add(name, value)
        if body:
            response.body = body
        return SendResponse(response)

    # -- hanging up --------------------------------------------------------------------------

    def hangup(self, now: float) -> list[Action]:
        """BYE (RFC 3261 15.1.1: the dialog ends whether or not the BYE is answered)."""
        self._advance(Input.HANGUP)
        if self._state is State.BYE_PENDING:  # the 2xx goes on until the ACK; then the BYE
            return self._end(EndCause.LOCAL_HANGUP, "hung up", keep_2xx=True)
        assert self.dialog is not None
        return [SendRequest(self.dialog.request("BYE", self.via)),
                *self._end(EndCause.LOCAL_HANGUP, "hung up")]

    # -- responses to what we sent -----------------------------------------------------------

    def response_received(self, request: Request, response: Response, now: float) -> list[Action]:
        """A response (each, 2xx retransmissions included) to a request of `SendRequest`, or to the
        UAC's INVITE."""
        if request is self.invite:
            return self._invite_response(response, now)
        if request.method in ("BYE", "CANCEL"):
            return []  # the dialog ended already (RFC 3261 15.1.1); the leg may log it
        if request.method == "INVITE":
            actions: list[Action] = []
            if 200 <= response.status < 300 and self.dialog is not None:
                cseq = request.cseq  # RFC 3261 14.1: ACK every 2xx to our re-INVITE
                actions.append(SendAck(self.dialog.request("ACK", self.via,
                                                           ack_cseq=cseq[0] if cseq is not None else None)))
            if response.status >= 200 and self._our_reinvite is request:
                self._our_reinvite = None
                actions.extend(self._refresh_answered(request, response, now))
            return actions
        if request.method == "UPDATE" and response.status >= 200:
            return self._refresh_answered(request, response, now)
        return []

    def request_failed(self, request: Request, now: float) -> list[Action]:
        """The client transaction of `request` timed out or could not send (RFC 3261 17.1)."""
        if request is self.invite:
            if not self._peer_input(Input.INVITE_FAILED):
                return self._peer_error(None, Input.INVITE_FAILED)
            return self._end(EndCause.TIMEOUT, "no final response to our INVITE")
        if request.method in ("BYE", "CANCEL"):
            return []
        if request is self._our_reinvite:
            self._our_reinvite = None
        if request.method in ("INVITE", "UPDATE") and self._state in (State.ACCEPTED, State.CONFIRMED):
            return self._expire("session refresh timed out (RFC 4028 10)")
        return []

    # -- timers -----------------------------------------------------------------------------

    def timer_fired(self, name: DialogTimer, now: float) -> list[Action]:
        """Timer `name` (started by a `StartTimer`) fired."""
        if self._armed.pop(name, None) is None:
            raise InviteDialogError(f"timer {name.value} fired but is not running")
        if name is DialogTimer.RETRANSMIT_2XX:
            if now >= self._rtx_deadline or self._response_2xx is None:
                return self._no_ack()
            self._rtx_interval = min(self._rtx_interval * 2, self.settings.t2)
            return [SendResponse(self._response_2xx),
                    self._start(name, min(now + self._rtx_interval, self._rtx_deadline))]
        if name is DialogTimer.RETRANSMIT_REINVITE_2XX:
            if self._their_reinvite is None:
                return []
            if now >= self._re_deadline:
                self._their_reinvite = self._their_reinvite_request = None
                return self._expire("no ACK for the 2xx to a re-INVITE (RFC 3261 14.2)")
            self._re_interval = min(self._re_interval * 2, self.settings.t2)
            return [SendResponse(self._their_reinvite),
                    self._start(name, min(now + self._re_interval, self._re_deadline))]
        if name is DialogTimer.GLARE:
            return self.refresh(now)
        return self._session_fired(now)

    def _no_ack(self) -> list[Action]:
        """RFC 3261 13.3.1.4: no ACK in 64*T1: the dialog is confirmed, then ended with a BYE."""
        self._advance(Input.NO_ACK)
        self._response_2xx = None
        assert self.dialog is not None
        return [SendRequest(self.dialog.request("BYE", self.via)),
                *self._end(EndCause.NO_ACK, "no ACK for our 2xx (RFC 3261 13.3.1.4)")]

    # -- session timer (RFC 4028) ---------------------------------------------------------------

    def _start_session(self, negotiated: SessionExpires | None, *, we_are_uas: bool, now: float,
                       actions: list[Action]) -> None:
        if negotiated is None:
            self._session = None
        else:
            self._session = (SessionTimer.for_uas(negotiated, now) if we_are_uas
                             else SessionTimer.for_uac(negotiated, now))
        self._arm_session(actions)

    def _arm_session(self, actions: list[Action]) -> None:
        deadline = self._session.deadline() if self._session is not None else None
        if deadline is None:
            actions.extend(self._cancel(DialogTimer.SESSION))
        else:
            actions.append(self._start(DialogTimer.SESSION, deadline))

    def _session_fired(self, now: float) -> list[Action]:
        assert self._session is not None
        action = self._session.handle_timer(now)
        if action is TimerAction.EXPIRE:
            return self._expire("session expired without refresh (RFC 4028 10)")
        actions = self.refresh(now) if action is TimerAction.REFRESH else []
        if not self._ended:
            self._arm_session(actions)
        return actions

    def refresh(self, now: float) -> list[Action]:
        """Refresh the session (RFC 4028 7.4, 8): UPDATE when the peer allows it, else a re-INVITE
        with our unchanged SDP; postponed while an offer is in progress either way."""
        self._advance(Input.REFRESH)
        if self._state is not State.CONFIRMED or self._our_reinvite is not None \
                or self._their_reinvite is not None or self._offer is not None:
            return [self._start(DialogTimer.GLARE, now + _BUSY_RETRY)]
        assert self.dialog is not None
        interval = self._session.interval if self._session is not None else MIN_SE
        headers = [("Supported", SUPPORTED), ("Allow", ALLOW),
                   ("Session-Expires", SessionExpires(interval, Refresher.UAC).header()),
                   ("Min-SE", str(MIN_SE))]
        if self.peer_allows_update:
            request = self.dialog.request("UPDATE", self.via, extra=headers)
        else:
            request = self.dialog.request("INVITE", self.via, extra=headers, body=self.local_body,
                                          content_type="application/sdp")
            self._our_reinvite = request
        return [SendRequest(request)]

    def _refresh_answered(self, request: Request, response: Response, now: float) -> list[Action]:
        """The final response to our refreshing re-INVITE or UPDATE."""
        if self._state is State.TERMINATED:
            return []
        assert self.dialog is not None
        status = response.status
        actions: list[Action] = []
        if 200 <= status < 300:
            self._glare_retries = 0
            self.dialog.update_target(response)
            if request.method == "INVITE" and response.body:
                actions.append(AnswerReceived(response.body))
            value = response.headers.get("Session-Expires")
            negotiated: SessionExpires | None = None
            if value is not None:
                try:
                    negotiated = parse_session_expires(value)
                except TimerSyntaxError as exc:
                    actions.append(PeerError(f"2xx to our refresh: {exc}"))
            if negotiated is not None:
                self._start_session(negotiated, we_are_uas=False, now=now, actions=actions)
            elif self._session is not None:
                self._session.refreshed(now)
                self._arm_session(actions)
        elif status == 491 and self._glare_retries < MAX_GLARE_RETRIES:
            # RFC 3261 14.1: retry after 2.1-4 s when we own the Call-ID (we placed the call), else 0-2 s
            self._glare_retries += 1
            low = 2.1 if self.role is Role.UAC else 0.0
            actions.append(self._start(DialogTimer.GLARE, now + low + self._rng.randrange(1900) / 1000.0))
        elif status == 422:  # RFC 4028 8.2: ask again with at least its Min-SE
            min_se = (response.headers.get("Min-SE") or "").strip()
            if self._session is not None and min_se.isdigit():
                self._session.interval = max(self._session.interval, int(min_se))
                actions.extend(self.refresh(now))
        elif status in (408, 481):
            actions.extend(self._expire(f"session refresh answered {status}"))
        # any other failure: the session timer's expiry decides (RFC 4028 10)
        return actions

    def _expire(self, why: str) -> list[Action]:
        """End the session with a BYE (RFC 4028 10; RFC 3261 14.2 for an unACKed re-INVITE 2xx)."""
        self._advance(Input.EXPIRE)
        assert self.dialog is not None
        return [SendRequest(self.dialog.request("BYE", self.via)), *self._end(EndCause.SESSION_EXPIRED, why)]

    # -- bookkeeping -------------------------------------------------------------------------

    def _start(self, name: DialogTimer, at: float) -> StartTimer:
        self._armed[name] = at
        return StartTimer(name, at)

    def _cancel(self, name: DialogTimer) -> list[Action]:
        if self._armed.pop(name, None) is None:
            return []
        return [CancelTimer(name)]

    def _end(self, cause: EndCause, why: str, *, keep_2xx: bool = False) -> list[Action]:
        """The dialog is over for the leg: its timers cancelled (but for the 2xx retransmission
        when `keep_2xx`), then `Ended`, once."""
        actions: list[Action] = [CancelTimer(name) for name in self._armed
                                 if not (keep_2xx and name is DialogTimer.RETRANSMIT_2XX)]
        self._armed = {name: at for name, at in self._armed.items() if keep_2xx and name is DialogTimer.RETRANSMIT_2XX}
        self._session = None
        self._offer = None
        self._our_reinvite = None
        self._their_reinvite = self._their_reinvite_request = None
        if not keep_2xx:
            self._response_2xx = None
        if not self._ended:
            self._ended = True
            actions.append(Ended(cause, why))
        return actions


__all__ = [
    "ALLOW", "MAX_GLARE_RETRIES", "SUPPORTED", "Input", "InviteDialog", "InviteDialogError", "Role",
    "State", "allows", "supports_timer", "timer_headers",
]
