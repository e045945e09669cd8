"""RFC 6665 subscriptions, notifier side: dialogs, Expires negotiation, refresh, expiry, NOTIFYs.

Theory of operation
-------------------
A SUBSCRIBE outside a dialog (no To tag) creates a subscription dialog: we pick the To tag,
take the route set from Record-Route and the remote target from Contact (RFC 3261 12.1.1),
and negotiate its duration (`negotiate_expires`: too short is 423 with Min-Expires, RFC
6665 3.1.1; too long is shortened). A SUBSCRIBE inside the dialog refreshes it (new
duration, new remote target, RFC 6665 4.1.2.1) or, with `Expires: 0`, ends it. The dialog
also ends when its time runs out (`expire`) or when a NOTIFY is answered 481 or times
out (RFC 6665 4.2.2).

Each `Subscription` is a two-state machine driven by the `TRANSITIONS` table; an input the
table does not list (a refresh of a terminated subscription, say) is a `SubscriptionError`,
never ignored. `SubscriptionTable` finds the dialog of an incoming SUBSCRIBE and answers
with what the transaction user must do; `Subscription.notify` builds the in-dialog NOTIFY
(RFC 3261 12.2.1.1: Request-URI = remote target, Route = route set, CSeq counting up).
Sans-IO: time comes in as `now`, nothing here sends anything.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from acdgate.gateway.sip.message import (
    Headers,
    Request,
    SipSyntaxError,
    new_branch,
    new_tag,
    parse_name_addr,
)

Address = tuple[str, int]


class SubState(Enum):
    """A subscription is active until unsubscribed, expired or rejected by the subscriber."""

    ACTIVE = "active"
    TERMINATED = "terminated"


class SubInput(Enum):
    REFRESH = "refresh"  # in-dialog SUBSCRIBE with Expires > 0
    UNSUBSCRIBE = "unsubscribe"  # Expires: 0 (RFC 6665 4.1.2.3)
    EXPIRE = "expire"  # its time ran out (RFC 6665 4.2.2)
    NOTIFY_REJECTED = "notify-rejected"  # NOTIFY answered 481 or timed out (RFC 6665 4.2.2)
    DEACTIVATE = "deactivate"  # the notifier ends it (resource gone, shutdown)


class TerminationReason(StrEnum):
    """RFC 6665 4.2.2 / 6.2 reason codes of `Subscription-State: terminated`."""

    DEACTIVATED = "deactivated"
    TIMEOUT = "timeout"
    NORESOURCE = "noresource"
    REJECTED = "rejected"
    GIVEUP = "giveup"


TRANSITIONS: dict[tuple[SubState, SubInput], SubState] = {
    (SubState.ACTIVE, SubInput.REFRESH): SubState.ACTIVE,
    (SubState.ACTIVE, SubInput.UNSUBSCRIBE): SubState.TERMINATED,
    (SubState.ACTIVE, SubInput.EXPIRE): SubState.TERMINATED,
    (SubState.ACTIVE, SubInput.NOTIFY_REJECTED): SubState.TERMINATED,
    (SubState.ACTIVE, SubInput.DEACTIVATE): SubState.TERMINATED,
}


class SubscriptionError(Exception):
    """The SUBSCRIBE cannot be served: answer `status` (the subscriber's fault: 4xx)."""

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers or []


@dataclass(frozen=True, slots=True)
class ExpiresPolicy:
    """Subscription duration bounds, seconds (RFC 6665 3.1.1: the notifier may shorten)."""

    minimum: int = 60
    maximum: int = 3600
    default: int = 3600


def negotiate_expires(requested: str | None, policy: ExpiresPolicy) -> int:
    """The duration to grant; 0 means unsubscribe/fetch. 423 below the minimum, 400 if malformed."""
    if requested is None:
        return policy.default
    text = requested.strip()
    if not text.isdigit() or len(text) > 10:
        raise SubscriptionError(400, "Invalid Expires")
    value = int(text)
    if value == 0:
        return 0
    if value < policy.minimum:
        # RFC 6665 3.1.1 / RFC 3261 21.4.17: 423 Interval Too Brief carries Min-Expires
        raise SubscriptionError(423, "Interval Too Brief", [("Min-Expires", str(policy.minimum))])
    return min(value, policy.maximum)


@dataclass(frozen=True, slots=True)
class DialogKey:
    """A subscription dialog: Call-ID, our tag (To of the SUBSCRIBE), the subscriber's (From)."""

    call_id: str
    local_tag: str
    remote_tag: str


def event_type(value: str | None) -> tuple[str, str | None]:
    """`Event: dialog;id=7` -> ("dialog", "7"); the package name is case-insensitive (RFC 6665 8.2.1)."""
    if value is None or not value.strip():
        raise SubscriptionError(400, "Missing Event")
    parts = [p.strip() for p in value.split(";")]
    event_id = None
    for param in parts[1:]:
        name, _, val = param.partition("=")
        if name.strip().lower() == "id":
            event_id = val.strip()
    return parts[0].lower(), event_id


@dataclass(slots=True)
class Subscription:
    """One subscription dialog (one usage: one event package and id)."""

    key: DialogKey
    event: str
    event_id: str | None
    resource: str  # the Request-URI user: what is watched (a station extension)
    subscriber: str  # the authenticated station username
    local_uri: str  # the To URI of the SUBSCRIBE: our From in NOTIFYs
    remote_uri: str  # the From URI of the SUBSCRIBE: the To of NOTIFYs
    remote_target: str  # the subscriber's Contact URI
    route_set: tuple[str, ...]
    remote_cseq: int
    expires_at: float
    source: Address  # where the last SUBSCRIBE came from (NAT: send NOTIFYs there)
    transport: str
    local_cseq: int = 0
    state: SubState = SubState.ACTIVE
    reason: TerminationReason | None = None
    notifies: int = 0  # NOTIFYs built so far
    data: dict[str, object] = field(default_factory=dict)  # the event package's own state

    def fire(self, what: SubInput) -> SubState:
        """Apply one input through the table; SubscriptionError(481) when it has no entry."""
        step = TRANSITIONS.get((self.state, what))
        if step is None:
            raise SubscriptionError(481, f"Subscription {self.state.value}: {what.value} not allowed")
        self.state = step
        return step

    def remaining(self, now: float) -> int:
        """Whole seconds left (for Expires and Subscription-State)."""
        return max(0, int(self.expires_at - now + 0.5))

    def state_header(self, now: float) -> str:
        """The Subscription-State value (RFC 6665 8.2.3)."""
        if self.state is SubState.ACTIVE:
            return f"active;expires={self.remaining(now)}"
        reason = self.reason or TerminationReason.DEACTIVATED
        return f"terminated;reason={reason.value}"

    def event_header(self) -> str:
        """The Event value for NOTIFYs: the same package and id as the SUBSCRIBE."""
        return self.event if self.event_id is None else f"{self.event};id={self.event_id}"

    def notify(self, now: float, *, via: str, contact: str, body: bytes = b"",
               content_type: str | None = None, user_agent: str | None = None) -> Request:
        """The next in-dialog NOTIFY (RFC 3261 12.2.1.1; CSeq one more than the last)."""
        self.local_cseq += 1
        self.notifies += 1
        headers = Headers([
            ("Via", f"{via};branch={new_branch()}"),
            ("Max-Forwards", "70"),
        ])
        for route in self.route_set:
            headers.add("Route", route)
        headers.add("From", f"<{self.local_uri}>;tag={self.key.local_tag}")
        headers.add("To", f"<{self.remote_uri}>;tag={self.key.remote_tag}")
        headers.add("Call-ID", self.key.call_id)
        headers.add("CSeq", f"{self.local_cseq} NOTIFY")
        headers.add("Contact", contact)
        headers.add("Event", self.event_header())
        headers.add("Subscription-State", self.state_header(now))
        if user_agent:
            headers.add("User-Agent", user_agent)
        if body:
            headers.add("Content-Type", content_type or "application/octet-stream")
        return Request("NOTIFY", self.remote_target, headers, body)


@dataclass(frozen=True, slots=True)
class SubscribeOutcome:
    """What a SUBSCRIBE did: answer 200 with `expires` (To tag `key.local_tag`), then NOTIFY."""

    subscription: Subscription
    created: bool
    expires: int  # 0: the subscription is now terminated (unsubscribe or fetch)


class SubscriptionTable:
    """Every subscription dialog, found by (Call-ID, To tag, From tag), with its expiry order."""

    def __init__(self) -> None:
        self._subs: dict[DialogKey, Subscription] = {}
        self._expiry: list[tuple[float, str, str, str]] = []

    def __len__(self) -> int:
        return len(self._subs)

    def subscriptions(self, event: str | None = None, resource: str | None = None) -> list[Subscription]:
        """Live subscriptions, optionally of one package and/or one watched resource."""
        return [s for s in self._subs.values()
                if (event is None or s.event == event) and (resource is None or s.resource == resource)]

    def receive(self, request: Request, now: float, *, resource: str, subscriber: str,
                policy: ExpiresPolicy, source: Address, transport: str) -> SubscribeOutcome:
        """Create, refresh or end the subscription of a SUBSCRIBE; SubscriptionError to refuse."""
        event, event_id = event_type(request.headers.get("Event"))
        expires = negotiate_expires(request.headers.get("Expires"), policy)
        call_id = request.call_id
        try:
            from_addr, to_addr, cseq = request.from_addr, request.to_addr, request.cseq
        except SipSyntaxError:
            raise SubscriptionError(400, "Malformed dialog headers") from None
        if call_id is None or from_addr is None or to_addr is None or cseq is None:
            raise SubscriptionError(400, "Missing dialog headers")
        if from_addr.tag is None:
            raise SubscriptionError(400, "From without tag")
        contact = self._contact(request)
        if to_addr.tag is not None:
            key = DialogKey(call_id, to_addr.tag, from_addr.tag)
            sub = self._subs.get(key)
            if sub is None or sub.event != event or sub.event_id != event_id:
                raise SubscriptionError(481, "Subscription Does Not Exist")
            if cseq[0] <= sub.remote_cseq:
                # RFC 3261 12.2.2: a lower or equal CSeq in a dialog is out of order
                raise SubscriptionError(500, "CSeq Out of Order")
            if sub.subscriber != subscriber:
                raise SubscriptionError(403, "Not Your Subscription")
            sub.remote_cseq = cseq[0]
            sub.source, sub.transport = source, transport
            if contact is not None:
                sub.remote_target = contact  # RFC 6665 4.1.2.1: SUBSCRIBE is a target refresh
            if expires == 0:
                sub.fire(SubInput.UNSUBSCRIBE)
                sub.reason = TerminationReason.TIMEOUT  # RFC 6665 4.2.2: "timeout" for Expires: 0
                sub.expires_at = now
                del self._subs[key]
            else:
                sub.fire(SubInput.REFRESH)
                sub.expires_at = now + expires
                heapq.heappush(self._expiry, (sub.expires_at, *_key_tuple(key)))
            return SubscribeOutcome(sub, created=False, expires=expires)
        if contact is None:
            raise SubscriptionError(400, "Missing Contact")
        key = DialogKey(call_id, new_tag(), from_addr.tag)
        sub = Subscription(
            key=key,
            event=event,
            event_id=event_id,
            resource=resource,
            subscriber=subscriber,
            local_uri=str(to_addr.uri),
            remote_uri=str(from_addr.uri),
            remote_target=contact,
            route_set=tuple(request.headers.get_all("Record-Route")),
            remote_cseq=cseq[0],
            expires_at=now + expires,
            source=source,
            transport=transport,
        )
        if expires == 0:
            # RFC 6665 4.4.3: a fetch; one NOTIFY with the state, then the dialog is gone
            sub.fire(SubInput.UNSUBSCRIBE)
            sub.reason = TerminationReason.TIMEOUT
        else:
            self._subs[key] = sub
            heapq.heappush(self._expiry, (sub.expires_at, *_key_tuple(key)))
        return SubscribeOutcome(sub, created=True, expires=expires)

    def terminate(self, sub: Subscription, what: SubInput, reason: TerminationReason) -> None:
        """End a subscription on the notifier's side (NOTIFY rejected, resource gone)."""
        if sub.state is SubState.TERMINATED:
            return
        sub.fire(what)
        sub.reason = reason
        self._subs.pop(sub.key, None)

    def next_expiry(self) -> float | None:
        """When `expire` next has something to do."""
        while self._expiry:
            at, call_id, local, remote = self._expiry[0]
            sub = self._subs.get(DialogKey(call_id, local, remote))
            if sub is not None and sub.expires_at == at:
                return at
            heapq.heappop(self._expiry)  # refreshed or gone: a stale heap entry
        return None

    def expire(self, now: float) -> list[Subscription]:
        """End every subscription whose time ran out; they are owed a final NOTIFY (timeout)."""
        ended = []
        while self._expiry and self._expiry[0][0] <= now:
            at, call_id, local, remote = heapq.heappop(self._expiry)
            key = DialogKey(call_id, local, remote)
            sub = self._subs.get(key)
            if sub is None or sub.expires_at != at:
                continue
            sub.fire(SubInput.EXPIRE)
            sub.reason = TerminationReason.TIMEOUT
            del self._subs[key]
            ended.append(sub)
        return ended

    @staticmethod
    def _contact(request: Request) -> str | None:
        values = request.headers.get_all("Contact")
        if not values:
            return None
        try:
            return str(parse_name_addr(values[0]).uri)
        except SipSyntaxError:
            raise SubscriptionError(400, "Invalid Contact") from None


def _key_tuple(key: DialogKey) -> tuple[str, str, str]:
    return (key.call_id, key.local_tag, key.remote_tag)
