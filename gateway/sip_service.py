"""The gateway's SIP transaction user: REGISTER, OPTIONS, qualify, and what is not served yet.

It answers each request the stack delivers, keeps the registrar's bindings in the state
store (committed before the 200 goes out, so an acknowledged registration survives a crash)
and runs the registrar's expiry and the OPTIONS qualify timers on the reactor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acdgate.gateway.sip.message import Headers, Request, Response, new_branch, new_tag
from acdgate.gateway.sip.registrar import Binding, Registrar
from acdgate.gateway.sip.stack import Incoming, SipStack, TransactionFailed
from acdgate.gateway.store import StateStore
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

log = Logger(namespace="acdgate.sip")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"
ACCEPT = "application/sdp"
SUPPORTED = "path, outbound"
USER_AGENT = "acdgate/0.1"

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
        store: StateStore,
        *,
        qualify_seconds: float = 30.0,
    ) -> None:
        self.reactor = reactor
        self.registrar = registrar
        self.store = store
        self.qualify_seconds = qualify_seconds
        self.stack: SipStack | None = None
        self.unreachable: set[tuple[str, str]] = set()
        self._expiry_call: IDelayedCall | None = None
        self._qualify_call: IDelayedCall | None = None
        self._delayed: set[IDelayedCall] = set()
        self._qualifying: set[tuple[str, str]] = set()
        self.on_bindings_changed: Callable[[str], None] | None = None

    def attach(self, stack: SipStack) -> None:
        """Use `stack` to answer and to send requests; start the timers."""
        self.stack = stack
        self._schedule_expiry()
        self._schedule_qualify()

    def stop(self) -> None:
        """Cancel every timer this service set."""
        for call in (self._expiry_call, self._qualify_call, *self._delayed):
            if call is not None and call.active():
                call.cancel()
        self._delayed.clear()
        self._expiry_call = self._qualify_call = None

    # -- requests ------------------------------------------------------------------------

    def request_received(self, request: Request, incoming: Incoming) -> None:
        """Answer one request from the stack."""
        assert self.stack is not None
        method = request.method
        if method == "ACK":
            return  # an ACK for a 2xx we never sent: nothing to do (no calls yet)
        if method == "REGISTER":
            self._register(request, incoming)
        elif method == "OPTIONS":
            self.stack.respond(request, 200, headers=self._capabilities())
        elif method in _KNOWN_METHODS:
            status, reason = (481, None) if method in ("BYE", "CANCEL") else (501, f"{method} Not Served Yet")
            self.stack.respond(request, status, reason, headers=[("Allow", ALLOW)])
        else:
            self.stack.respond(request, 501, "Unknown Method", headers=[("Allow", ALLOW)])

    def _capabilities(self) -> list[tuple[str, str]]:
        return [("Allow", ALLOW), ("Accept", ACCEPT), ("Supported", SUPPORTED),
                ("Accept-Language", "en"), ("Server", USER_AGENT)]

    def _register(self, request: Request, incoming: Incoming) -> None:
        assert self.stack is not None
        now = self.reactor.seconds()
        result = self.registrar.handle_register(request, incoming.source, incoming.transport, now)
        if result.auth_failure is not None:
            f = result.auth_failure
            log.warn("REGISTER auth failure from {peer}: user {user!r}: {reason} (Call-ID {call_id})",
                     peer=f"{incoming.source[0]}:{incoming.source[1]}", user=getattr(f, "username", "?"),
                     reason=getattr(f, "reason", "?"), call_id=request.call_id)
        if result.added_or_refreshed or result.removed:
            self.store.save_bindings(
                [b.to_dict() for b in result.added_or_refreshed], [b.key() for b in result.removed]
            )
            for b in result.removed:
                self.unreachable.discard(b.key())
            self._schedule_expiry()
            self._schedule_qualify()
            if self.on_bindings_changed is not None:
                username = (result.added_or_refreshed or result.removed)[0].username
                self.on_bindings_changed(username)
        if result.drop:
            log.warn("REGISTER from blocked source {peer} dropped (Call-ID {call_id})",
                     peer=f"{incoming.source[0]}:{incoming.source[1]}", call_id=request.call_id)
            return
        result.response.headers.add("Server", USER_AGENT)
        if result.delay > 0:
            call = self.reactor.callLater(result.delay, self._send_later, result.response)
            self._delayed.add(call)
        else:
            self.stack.send_response(result.response)

    def _send_later(self, response: Response) -> None:
        assert self.stack is not None
        self._delayed = {c for c in self._delayed if c.active()}
        self.stack.send_response(response)

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
        removed = self.registrar.expire(self.reactor.seconds())
        if removed:
            self.store.save_bindings([], [b.key() for b in removed])
            for b in removed:
                self.unreachable.discard(b.key())
                log.info("registration of {user} at {contact} expired", user=b.username, contact=b.contact)
        self._schedule_expiry()

    # -- qualify (OPTIONS to registered contacts) ----------------------------------------

    def _schedule_qualify(self) -> None:
        if self.qualify_seconds <= 0 or self._qualify_call is not None:
            return
        if self.registrar.all_bindings(self.reactor.seconds()):
            self._qualify_call = self.reactor.callLater(self.qualify_seconds, self._qualify)

    def _qualify(self) -> None:
        self._qualify_call = None
        if self.stack is None:
            return
        for binding in self.registrar.all_bindings(self.reactor.seconds()):
            if binding.key() not in self._qualifying:
                self._options(binding)
        self._schedule_qualify()

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
        self._qualifying.add(key)
        d = self.stack.send_request(request, binding.source, binding.transport)

        def answered(response: Response) -> None:
            self._qualifying.discard(key)
            if key in self.unreachable:
                self.unreachable.discard(key)
                log.info("station {user} at {contact} is reachable again ({status})",
                         user=binding.username, contact=binding.contact, status=response.status)

        def failed(failure: Any) -> None:
            self._qualifying.discard(key)
            failure.trap(TransactionFailed)
            if key not in self.unreachable:
                self.unreachable.add(key)
                log.warn("station {user} at {contact} is unreachable (no answer to OPTIONS)",
                         user=binding.username, contact=binding.contact)

        d.addCallbacks(answered, failed)
