"""The registrar (RFC 3261 section 10.3): digest-authenticated REGISTER, bindings, expiry.

Theory of operation: `handle_register` runs the RFC 3261 10.3 steps in order (Require,
authentication with throttling, To user = authenticated user, Contact/Expires validation,
per-contact Call-ID/CSeq checks, atomic commit, 200 listing every binding) and returns the
response plus what changed, so the caller persists the change set and answers (after `delay`,
or not at all when `drop`). Bindings expire by timer: the caller arms one for `next_expiry()`
and calls `expire(now)`. `register_scanned` answers a plain REGISTER read by
`register_scan.scan_register` the same way, straight to the response's bytes. Sans-IO: `now` is POSIX time in seconds (bindings outlive restarts
and feed the Date header), randomness comes from `secrets`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, Final
from urllib.parse import unquote

from acdgate.acd.site import SipSettings, Site
from acdgate.gateway.auth.throttle import AuthFailure, AuthThrottle, ThrottleAction
from acdgate.gateway.sip.digest import Algorithm, AuthStatus, DigestAuthenticator, FailureReason
from acdgate.gateway.sip.message import (
    NameAddr,
    Request,
    Response,
    SipSyntaxError,
    SipURI,
    make_response,
    new_tag,
    parse_name_addr,
    parse_uri,
    reason_phrase,
)
from acdgate.gateway.sip.register_scan import RegisterScan

# Refusals that prove nothing about the sender's password: the nonce was not one we issued to
# that source, or the answer is a copy of a good one. A fresh challenge, never a penalty.
_NOT_A_GUESS = frozenset((FailureReason.FORGED_NONCE, FailureReason.NONCE_REPLAY))

# Option tags we implement (RFC 3261 8.2.2.3); anything else in Require gets a 420.
SUPPORTED_OPTIONS: frozenset[str] = frozenset()


# A binding as a row of plain values, in the state store's column order (`store.BINDING_COLUMNS`)
BindingRow = tuple[str, str, float, str, int, str, int, str, str, float | None, str | None, int | None]


# A plain class, not a dataclass: compiled by mypyc (setup.py) its __init__ is native, where a
# dataclass keeps the generated, interpreted one (~15x the cost; one per REGISTER or refresh).
class Binding:
    """One registered contact of a station (AOR = the station's SIP username at any domain);
    read-only, compared and hashed by value."""

    __slots__ = ("call_id", "contact", "cseq", "expires_at", "instance_id", "q", "reg_id", "source",
                 "transport", "user_agent", "username")

    def __init__(self, username: str, contact: str, expires_at: float, call_id: str, cseq: int,
                 source: tuple[str, int], transport: str, user_agent: str = "", q: float | None = None,
                 instance_id: str | None = None, reg_id: int | None = None) -> None:
        self.username: Final = username
        self.contact: Final = contact  # the Contact URI text as the phone sent it
        self.expires_at: Final = expires_at
        self.call_id: Final = call_id
        self.cseq: Final = cseq
        self.source: Final = source  # where the REGISTER came from: send to this behind a NAT
        self.transport: Final = transport  # "UDP" | "TCP" | "TLS"
        self.user_agent: Final = user_agent
        self.q: Final = q
        self.instance_id: Final = instance_id  # RFC 5626 +sip.instance, without the outer quotes
        self.reg_id: Final = reg_id  # RFC 5626 reg-id

    def _fields(self) -> tuple[object, ...]:
        return (self.username, self.contact, self.expires_at, self.call_id, self.cseq, self.source,
                self.transport, self.user_agent, self.q, self.instance_id, self.reg_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Binding) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "Binding" + repr(self._fields())

    def key(self) -> tuple[str, str]:
        """(username, contact): the identity the state store keys bindings by."""
        return (self.username, self.contact)

    def remaining(self, now: float) -> int:
        """Whole seconds left, for the `expires` parameter of a 200 Contact."""
        return max(0, round(self.expires_at - now))

    def to_row(self) -> BindingRow:
        """The state store's row (`store.BINDING_COLUMNS` order)."""
        return (self.username, self.contact, self.expires_at, self.call_id, self.cseq,
                self.source[0], self.source[1], self.transport, self.user_agent, self.q,
                self.instance_id, self.reg_id)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Binding:
        """The inverse of `to_row` (a row read back from the store)."""
        (username, contact, expires_at, call_id, cseq, host, port, transport, user_agent, q,
         instance_id, reg_id) = row
        return cls(
            username=str(username),
            contact=str(contact),
            expires_at=float(expires_at),
            call_id=str(call_id),
            cseq=int(cseq),
            source=(str(host), int(port)),
            transport=str(transport),
            user_agent=str(user_agent or ""),
            q=None if q is None else float(q),
            instance_id=None if instance_id is None else str(instance_id),
            reg_id=None if reg_id is None else int(reg_id),
        )


@dataclass(frozen=True, slots=True)
class RegisterResult:
    """The answer to a request, and what changed (for the state store)."""

    response: Response
    added_or_refreshed: tuple[Binding, ...] = ()
    removed: tuple[Binding, ...] = ()
    delay: float = 0.0  # send the response this many seconds later (throttled failure)
    drop: bool = False  # send nothing (blocked source)
    auth_failure: AuthFailure | None = None  # to log


# A plain class, not a dataclass: compiled by mypyc (setup.py) its __init__ is native, where a
# dataclass keeps the generated, interpreted one (~15x the cost; one of these per REGISTER).
class ScannedAnswer:
    """`register_scanned`'s answer: the response's bytes, and what changed (read-only)."""

    __slots__ = ("added_or_refreshed", "data", "removed")

    def __init__(self, data: bytes, added_or_refreshed: tuple[Binding, ...] = (),
                 removed: tuple[Binding, ...] = ()) -> None:
        self.data: Final = data
        self.added_or_refreshed: Final = added_or_refreshed
        self.removed: Final = removed

    def __repr__(self) -> str:
        return f"ScannedAnswer({self.data!r}, {self.added_or_refreshed!r}, {self.removed!r})"


def scanned_reply(scan: RegisterScan, status: str, to_tag: str | None, lines: str, server: str) -> bytes:
    """A response to a scanned REGISTER (RFC 3261 8.2.6.2, as `make_response` builds it):
    `status` is "code reason", `lines` the header lines between CSeq and Server."""
    to = scan.to if to_tag is None else f"{scan.to};tag={to_tag}"
    return (
        f"SIP/2.0 {status}\r\nVia: {scan.via}\r\nFrom: {scan.from_}\r\nTo: {to}\r\n"
        f"Call-ID: {scan.call_id}\r\nCSeq: {scan.cseq_text}\r\n{lines}"
        f"Server: {server}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def credentials_from_site(site: Site) -> dict[str, str]:
    """username -> password of every station of the site."""
    return {s.sip_username: s.sip_password for s in site.stations}


class _Reject(Exception):
    """Internal: abort a REGISTER with this status (never escapes the registrar)."""

    def __init__(
        self, status: int, reason: str | None = None, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        self.headers = headers


# RFC 3261 19.1.4: these URI parameters must match when either URI has them.
_STRICT_PARAMS = ("user", "ttl", "method", "maddr", "transport")


def uri_equivalent(a: SipURI, b: SipURI) -> bool:
    """RFC 3261 19.1.4 comparison of two SIP/SIPS URIs (the registrar's contact matching)."""
    if a.opaque is not None or b.opaque is not None or a.scheme == "tel" or b.scheme == "tel":
        return str(a) == str(b)
    if a.scheme != b.scheme or a.port != b.port or a.host.lower() != b.host.lower():
        return False
    if _unescape(a.user) != _unescape(b.user) or _unescape(a.password) != _unescape(b.password):
        return False
    pa = {n.lower(): (v or "").lower() for n, v in a.params}
    pb = {n.lower(): (v or "").lower() for n, v in b.params}
    for name in pa.keys() | pb.keys():
        if name in _STRICT_PARAMS or (name in pa and name in pb):
            if pa.get(name) != pb.get(name):
                return False
    ha = {(n.lower(), unquote(v)) for n, v in a.headers}
    hb = {(n.lower(), unquote(v)) for n, v in b.headers}
    return ha == hb


def _contact_value(b: Binding, now: float) -> str:
    """A binding as a 200's Contact value (RFC 3261 10.3 step 8: with its remaining time)."""
    value = f"<{b.contact}>;expires={b.remaining(now)}"
    if b.q is not None:
        value += f";q={b.q:g}"
    if b.instance_id is not None:
        value += f';+sip.instance="{b.instance_id}"'
    if b.reg_id is not None:
        value += f";reg-id={b.reg_id}"
    return value


def _uri_hosts(uri: str) -> Iterator[str]:
    """The host of a Request-URI text: a generator, so it is parsed only if the digest `uri`
    differs from the Request-URI."""
    try:
        host = parse_uri(uri).host
    except SipSyntaxError:
        return
    yield host


def _unescape(text: str | None) -> str | None:
    return None if text is None else unquote(text)


def _unquote_param(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _parse_expires(text: str) -> int:
    # RFC 3261 20.19: delta-seconds; a huge value is clamped later, garbage is a 400
    text = text.strip()
    if not text.isdigit() or not text.isascii():
        raise _Reject(400, "Invalid Expires")
    return int(text)


class Registrar:
    """Location service for the site's stations, with digest authentication and throttling."""

    def __init__(
        self,
        settings: SipSettings,
        credentials: Mapping[str, str],
        secret: bytes,
        *,
        local_hosts: Iterable[str] = (),
        max_contacts: int = 10,
        algorithms: Iterable[Algorithm] = (Algorithm.SHA256, Algorithm.MD5),
        offer_auth_int: bool = False,
        allow_no_qop: bool = True,
        throttle: AuthThrottle | None = None,
    ) -> None:
        self._settings = settings
        self._max_contacts = max_contacts
        self.auth = DigestAuthenticator(
            settings.realm,
            credentials,
            secret,
            settings.nonce_seconds,
            algorithms=algorithms,
            offer_auth_int=offer_auth_int,
            allow_no_qop=allow_no_qop,
            local_hosts=local_hosts,
        )
        self.throttle = throttle if throttle is not None else AuthThrottle.from_settings(settings)
        self._bindings: dict[str, dict[str, Binding]] = {}
        # Expiry heap with at most one live entry per binding: `_queued` holds the time each
        # (username, contact) is queued at, never later than the binding's expiry. A refresh
        # that pushes the expiry later leaves the entry alone; it is re-queued when it surfaces.
        self._expiry: list[tuple[float, str, str]] = []
        self._queued: dict[tuple[str, str], float] = {}
        self._date: tuple[int, str] = (-1, "")  # the Date header value of the current second

    # -- authentication --------------------------------------------------------------------

    def authenticate(
        self, request: Request, source: tuple[str, int], now: float
    ) -> str | RegisterResult:
        """The authenticated username, or the response to send instead (401, 400, or a drop).

        Unknown users and wrong passwords get the same fresh 401 challenge (no extension
        enumeration). Failures are counted per source host and per account, and slowed, then
        blocked; only credentials computed on a nonce issued to this source count (a forged,
        foreign, stale or replayed nonce gets a fresh challenge and no penalty: anyone can
        send one from a spoofed address). While the named account is held after failures,
        attempts on it from an address that is not its usual one are refused unchecked.
        """
        host = source[0]
        if self.throttle.blocked(host, now):
            return RegisterResult(self._reply(request, 403), drop=True)
        outcome = self.auth.check(
            request.method,
            request.uri,
            request.headers.get_all("Authorization"),
            now,
            body=request.body,
            domain_hosts=_uri_hosts(request.uri),
            source=host,
        )
        status = outcome.status
        if status is AuthStatus.NO_CREDENTIALS:
            return RegisterResult(self._challenge(request, host, now, stale=False))
        reason = outcome.reason
        if status is AuthStatus.STALE or reason in _NOT_A_GUESS:
            # RFC 7616 3.3: the nonce is not valid (here) any more; retry on a fresh one
            return RegisterResult(self._challenge(request, host, now, stale=True))
        username = outcome.username
        if reason is FailureReason.MALFORMED or reason is FailureReason.WRONG_REALM:
            # no nonce of ours was answered: not counted (a spoofed source could send it)
            failure = self._failure(request, source, username, reason, outcome.detail, now)
            if reason is FailureReason.MALFORMED:
                return RegisterResult(self._reply(request, 400, "Malformed Authorization"), auth_failure=failure)
            return RegisterResult(self._challenge(request, host, now, stale=False), auth_failure=failure)
        if (username and self.throttle.holding(now)
                and self.throttle.account_held(username, host, now, usual=self._usual(username, host, now))):
            # held after failures elsewhere: refused whatever the credentials are worth
            reason = FailureReason.ACCOUNT_HELD
        elif status is AuthStatus.OK:
            self.throttle.success(host, username, now)
            return username
        reason = reason or FailureReason.BAD_RESPONSE
        failure = self._failure(request, source, username, reason, outcome.detail, now)
        response = self._challenge(request, host, now, stale=False)
        # an account held is not counted again on it (the source is): the hold is not prolonged
        # by refusals, which the real phone's own retries from a new address could cause
        counted_account = None if reason is FailureReason.ACCOUNT_HELD else username or None
        verdict = self.throttle.failure(host, now, counted_account)
        return RegisterResult(
            response,
            delay=verdict.delay,
            drop=verdict.action is ThrottleAction.BLOCK,
            auth_failure=failure,
        )

    def _failure(self, request: Request, source: tuple[str, int], username: str, reason: FailureReason,
                 detail: str, now: float) -> AuthFailure:
        """The refused authentication, for the log (the peer never sees the reason)."""
        return AuthFailure(
            source=source,
            username=username,
            reason=reason.value + (f" ({detail})" if detail else ""),
            call_id=request.call_id or "",
            method=request.method,
            at=now,
        )

    def _usual(self, username: str, host: str, now: float) -> bool:
        """Whether `host` is where one of `username`'s live bindings registered from."""
        return any(b.source[0] == host and b.expires_at > now
                   for b in self._bindings.get(username, {}).values())

    def unauthenticated(self, request: Request, source: tuple[str, int], now: float) -> RegisterResult:
        """The 401 for a request other than REGISTER that carries no credentials (an INVITE),
        counted toward the source's throttle (`AuthThrottle.unauthenticated`): dropped once
        the source is blocked."""
        verdict = self.throttle.unauthenticated(source[0], now)
        if verdict.action is ThrottleAction.BLOCK:
            return RegisterResult(self._reply(request, 403), drop=True)
        return RegisterResult(self._challenge(request, source[0], now, stale=False), delay=verdict.delay)

    def first_challenge(self, request: Request, source: tuple[str, int], now: float) -> Response | None:
        """The 401 for a REGISTER that carries no credentials (what `handle_register` answers
        it, without the bookkeeping objects); None when something else applies: credentials
        present, a blocked source, a `Require` (420 comes first, RFC 3261 10.3 step 2)."""
        if (
            "Authorization" in request.headers
            or "Require" in request.headers
            or self.throttle.blocked(source[0], now)
        ):
            return None
        return self._challenge(request, source[0], now, stale=False)

    def _challenge(self, request: Request, host: str, now: float, *, stale: bool) -> Response:
        response = self._reply(request, 401)
        for value in self.auth.challenges(now, stale=stale, source=host):
            response.headers.add("WWW-Authenticate", value)
        return response

    def _reply(self, request: Request, status: int, reason: str | None = None) -> Response:
        return make_response(request, status, reason, to_tag=new_tag())

    # -- REGISTER --------------------------------------------------------------------------

    def handle_register(
        self, request: Request, source: tuple[str, int], transport: str, now: float
    ) -> RegisterResult:
        """Process one REGISTER (RFC 3261 10.3) arriving from `source` over `transport`."""
        if self.throttle.blocked(source[0], now):
            return RegisterResult(self._reply(request, 403), drop=True)
        unsupported = self._unsupported(request)
        if unsupported:
            # RFC 3261 10.3 step 2 / 8.2.2.3
            response = self._reply(request, 420)
            response.headers.add("Unsupported", ", ".join(unsupported))
            return RegisterResult(response)
        auth = self.authenticate(request, source, now)
        if isinstance(auth, RegisterResult):
            return auth
        try:
            return self._register(request, auth, source, transport.upper(), now)
        except _Reject as reject:
            response = self._reply(request, reject.status, reject.reason)
            for name, value in reject.headers:
                response.headers.add(name, value)
            return RegisterResult(response)

    def _unsupported(self, request: Request) -> list[str]:
        if "Require" not in request.headers:  # the usual REGISTER: one scan, no lists
            return []
        tags = [t.strip() for t in request.headers.get_all("Require")]
        return [t for t in tags if t and t.lower() not in SUPPORTED_OPTIONS]

    def _register(
        self, request: Request, username: str, source: tuple[str, int], transport: str, now: float
    ) -> RegisterResult:
        try:
            to = request.to_addr
            cseq = request.cseq
        except SipSyntaxError as exc:
            raise _Reject(400, str(exc)) from exc
        call_id = request.call_id
        if to is None or cseq is None or not call_id:
            raise _Reject(400, "Missing To, Call-ID or CSeq")
        # RFC 3261 10.3 step 3: only the station itself may change its bindings
        if to.uri.scheme not in ("sip", "sips") or _unescape(to.uri.user) != username:
            raise _Reject(403)
        header_expires = request.headers.get("Expires")
        default = self._settings.default_expires
        if header_expires is not None:
            default = _parse_expires(header_expires)
        raw_contacts = request.headers.get_all("Contact")
        current = self._current(username, now)
        if any(c.strip() == "*" for c in raw_contacts):
            return self._unregister_all(request, username, current, call_id, cseq[0], now)
        if not raw_contacts:
            # RFC 3261 10.3 step 8: a query; the bindings are listed unchanged
            return RegisterResult(self._ok(request, current.values(), now))
        contacts: list[NameAddr] = []
        for text in raw_contacts:
            try:
                contacts.append(parse_name_addr(text))
            except SipSyntaxError as exc:
                raise _Reject(400, "Invalid Contact") from exc
        user_agent = request.headers.get("User-Agent") or ""
        wanted = [
            self._proposed(c, username, default, call_id, cseq[0], source, transport, user_agent, now)
            for c in contacts
        ]
        return self._apply(request, username, current, wanted, now)

    def _current(self, username: str, now: float) -> dict[str, Binding]:
        """A copy of the station's bindings still unexpired at `now`, by contact."""
        current = dict(self._bindings.get(username, {}))
        for contact, b in list(current.items()):
            if b.expires_at <= now:
                del current[contact]
        return current

    # -- the quick path for a plain REGISTER -----------------------------------------------

    def register_scanned(
        self, scan: RegisterScan, source: tuple[str, int], now: float, *, server: str
    ) -> ScannedAnswer | None:
        """Answer a REGISTER read by `scan_register` as `handle_register` answers the parsed
        request, straight to bytes with `server` as the Server header.

        None, with nothing changed, when the source is blocked or the credentials do not pass
        (a failure is counted, slowed and logged the general way): the request then goes
        through `parse_message` and `handle_register`. Once the credentials pass (their nonce
        count is spent), every outcome is answered here, in the general path's order of checks.
        """
        host = source[0]
        if self.throttle.blocked(host, now):
            return None
        to = parse_name_addr(scan.to)  # the scan checked it is plain: it parses
        tag = None if to.tag is not None else new_tag()
        authorization = scan.authorization
        if authorization is None:
            lines = "".join([f"WWW-Authenticate: {v}\r\n" for v in self.auth.challenges(now, source=host)])
            return ScannedAnswer(scanned_reply(scan, "401 Unauthorized", tag, lines, server))
        if self.throttle.holding(now):
            return None  # an account may be held: the general way decides
        outcome = self.auth.check(
            "REGISTER", scan.uri, (authorization,), now, domain_hosts=_uri_hosts(scan.uri), source=host
        )
        if outcome.status is not AuthStatus.OK:
            return None
        username = outcome.username
        self.throttle.success(host, username, now)
        try:
            # RFC 3261 10.3 step 3: only the station itself may change its bindings
            if to.uri.scheme not in ("sip", "sips") or _unescape(to.uri.user) != username:
                raise _Reject(403)
            default = self._settings.default_expires
            if scan.expires is not None:
                default = _parse_expires(scan.expires)
            current = self._current(username, now)
            if scan.contact is None:  # RFC 3261 10.3 step 8: a query
                added: tuple[Binding, ...] = ()
                removed: tuple[Binding, ...] = ()
            else:
                wanted = self._proposed(
                    parse_name_addr(scan.contact), username, default, scan.call_id, scan.cseq,
                    source, "UDP", scan.user_agent, now,
                )
                added, removed = self._update(username, current, [wanted], now)
        except _Reject as reject:
            status = f"{reject.status} {reject.reason or reason_phrase(reject.status)}"
            lines = "".join([f"{name}: {value}\r\n" for name, value in reject.headers])
            return ScannedAnswer(scanned_reply(scan, status, tag, lines, server))
        lines = "".join([f"Contact: {_contact_value(b, now)}\r\n" for b in current.values()])
        lines += f"Date: {self._date_value(now)}\r\n"
        return ScannedAnswer(scanned_reply(scan, "200 OK", tag, lines, server), added, removed)

    def _proposed(
        self,
        contact: NameAddr,
        username: str,
        default: int,
        call_id: str,
        cseq: int,
        source: tuple[str, int],
        transport: str,
        user_agent: str,
        now: float,
    ) -> Binding:
        """The binding a Contact asks for (expires_at == now means remove it)."""
        if contact.uri.scheme not in ("sip", "sips"):
            raise _Reject(400, "Unsupported Contact URI scheme")
        # the parameters this step reads, in one pass (most contacts carry none or expires only)
        param: str | None = None
        q_text = instance = reg_id_text = None
        for name, value in contact.params:
            name = name.lower()
            value = "" if value is None else value  # a flag reads as "" (NameAddr.param)
            if name == "expires":
                param = value if param is None else param
            elif name == "q":
                q_text = value if q_text is None else q_text
            elif name == "+sip.instance":
                instance = value if instance is None else instance
            elif name == "reg-id":
                reg_id_text = value if reg_id_text is None else reg_id_text
        expires = default if param is None else _parse_expires(param)
        if 0 < expires < self._settings.min_expires:
            # RFC 3261 10.3 step 7 / 20.23: 423 with Min-Expires
            raise _Reject(423, None, (("Min-Expires", str(self._settings.min_expires)),))
        expires = min(expires, self._settings.max_expires)
        q: float | None = None
        if q_text is not None:
            try:
                q = float(q_text)
            except ValueError as exc:
                raise _Reject(400, "Invalid q") from exc
            if not 0.0 <= q <= 1.0 or math.isnan(q):
                raise _Reject(400, "Invalid q")
        reg_id: int | None = None
        if reg_id_text is not None:
            if not reg_id_text.isdigit() or not reg_id_text.isascii():
                raise _Reject(400, "Invalid reg-id")
            reg_id = int(reg_id_text)
        return Binding(
            username=username,
            contact=str(contact.uri),
            expires_at=now + expires,
            call_id=call_id,
            cseq=cseq,
            source=source,
            transport=transport,
            user_agent=user_agent,
            q=q,
            instance_id=None if instance is None else _unquote_param(instance),
            reg_id=reg_id,
        )

    def _matching(self, current: Mapping[str, Binding], wanted: Binding) -> Binding | None:
        # RFC 5626 6: with +sip.instance and reg-id the pair identifies the binding;
        # otherwise RFC 3261 10.3 step 7 URI comparison
        if wanted.instance_id is not None and wanted.reg_id is not None:
            for b in current.values():
                if b.instance_id == wanted.instance_id and b.reg_id == wanted.reg_id:
                    return b
        if wanted.contact in current:
            return current[wanted.contact]
        uri = parse_uri(wanted.contact)
        for b in current.values():
            if uri_equivalent(uri, parse_uri(b.contact)):
                return b
        return None

    def _apply(
        self,
        request: Request,
        username: str,
        current: dict[str, Binding],
        wanted: list[Binding],
        now: float,
    ) -> RegisterResult:
        added, removed = self._update(username, current, wanted, now)
        return RegisterResult(
            self._ok(request, current.values(), now), added_or_refreshed=added, removed=removed
        )

    def _update(
        self, username: str, current: dict[str, Binding], wanted: list[Binding], now: float
    ) -> tuple[tuple[Binding, ...], tuple[Binding, ...]]:
        """RFC 3261 10.3 step 7: apply `wanted` to the station's `current` bindings (left as
        the new set) and commit; (added or refreshed, removed). Raises _Reject, changing
        nothing, when the update must abort."""
        stored = dict(current)
        added: dict[str, Binding] = {}
        removed: dict[str, Binding] = {}
        for w in wanted:
            old = self._matching(stored, w)
            if old is not None:
                # RFC 3261 10.3 step 7: same Call-ID needs a higher CSeq, else the update aborts;
                # the RFC names no status, its commit-failure rule (end of step 7) says 500
                if old.call_id == w.call_id and w.cseq <= old.cseq:
                    raise _Reject(500, "Out of order REGISTER")
                current.pop(old.contact, None)
                if old.contact != w.contact or w.expires_at <= now:
                    removed[old.contact] = old
            if w.expires_at > now:
                current[w.contact] = w
                added[w.contact] = w
                removed.pop(w.contact, None)
            else:
                added.pop(w.contact, None)
        if len(current) > self._max_contacts:
            # a phone that changed address without unregistering: drop the soonest to expire
            for b in sorted(current.values(), key=lambda b: b.expires_at):
                if len(current) <= self._max_contacts:
                    break
                if b.contact in added:
                    continue
                del current[b.contact]
                removed[b.contact] = b
            if len(current) > self._max_contacts:
                raise _Reject(403, "Too many contacts")
        self._commit(username, current, added.values())
        return tuple(added.values()), tuple(b for c, b in removed.items() if c not in current)

    def _unregister_all(
        self,
        request: Request,
        username: str,
        current: dict[str, Binding],
        call_id: str,
        cseq: int,
        now: float,
    ) -> RegisterResult:
        # RFC 3261 10.3 step 6: "*" only alone and with Expires: 0
        expires = request.headers.get("Expires")
        if len(request.headers.get_all("Contact")) != 1 or expires is None or expires.strip() != "0":
            raise _Reject(400, "Invalid wildcard Contact")
        for b in current.values():
            if b.call_id == call_id and cseq <= b.cseq:
                raise _Reject(500, "Out of order REGISTER")
        removed = tuple(current.values())
        self._commit(username, {}, ())
        return RegisterResult(self._ok(request, (), now), removed=removed)

    def _commit(self, username: str, bindings: dict[str, Binding], added: Iterable[Binding]) -> None:
        if bindings:
            self._bindings[username] = bindings
        else:
            self._bindings.pop(username, None)
        for b in added:
            self._queue(b)

    def _queue(self, b: Binding) -> None:
        key = (b.username, b.contact)
        queued = self._queued.get(key)
        if queued is None or b.expires_at < queued:
            self._queued[key] = b.expires_at
            heapq.heappush(self._expiry, (b.expires_at, b.username, b.contact))

    def _ok(self, request: Request, bindings: Iterable[Binding], now: float) -> Response:
        # RFC 3261 10.3 step 8: every current binding with its remaining time, and a Date
        response = self._reply(request, 200)
        for b in bindings:
            response.headers.add("Contact", _contact_value(b, now))
        response.headers.add("Date", self._date_value(now))
        return response

    def _date_value(self, now: float) -> str:
        second = int(now)
        if self._date[0] != second:  # RFC 3261 20.17: whole seconds, formatted once per second
            self._date = (second, formatdate(second, usegmt=True))
        return self._date[1]

    # -- queries, restore and expiry -------------------------------------------------------

    def bindings(self, username: str, now: float) -> list[Binding]:
        """The station's unexpired bindings."""
        return [b for b in self._bindings.get(username, {}).values() if b.expires_at > now]

    def all_bindings(self, now: float) -> list[Binding]:
        """Every unexpired binding."""
        return [b for user in self._bindings.values() for b in user.values() if b.expires_at > now]

    def restore(self, bindings: Iterable[Binding], now: float) -> None:
        """Load bindings saved by the state store; expired ones are dropped."""
        for b in bindings:
            if b.expires_at <= now:
                continue
            self._bindings.setdefault(b.username, {})[b.contact] = b
            self._queue(b)

    def _settle_top(self) -> tuple[float, str, str] | None:
        """The heap's first entry once it is live and exact (due when its binding expires)."""
        heap = self._expiry
        while heap:
            entry = heap[0]
            at, username, contact = entry
            key = (username, contact)
            if self._queued.get(key) != at:  # superseded by an earlier entry
                heapq.heappop(heap)
                continue
            b = self._bindings.get(username, {}).get(contact)
            if b is None:  # removed meanwhile
                heapq.heappop(heap)
                del self._queued[key]
                continue
            if b.expires_at != at:  # refreshed since it was queued: queue it at its new time
                heapq.heapreplace(heap, (b.expires_at, username, contact))
                self._queued[key] = b.expires_at
                continue
            return entry
        return None

    def next_expiry(self) -> float | None:
        """When the next binding expires (arm a timer for it), None without bindings."""
        entry = self._settle_top()
        return None if entry is None else entry[0]

    def expire(self, now: float) -> list[Binding]:
        """Remove and return the bindings whose time is up at `now`."""
        gone: list[Binding] = []
        while True:
            entry = self._settle_top()
            if entry is None or entry[0] > now:
                return gone
            heapq.heappop(self._expiry)
            _, username, contact = entry
            del self._queued[(username, contact)]
            user = self._bindings[username]
            gone.append(user.pop(contact))
            if not user:
                del self._bindings[username]

    def set_credentials(self, credentials: Mapping[str, str]) -> None:
        """Swap the credential table (a site reload); bindings and nonces stay valid."""
        self.auth.credentials = credentials
