"""The SIP transaction layer (RFC 3261 17): the table of live transactions, matching of
incoming messages to them (17.1.3, 17.2.3), dispatch, and reaping. Sans-IO: every call takes
`now` and returns actions (see `transaction_actions`); timers are the caller's to run."""

# Matching is one dict lookup per message:
#   * client transactions by "c <branch> <CSeq method>" of the response's top Via (17.1.3);
#   * server transactions by "s <branch> <sent-by> <CSeq number> <method>", ACK looking up
#     INVITE (17.2.3). The CSeq number is our addition (docs/interop.md): pyVoIP 1.6.8 reuses the
#     branch of a challenged INVITE for the authenticated one (CSeq 2); retransmissions, the
#     ACK of a non-2xx and CANCEL all carry the INVITE's number, so RFC matching is unchanged;
#     a CANCEL gets its own transaction, and the INVITE it cancels is the same key with INVITE;
#   * requests whose branch lacks the magic cookie (RFC 2543 peers) by a secondary dict keyed on
#     (Request-URI, From tag, Call-ID, CSeq number, method, top Via), the To tag checked after.
# Peer input never raises: what matches nothing, or has no entry in the state table, becomes a
# `Dropped` action. The TU's own mistakes (a second final response) raise TransactionError.

from __future__ import annotations

from itertools import count

from acdgate.gateway.sip.message import Request, Response, SipSyntaxError, Via
from acdgate.gateway.sip.transaction import (
    Fault,
    Input,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    State,
    TimerSettings,
    Transaction,
    TransactionError,
    client_input,
    server_input,
)
from acdgate.gateway.sip.transaction_actions import (
    Action,
    Address,
    DeliverRequest,
    Dropped,
    TimerName,
)

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 8.1.1.7


def _sent_by(via: Via) -> str:
    """Normalised sent-by for matching: host lower-cased, default port filled in."""
    port = via.port if via.port is not None else (5061 if via.transport == "TLS" else 5060)
    return f"{via.host.lower()}:{port}"


class TransactionLayer:
    """Owns every live client and server transaction of one SIP stack."""

    __slots__ = ("_by_2543", "_by_2543_response", "_counter", "_transactions", "settings")

    def __init__(self, settings: TimerSettings | None = None) -> None:
        self.settings = settings if settings is not None else TimerSettings()
        self._transactions: dict[str, Transaction] = {}
        # RFC 2543 fallback (17.2.3): request tuple -> key, and response tuple -> key (for
        # send_response, whose response lacks the Request-URI).
        self._by_2543: dict[tuple[object, ...], str] = {}
        self._by_2543_response: dict[tuple[object, ...], str] = {}
        self._counter = count(1)

    def __len__(self) -> int:
        return len(self._transactions)

    def __contains__(self, key: object) -> bool:
        return key in self._transactions

    def state(self, key: str) -> State | None:
        """The state of transaction `key`; None once it is reaped (or never existed)."""
        transaction = self._transactions.get(key)
        return None if transaction is None else transaction.state

    # -- the TU's calls ----------------------------------------------------------------

    def send_request(
        self, request: Request, destination: Address, reliable: bool, now: float
    ) -> tuple[str, list[Action]]:
        """Start a client transaction for `request`, whose top Via must carry a fresh branch
        (`message.new_branch()`). Returns the transaction key and the actions (send it, start
        Timer A/B or E/F). An ACK is no transaction: send it directly (RFC 3261 17.1.1.3)."""
        via = request.top_via
        branch = via.branch if via is not None else None
        if not branch:
            raise TransactionError("request has no top Via branch", Fault.LOCAL)
        if request.method == "ACK":
            raise TransactionError("ACK opens no transaction; send it directly", Fault.LOCAL)
        key = f"c {branch} {request.method}"
        if key in self._transactions:
            raise TransactionError(f"branch {branch} already used for {request.method}", Fault.LOCAL)
        cls = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        transaction = cls(key, request, destination, reliable, self.settings)
        self._transactions[key] = transaction
        return key, transaction.start(now)

    def send_response(
        self, response: Response, now: float, transaction_key: str | None = None
    ) -> list[Action]:
        """Send the TU's `response` through its server transaction, found by `transaction_key`
        or else by the response's top Via and CSeq. `Dropped` if that transaction is gone (it
        timed out or failed meanwhile); TransactionError if the TU breaks the protocol (a
        response after the final one, a status outside 100-699)."""
        if not 100 <= response.status <= 699:
            raise TransactionError(f"status {response.status} outside 100-699", Fault.LOCAL)
        key = transaction_key if transaction_key is not None else self._server_key_of(response)
        transaction = self._transactions.get(key) if key is not None else None
        if not isinstance(transaction, ServerTransaction):
            return [Dropped("no server transaction for the response", response, key)]
        actions = transaction.handle(server_input(response.status), now, response)
        self._reap(transaction)
        return actions

    def timer_fired(self, key: str, name: TimerName, now: float) -> list[Action]:
        """Timer `name` of transaction `key` is due (as asked by a StartTimer action)."""
        transaction = self._transactions.get(key)
        if transaction is None:
            return [Dropped(f"Timer {name.value} for a reaped transaction", None, key)]
        try:
            actions = transaction.fire(name, now)
        except TransactionError as exc:
            return [Dropped(str(exc), None, key)]
        self._reap(transaction)
        return actions

    def transport_error(self, key: str, now: float) -> list[Action]:
        """The transport could not send a message of transaction `key` (RFC 3261 17.1.4, 17.2.4)."""
        transaction = self._transactions.get(key)
        if transaction is None:
            return [Dropped("transport error for a reaped transaction", None, key)]
        try:
            actions = transaction.handle(Input.TRANSPORT_ERROR, now)
        except TransactionError as exc:
            return [Dropped(str(exc), None, key)]
        self._reap(transaction)
        return actions

    # -- the peer's messages -----------------------------------------------------------

    def receive(
        self, message: Request | Response, source: Address, reliable: bool, now: float
    ) -> list[Action]:
        """A message from the peer at `source`: match it to a transaction or open one."""
        try:
            if isinstance(message, Request):
                return self._receive_request(message, source, reliable, now)
            return self._receive_response(message, now)
        except TransactionError as exc:  # no table entry for this input: the peer's fault
            return [Dropped(str(exc), message)]
        except SipSyntaxError as exc:  # a header the parser let through does not parse
            return [Dropped(f"unparsable header: {exc}", message)]

    def _receive_response(self, response: Response, now: float) -> list[Action]:
        via = response.top_via
        cseq = response.cseq
        if via is None or cseq is None or not 100 <= response.status <= 699:
            return [Dropped("response without Via or CSeq, or bad status", response)]
        key = f"c {via.branch} {cseq[1]}"  # RFC 3261 17.1.3
        transaction = self._transactions.get(key)
        if transaction is None:
            return [Dropped("response matches no client transaction", response)]
        actions = transaction.handle(client_input(response.status), now, response)
        self._reap(transaction)
        return actions

    def _receive_request(
        self, request: Request, source: Address, reliable: bool, now: float
    ) -> list[Action]:
        via = request.top_via
        cseq = request.cseq
        if via is None or cseq is None:
            return [Dropped("request without Via or CSeq", request)]
        method = request.method
        branch = via.branch
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            return self._receive_2543(request, via, cseq, source, reliable, now)
        prefix = f"s {branch} {_sent_by(via)} {cseq[0]} "  # RFC 3261 17.2.3 (+ CSeq number)
        key = prefix + ("INVITE" if method == "ACK" else method)
        transaction = self._transactions.get(key)
        if transaction is not None:
            return self._feed(transaction, request, source, now)
        if method == "ACK":  # the ACK for a 2xx: its own branch, the dialog layer's
            return [DeliverRequest(request, None, source)]
        cancels = None
        if method == "CANCEL" and prefix + "INVITE" in self._transactions:
            cancels = prefix + "INVITE"  # RFC 3261 9.2: same branch and sent-by as the INVITE
        return self._open(key, request, source, reliable, now, cancels, None)

    def _receive_2543(
        self,
        request: Request,
        via: Via,
        cseq: tuple[int, str],
        source: Address,
        reliable: bool,
        now: float,
    ) -> list[Action]:
        """RFC 3261 17.2.3 backwards compatibility: match on Request-URI, To tag, From tag,
        Call-ID, CSeq and top Via."""
        method = request.method
        from_addr, to_addr = request.from_addr, request.to_addr
        from_tag = from_addr.tag if from_addr is not None else None
        to_tag = to_addr.tag if to_addr is not None else None
        via_id = (via.transport, _sent_by(via), via.branch)
        common = (request.call_id, from_tag, cseq[0], via_id)
        lookup = "INVITE" if method == "ACK" else method
        key = self._by_2543.get((request.uri, lookup, *common))
        if key is not None:
            transaction = self._transactions[key]
            if method == "ACK":
                # 17.2.3: the ACK's To tag is the one of the response the transaction sent.
                sent = transaction.last_response
                sent_to = sent.to_addr if sent is not None else None
                if sent_to is None or sent_to.tag != to_tag:
                    return [DeliverRequest(request, None, source)]
            else:
                original_to = transaction.request.to_addr
                if (original_to.tag if original_to is not None else None) != to_tag:
                    return [Dropped("RFC 2543 request differs only in To tag", request, key)]
            return self._feed(transaction, request, source, now)
        if method == "ACK":
            return [DeliverRequest(request, None, source)]
        cancels = None
        if method == "CANCEL":
            cancels = self._by_2543.get((request.uri, "INVITE", *common))
        key = f"s2543 {next(self._counter)} {method}"
        fallback_keys = ((request.uri, method, *common), (method, *common))
        return self._open(key, request, source, reliable, now, cancels, fallback_keys)

    def _open(
        self,
        key: str,
        request: Request,
        source: Address,
        reliable: bool,
        now: float,
        cancels: str | None,
        fallback_keys: tuple[tuple[object, ...], tuple[object, ...]] | None,
    ) -> list[Action]:
        cls = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
        transaction = cls(key, request, source, reliable, self.settings, cancels)
        self._transactions[key] = transaction
        if fallback_keys is not None:
            transaction.fallback_keys = fallback_keys
            self._by_2543[fallback_keys[0]] = key
            self._by_2543_response[fallback_keys[1]] = key
        return transaction.start(now)

    def _feed(
        self, transaction: Transaction, request: Request, source: Address, now: float
    ) -> list[Action]:
        event = Input.ACK if request.method == "ACK" else Input.REQUEST
        actions = transaction.handle(event, now, request, source)
        self._reap(transaction)
        return actions

    # -- bookkeeping -------------------------------------------------------------------

    def _server_key_of(self, response: Response) -> str | None:
        via = response.top_via
        cseq = response.cseq
        if via is None or cseq is None:
            return None
        branch = via.branch
        if branch is not None and branch.startswith(MAGIC_COOKIE):
            return f"s {branch} {_sent_by(via)} {cseq[0]} {cseq[1]}"
        from_addr = response.from_addr
        from_tag = from_addr.tag if from_addr is not None else None
        via_id = (via.transport, _sent_by(via), branch)
        return self._by_2543_response.get((cseq[1], response.call_id, from_tag, cseq[0], via_id))

    def _reap(self, transaction: Transaction) -> None:
        if transaction.state is not State.TERMINATED:
            return
        del self._transactions[transaction.key]
        if isinstance(transaction, ServerTransaction) and transaction.fallback_keys is not None:
            request_id, response_id = transaction.fallback_keys
            if self._by_2543.get(request_id) == transaction.key:
                del self._by_2543[request_id]
            if self._by_2543_response.get(response_id) == transaction.key:
                del self._by_2543_response[response_id]
