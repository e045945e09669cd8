"""The gateway's SIP transaction user: REGISTER, OPTIONS, qualify, and what is not served yet.

It answers each request the stack delivers, keeps the registrar's bindings in the state
store (committed before the 200 goes out, so an acknowledged registration survives a crash)
and runs the registrar's expiry and the OPTIONS qualify timers on the reactor.

Group commit: while more datagrams wait in the SIP socket (a burst of REGISTERs), binding
changes and the registrar's answers are held and committed together in one SQLite transaction
when the burst is read (or on the next reactor turn); a lone REGISTER is committed and answered
at once. Either way nothing is acknowledged before it is durable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acdgate.gateway.sip.binding_store import BindingStore, BindingStoreError
from acdgate.gateway.sip.message import (
    Headers,
    Request,
    Response,
    make_response,
    new_branch,
    new_tag,
)
from acdgate.gateway.sip.qualify import Qualifier, QualifyEvent, StationReachable
from acdgate.gateway.sip.register_scan import RegisterScan
from acdgate.gateway.sip.registrar import (
    Binding,
    BindingRow,
    RegisterResult,
    Registrar,
    ScannedAnswer,
    scanned_reply,
)
from acdgate.gateway.sip.stack import Incoming, SipStack, TransactionFailed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

log = Logger(namespace="acdgate.sip")

BASE_METHODS = ("OPTIONS", "REGISTER")
ACCEPT = "application/sdp"
SUPPORTED = "path, outbound"
USER_AGENT = "acdgate/0.1"

MethodHandler = Callable[[Request, Incoming], None]

# Methods RFC 3261 and its extensions define that we recognise but do not serve yet.
_KNOWN_METHODS = frozenset(
    {"INVITE", "BYE", "CANCEL", "SUBSCRIBE", "NOTIFY", "INFO", "UPDATE", "REFER", "MESSAGE",
     "PRACK", "PUBLISH"}
)


class SipService:
    """Answers requests: REGISTER through the registrar, OPTIONS itself, the rest refused."""

    def __init__(
        self,
        reactor: Any,
        registrar: Registrar,
        store: BindingStore,
        *,
        qualify_seconds: float = 30.0,
    ) -> None:
        self.reactor = reactor
        self.registrar = registrar
        self.store = store
        self.qualify_seconds = qualify_seconds
        self.stack: SipStack | None = None
        self.qualifier = Qualifier(qualify_seconds)
        self.qualifier.track_all(registrar.all_bindings(reactor.seconds()), reactor.seconds())
        self.handlers: dict[str, MethodHandler] = {}
        self.cancel_listeners: list[Callable[[str], None]] = []
        self._expiry_call: IDelayedCall | None = None
        self._qualify_call: IDelayedCall | None = None
        self._delayed: set[IDelayedCall] = set()
        self._report_call: IDelayedCall | None = None  # the throttle's summary of an interval's tail
        self.on_bindings_changed: Callable[[str], None] | None = None
        # group commit: each changed binding's final row (None: deleted), and the answers held
        # until that is committed, in arrival order
        self._unsaved: dict[tuple[str, str], BindingRow | None] = {}
        self._held: list[tuple[Request | RegisterScan, Incoming, RegisterResult | ScannedAnswer]] = []
        self._commit_call: IDelayedCall | None = None

    def add_method(self, method: str, handler: MethodHandler) -> None:
        """Serve `method` (INVITE, SUBSCRIBE, ACK, ...) with `handler`; it answers via the stack."""
        self.handlers[method] = handler

    @property
    def allow(self) -> str:
        """The Allow header value: what we serve."""
        methods = [*BASE_METHODS, *(m for m in self.handlers if m not in BASE_METHODS)]
        if "INVITE" in self.handlers:
            methods += [m for m in ("ACK", "CANCEL", "BYE") if m not in methods]
        return ", ".join(methods)

    def authenticate(self, request: Request, incoming: Incoming) -> str | None:
        """The station username that signed `request`; None when a challenge or refusal was sent.

        Requests other than REGISTER are challenged the same way (401, RFC 3261 22.2).
        """
        assert self.stack is not None
        outcome = self.registrar.authenticate(request, incoming.source, self.reactor.seconds())
        if isinstance(outcome, str):
            return outcome
        self._deliver(request, incoming, outcome)
        return None

    def source_blocked(self, host: str) -> bool:
        """Whether requests from `host` are to be dropped unanswered (the stack asks first)."""
        return self.registrar.throttle.blocked(host, self.reactor.seconds())

    def reachable(self, username: str) -> bool:
        """Whether a station's registered contacts answer (qualify)."""
        return self.qualifier.reachable(username)

    def invite_cancelled(self, transaction_key: str) -> None:
        """The stack matched a CANCEL to this INVITE server transaction (it answered the CANCEL)."""
        for listener in list(self.cancel_listeners):
            listener(transaction_key)

    def attach(self, stack: SipStack) -> None:
        """Use `stack` to answer and to send requests; start the timers."""
        self.stack = stack
        self._schedule_expiry()
        self._schedule_qualify()

    def stop(self) -> None:
        """Commit and answer what a burst left held; cancel every timer this service set."""
        self.commit_bindings()
        for call in (self._expiry_call, self._qualify_call, self._report_call, *self._delayed):
            if call is not None and call.active():
                call.cancel()
        self._delayed.clear()
        self._expiry_call = self._qualify_call = self._report_call = None

    # -- requests ------------------------------------------------------------------------

    def request_received(self, request: Request, incoming: Incoming) -> None:
        """Answer one request from the stack."""
        assert self.stack is not None
        method = request.method
        handler = self.handlers.get(method)
        if handler is not None:
            handler(request, incoming)
        elif method == "ACK":
            return  # an ACK for a 2xx no dialog knows: nothing to do
        elif method == "REGISTER":
            self._register(request, incoming)
        elif method == "OPTIONS":
            self.stack.respond(request, 200, headers=self._capabilities())
        elif method in ("BYE", "CANCEL", "INFO", "UPDATE", "NOTIFY"):
            self.stack.respond(request, 481, headers=[("Allow", self.allow)])
        elif method in _KNOWN_METHODS:
            self.stack.respond(request, 501, f"{method} Not Served", headers=[("Allow", self.allow)])
        else:
            self.stack.respond(request, 501, "Unknown Method", headers=[("Allow", self.allow)])

    # the methods `take_statelessly` may take: the stack offers it no other request
    stateless_methods = frozenset({"REGISTER", "INVITE"})

    def take_statelessly(self, request: Request, incoming: Incoming) -> bool:
        """Answer a REGISTER without a server transaction (RFC 3261 8.2.7), as Kamailio's
        registrar does; the stack keeps each answer for the request's retransmissions.

        A registration is two REGISTERs, and a transaction for each (with its 32 s Timer J)
        was a tenth of a registration's CPU. The challenge to a REGISTER without credentials
        goes out at once, without the registrar's bookkeeping objects; the rest goes through
        `handle_register` and group commit like any REGISTER. INVITEs: see `_take_invite`.
        """
        if request.method == "INVITE":
            return self._take_invite(request, incoming)
        if request.method != "REGISTER" or "REGISTER" in self.handlers:
            return False
        assert self.stack is not None
        challenge = self.registrar.first_challenge(request, incoming.source, self.reactor.seconds())
        if challenge is not None:
            challenge.headers.add("Server", USER_AGENT)
            self.stack.reply_statelessly(incoming, challenge)
            return True
        self._register(request, incoming)
        return True

    def _take_invite(self, request: Request, incoming: Incoming) -> bool:
        """A new INVITE without credentials is challenged statelessly: one 401 per INVITE received,
        never retransmitted (a stateless UAS may answer so, RFC 3261 8.2.7; the 401 is the same
        for the same request), counted toward the source's throttle. The rest gets a server
        transaction and goes to the INVITE handler. (Requests from a blocked source never get
        here: the stack drops them, `source_blocked`.)"""
        if "INVITE" not in self.handlers:
            return False
        now = self.reactor.seconds()
        if "Authorization" in request.headers or "Proxy-Authorization" in request.headers:
            return False
        try:
            to = request.to_addr
        except ValueError:
            return False  # the handler answers the malformed request
        if to is not None and to.tag is not None:
            return False  # in a dialog: not authenticated again here
        self._deliver(request, incoming, self.registrar.unauthenticated(request, incoming.source, now))
        return True

    def take_scanned_register(self, scan: RegisterScan, incoming: Incoming) -> bool:
        """Answer a plain REGISTER the stack read with `scan_register`, without parsing it
        (`Registrar.register_scanned`); False leaves it to the general way."""
        if "REGISTER" in self.handlers:
            return False
        assert self.stack is not None
        now = self.reactor.seconds()
        answer = self.registrar.register_scanned(scan, incoming.source, now, server=USER_AGENT)
        if answer is None:
            return False
        if answer.added_or_refreshed or answer.removed:
            self._note_changes(answer.added_or_refreshed, answer.removed, now)
        elif not self._held:
            self.stack.reply_scanned(incoming, answer.data, scan.destination)
            return True
        self._held.append((scan, incoming, answer))  # after earlier held answers, in order
        self._commit_now_or_soon()
        return True

    def _capabilities(self) -> list[tuple[str, str]]:
        return [("Allow", self.allow), ("Accept", ACCEPT), ("Supported", SUPPORTED),
                ("Accept-Language", "en"), ("Server", USER_AGENT)]

    def _register(self, request: Request, incoming: Incoming) -> None:
        assert self.stack is not None
        now = self.reactor.seconds()
        result = self.registrar.handle_register(request, incoming.source, incoming.transport, now)
        changed = bool(result.added_or_refreshed or result.removed)
        if changed:
            self._note_changes(result.added_or_refreshed, result.removed, now)
        if not changed and not self._held:
            self._deliver(request, incoming, result)
            return
        self._held.append((request, incoming, result))  # after earlier held answers, in order
        self._commit_now_or_soon()

    def _note_changes(self, added: tuple[Binding, ...], removed: tuple[Binding, ...], now: float) -> None:
        """Queue changed bindings for the group commit; qualify, timers and listeners follow."""
        unsaved = self._unsaved
        for b in removed:
            unsaved[b.key()] = None
        for b in added:
            unsaved[b.key()] = b.to_row()
        for b in added:
            self._log_reachability(self.qualifier.track(b, now))
        for b in removed:
            self._log_reachability(self.qualifier.forget(b.key(), now))
        self._rearm_sooner_timers()
        if self.on_bindings_changed is not None:
            self.on_bindings_changed((added or removed)[0].username)

    def _commit_now_or_soon(self) -> None:
        assert self.stack is not None
        if not self.stack.input_pending():
            self.commit_bindings()
        elif self._commit_call is None:
            # the burst's last datagram commits; this covers a burst the reactor cut short
            self._commit_call = self.reactor.callLater(0, self.commit_bindings)

    def commit_bindings(self) -> None:
        """Commit the held binding changes in one transaction, then send the held answers."""
        call, self._commit_call = self._commit_call, None
        if call is not None and call.active():
            call.cancel()
        unsaved, held = self._unsaved, self._held
        if not held and not unsaved:
            return
        self._unsaved, self._held = {}, []
        try:
            self.store.save_bindings(
                [row for row in unsaved.values() if row is not None],
                [key for key, row in unsaved.items() if row is None],
            )
        except BindingStoreError as exc:
            # not durable, so not acknowledged: the phones retry (RFC 3261 10.3 step 7: 500)
            log.failure("cannot store {n} binding change(s): {error}", n=len(unsaved), error=exc)
            for request, incoming, result in held:
                if result.added_or_refreshed or result.removed:
                    self._deliver_failure(request, incoming)
                else:
                    self._deliver_held(request, incoming, result)
            return
        for request, incoming, result in held:
            self._deliver_held(request, incoming, result)

    def _deliver_held(self, request: Request | RegisterScan, incoming: Incoming,
                      result: RegisterResult | ScannedAnswer) -> None:
        if isinstance(result, ScannedAnswer):
            assert self.stack is not None and isinstance(request, RegisterScan)
            self.stack.reply_scanned(incoming, result.data, request.destination)
        else:
            assert isinstance(request, Request)
            self._deliver(request, incoming, result)

    def _deliver_failure(self, request: Request | RegisterScan, incoming: Incoming) -> None:
        assert self.stack is not None
        if isinstance(request, RegisterScan):
            data = scanned_reply(request, "500 Server Internal Error", None, "", USER_AGENT)
            self.stack.reply_scanned(incoming, data, request.destination)
            return
        response = make_response(request, 500, "Server Internal Error")
        response.headers.add("Server", USER_AGENT)
        self._answer(incoming, response)

    def _answer(self, incoming: Incoming, response: Response) -> None:
        """Send through the request's server transaction, or statelessly when it has none."""
        assert self.stack is not None
        if incoming.stateless_identity is not None:
            self.stack.reply_statelessly(incoming, response)
        else:
            self.stack.send_response(response, incoming.transaction_key)

    def _rearm_sooner_timers(self) -> None:
        """After a REGISTER: re-arm the expiry and qualify timers only if a deadline came sooner.

        A refresh usually moves nothing earlier; re-arming anyway cost a DelayedCall per
        REGISTER (the reactor keeps cancelled calls until it compacts its heap). A timer left
        early fires, finds nothing due and re-arms itself.
        """
        when = self.registrar.next_expiry()
        call = self._expiry_call
        if when is not None and (call is None or not call.active() or when < call.getTime() - 0.001):
            self._schedule_expiry()
        when = self.qualifier.next_due()
        call = self._qualify_call
        if when is not None and (call is None or not call.active() or when < call.getTime() - 0.001):
            self._schedule_qualify()

    def _deliver(self, request: Request, incoming: Incoming, result: RegisterResult) -> None:
        """Send a registrar answer: at once, later (throttled), or not at all (blocked)."""
        assert self.stack is not None
        peer = f"{incoming.source[0]}:{incoming.source[1]}"
        if result.auth_failure is not None:
            f = result.auth_failure
            log.debug("{method} auth failure from {peer}: user {user!r}: {reason} (Call-ID {call_id})",
                      method=request.method, peer=peer, user=f.username, reason=f.reason, call_id=request.call_id)
            self._report_throttle()
        if result.drop:
            log.debug("{method} from blocked source {peer} dropped (Call-ID {call_id})",
                      method=request.method, peer=peer, call_id=request.call_id)
            self._report_throttle()
            return
        result.response.headers.add("Server", USER_AGENT)
        if result.delay > 0:
            call = self.reactor.callLater(result.delay, self._send_later, incoming, result.response)
            self._delayed.add(call)
        else:
            self._answer(incoming, result.response)

    def _report_throttle(self) -> None:
        """One line per interval on authentication failures, not one per guess; what the last
        interval of an attack saw is reported when it ends (one timer at most)."""
        throttle = self.registrar.throttle
        report = throttle.report(self.reactor.seconds())
        due = throttle.next_report()
        if due is not None and self._report_call is None:
            self._report_call = self.reactor.callLater(max(0.0, due - self.reactor.seconds()),
                                                       self._report_tail)
        if report is None:
            return
        log.warn(
            "SIP authentication: {failures} failure(s), {refused} attempt(s) on held accounts refused, "
            "{blocks} source(s) blocked, from {sources} source(s) in {seconds:.0f} s; most tried: {accounts}",
            failures=report.failures, refused=report.refused, blocks=report.blocks, sources=report.sources,
            seconds=self.reactor.seconds() - report.since, accounts=", ".join(report.accounts) or "-",
        )

    def _report_tail(self) -> None:
        self._report_call = None
        self._report_throttle()

    def _send_later(self, incoming: Incoming, response: Response) -> None:
        self._delayed = {c for c in self._delayed if c.active()}
        if self.registrar.throttle.blocked(incoming.source[0], self.reactor.seconds()):
            return  # blocked meanwhile: nothing at all goes to it any more
        self._answer(incoming, response)

    # -- registration expiry -------------------------------------------------------------

    def _schedule_expiry(self) -> None:
        if self._expiry_call is not None and self._expiry_call.active():
            self._expiry_call.cancel()
        self._expiry_call = None
        when = self.registrar.next_expiry()
        if when is not None:
            delay = max(0.0, when - self.reactor.seconds())
            self._expiry_call = self.reactor.callLater(delay, self._expire)

    def _expire(self) -> None:
        self._expiry_call = None
        self.commit_bindings()  # the held changes first: the store sees them in order
        removed = self.registrar.expire(self.reactor.seconds())
        if removed:
            self.store.save_bindings([], [b.key() for b in removed])
            for b in removed:
                self._log_reachability(self.qualifier.forget(b.key(), self.reactor.seconds()))
                log.info("registration of {user} at {contact} expired", user=b.username, contact=b.contact)
        self._schedule_expiry()

    # -- qualify (OPTIONS to registered contacts) ----------------------------------------

    def _schedule_qualify(self) -> None:
        if self._qualify_call is not None and self._qualify_call.active():
            self._qualify_call.cancel()
        self._qualify_call = None
        when = self.qualifier.next_due()
        if when is not None:
            self._qualify_call = self.reactor.callLater(max(0.0, when - self.reactor.seconds()), self._qualify)

    def _qualify(self) -> None:
        self._qualify_call = None
        if self.stack is not None:
            for binding in self.qualifier.due(self.reactor.seconds()):
                self._options(binding)
        self._schedule_qualify()

    def _log_reachability(self, events: list[QualifyEvent]) -> None:
        for event in events:
            if isinstance(event, StationReachable):
                log.info("station {user} is reachable again", user=event.username)
            else:
                log.warn("station {user} is unreachable: no contact answers OPTIONS", user=event.username)

    def _options(self, binding: Binding) -> None:
        assert self.stack is not None
        request = Request(
            "OPTIONS",
            binding.contact,
            Headers([
                ("Via", f"{self.stack.via_for(binding.transport)};branch={new_branch()}"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:acdgate@{self.stack.local_address[0]}>;tag={new_tag()}"),
                ("To", f"<{binding.contact}>"),
                ("Call-ID", f"{new_tag()}@acdgate"),
                ("CSeq", "1 OPTIONS"),
                ("User-Agent", USER_AGENT),
            ]),
        )
        key = binding.key()
        d = self.stack.send_request(request, binding.source, binding.transport)

        def answered(response: Response) -> None:
            self._log_reachability(self.qualifier.answered(key, self.reactor.seconds()))
            self._schedule_qualify()

        def failed(failure: Any) -> None:
            failure.trap(TransactionFailed)
            self._log_reachability(self.qualifier.timed_out(key, self.reactor.seconds()))
            self._schedule_qualify()

        d.addCallbacks(answered, failed)
