"""HTTP digest authentication for SIP (RFC 7616, RFC 8760, RFC 2617/2069 compatibility).

Theory of operation: the server offers one challenge per algorithm (SHA-256 first, then MD5,
RFC 8760 section 2.4) with one shared nonce. Nonces are stateless: a timestamp and a serial
signed with a keyed MAC over them and the source host the challenge went to, so any nonce we
issued verifies without a table, only from the host it was issued to, and expires after
`nonce_seconds`. A nonce that does not verify for the request's source (forged, or issued to
another host) proves nothing about the sender, so it is never counted as a guess. Only the highest nonce-count seen per nonce is kept, in a bounded table that
evicts the nonce issued first; a nonce issued no later than an evicted one and not in the table
is answered as stale, which makes the client re-authenticate with a fresh nonce rather than
open a replay window. Every allowance made for old clients is listed in
`docs/interop.md`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import re
import secrets
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final, NamedTuple
from urllib.parse import unquote


class Algorithm(Enum):
    """Digest algorithms (RFC 7616 section 3.3, RFC 8760); value is the token on the wire."""

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA256 = "SHA-256"
    SHA256_SESS = "SHA-256-sess"

    @property
    def session(self) -> bool:
        """Whether A1 includes the nonce and cnonce (the `-sess` variants)."""
        return self in _SESSION

    def hash(self, data: bytes) -> str:
        """H(data) as lower-case hex."""
        return _HEX_DIGEST[self](data)

    @classmethod
    def from_token(cls, token: str | None) -> Algorithm | None:
        """The algorithm named by `token` (case-insensitive); absent means MD5 (RFC 7616 3.3)."""
        if token is None:
            return cls.MD5
        return _ALGORITHMS.get(token.lower())


_ALGORITHMS = {a.value.lower(): a for a in Algorithm}
_SESSION = frozenset((Algorithm.MD5_SESS, Algorithm.SHA256_SESS))


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# H of each algorithm, looked up once per use rather than decided by comparisons
_HEX_DIGEST: dict[Algorithm, Callable[[bytes], str]] = {
    Algorithm.MD5: _md5_hex,
    Algorithm.MD5_SESS: _md5_hex,
    Algorithm.SHA256: _sha256_hex,
    Algorithm.SHA256_SESS: _sha256_hex,
}


class Qop(StrEnum):
    """Quality of protection (RFC 7616 section 3.3)."""

    AUTH = "auth"
    AUTH_INT = "auth-int"


_QOPS = {q.value: q for q in Qop}


@dataclass(frozen=True, slots=True)
class AuthParseError:
    """An Authorization header that is not a well-formed digest credential; never raised."""

    reason: str


class DigestCredentials(NamedTuple):
    """The parameters of one `Authorization: Digest ...` header (RFC 7616 section 3.4); a named
    tuple, as `check` unpacks one per request."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: Algorithm
    qop: Qop | None = None
    nc: str | None = None  # as sent (8 hex digits): the hash uses the text
    cnonce: str | None = None
    opaque: str | None = None
    userhash: bool = False

    @property
    def nonce_count(self) -> int | None:
        """`nc` as a number, None without qop."""
        return None if self.nc is None else int(self.nc, 16)


# -- parsing -----------------------------------------------------------------------------

_TOKEN_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
)
_HEX_DIGITS = "0123456789abcdefABCDEF"
_MAX_HEADER = 4096


# One auth-param and the separator after it, as `_parse_auth_params_slow` reads them. Every
# quantifier is possessive: a parameter matches in one way at most, so `split` finds exactly the
# parameters the character-wise loop would, and malformed input costs no backtracking.
_AUTH_PARAM = re.compile(
    r'[ \t\r\n,]*+([A-Za-z0-9\-.!%*_+`\'~]++)[ \t]*+=[ \t]*+'
    r'(?:"([^"\\]*+(?:\\.[^"\\]*+)*+)"|([A-Za-z0-9\-.!%*_+`\'~]++))[ \t\r\n]*+(?:,|\Z)',
    re.DOTALL,
)
_SEPARATORS = " \t\r\n,"
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def parse_auth_params(text: str) -> dict[str, str] | AuthParseError:
    """`name=value, name="quoted \\"value\\""` -> {lower-case name: unquoted value}.

    RFC 7235 section 2.1 auth-param list: LWS around `=` and `,` allowed, empty list elements
    skipped, quoted-string with backslash escapes, a name twice is an error.
    """
    # fast path: one C-level `split` gives [gap, name, quoted, token, gap, ...]; with every gap
    # empty and only separators after the last parameter, that is the whole list. Anything
    # unusual goes the character-wise way, which also names the defect.
    parts = _AUTH_PARAM.split(text)
    if parts[-1].strip(_SEPARATORS) or any(parts[0:-1:4]):
        return _parse_auth_params_slow(text)
    params: dict[str, str] = {}
    for name, quoted, token in zip(parts[1::4], parts[2::4], parts[3::4], strict=True):
        name = name.lower()
        if name in params:
            return _parse_auth_params_slow(text)
        if quoted is None:
            params[name] = token
        else:
            params[name] = _QUOTED_PAIR.sub(r"\1", quoted) if "\\" in quoted else quoted
    return params


def _parse_auth_params_slow(text: str) -> dict[str, str] | AuthParseError:
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            return params
        start = i
        while i < n and text[i] in _TOKEN_CHARS:
            i += 1
        name = text[start:i].lower()
        if not name:
            return AuthParseError(f"Bad character {text[i]!r} in Authorization")
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] != "=":
            return AuthParseError(f"Missing '=' after {name} in Authorization")
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    return AuthParseError(f"Unterminated quoted {name} in Authorization")
                c = text[i]
                if c == "\\":
                    if i + 1 >= n:
                        return AuthParseError(f"Unterminated quoted {name} in Authorization")
                    chars.append(text[i + 1])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            value = "".join(chars)
        else:
            start = i
            while i < n and text[i] in _TOKEN_CHARS:
                i += 1
            value = text[start:i]
            if not value:
                return AuthParseError(f"Empty {name} in Authorization")
        if name in params:
            return AuthParseError(f"Duplicate {name} in Authorization")
        params[name] = value
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i < n and text[i] != ",":
            return AuthParseError(f"Missing ',' after {name} in Authorization")


def _ext_value(value: str) -> str | None:
    """RFC 8187 ext-value `UTF-8''percent-encoded` (RFC 7616 username*), None if malformed."""
    charset, sep, rest = value.partition("'")
    _lang, sep2, encoded = rest.partition("'")
    if not sep or not sep2 or charset.lower() != "utf-8":
        return None
    try:
        return unquote(encoded, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def parse_authorization(value: str) -> DigestCredentials | AuthParseError:
    """Parse one Authorization (or Proxy-Authorization) header value; never raises."""
    return _parse_credentials(value)


def _parse_credentials(value: str) -> DigestCredentials | AuthParseError:
    if len(value) > _MAX_HEADER:
        return AuthParseError("Authorization too long")
    parts = value.strip().split(None, 1)
    scheme, rest = (parts[0], parts[1]) if len(parts) == 2 else ((parts or [""])[0], "")
    if scheme.lower() != "digest":
        return AuthParseError(f"Not a Digest credential ({scheme[:20]!r})")
    params = parse_auth_params(rest)
    if isinstance(params, AuthParseError):
        return params
    get = params.get
    username = get("username")
    if username is None and "username*" in params:
        username = _ext_value(params["username*"])
        if username is None:
            return AuthParseError("Malformed username* in Authorization")
    if username is None:
        return AuthParseError("Missing username in Authorization")
    realm, nonce, uri, response = get("realm"), get("nonce"), get("uri"), get("response")
    if realm is None or nonce is None or uri is None or response is None:
        missing = [k for k in ("realm", "nonce", "uri", "response") if k not in params]
        return AuthParseError(f"Missing {missing[0]} in Authorization")
    algorithm = Algorithm.from_token(get("algorithm"))
    if algorithm is None:
        return AuthParseError("Unsupported algorithm in Authorization")
    qop_text = get("qop")
    qop: Qop | None = None
    nc = cnonce = None
    if qop_text is not None:
        qop = _QOPS.get(qop_text.lower())
        if qop is None:
            return AuthParseError("Unsupported qop in Authorization")
        nc, cnonce = get("nc"), get("cnonce")
        if nc is None or cnonce is None:
            return AuthParseError("qop without nc or cnonce in Authorization")
        if not 0 < len(nc) <= 16 or nc.strip(_HEX_DIGITS):
            return AuthParseError("Malformed nc in Authorization")
    elif algorithm in _SESSION:
        cnonce = get("cnonce")
        if cnonce is None:
            return AuthParseError("Session algorithm without cnonce in Authorization")
    userhash = get("userhash")
    return DigestCredentials(
        username,
        realm,
        nonce,
        uri,
        response.lower(),
        algorithm,
        qop,
        nc,
        cnonce,
        get("opaque"),
        userhash is not None and userhash.lower() == "true",
    )


# -- the computation ---------------------------------------------------------------------


def digest_response(
    *,
    algorithm: Algorithm,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: Qop | None = None,
    nc: str = "",
    cnonce: str = "",
    body: bytes = b"",
) -> str:
    """The `response` value a client with this password sends (RFC 7616 3.4.1, RFC 2617 3.2.2)."""
    ha1 = _HEX_DIGEST[algorithm](f"{username}:{realm}:{password}".encode())
    return _response(algorithm, ha1, method, uri, nonce, qop, nc, cnonce, body)


def _response(
    algorithm: Algorithm,
    ha1: str,
    method: str,
    uri: str,
    nonce: str,
    qop: Qop | None,
    nc: str,
    cnonce: str,
    body: bytes,
) -> str:
    """`digest_response` from H(username:realm:password), which the server keeps per user."""
    h = _HEX_DIGEST[algorithm]
    if algorithm in _SESSION:
        # RFC 7616 3.4.2: A1 = H(user:realm:passwd):nonce:cnonce for the -sess variants
        ha1 = h(f"{ha1}:{nonce}:{cnonce}".encode())
    if qop is Qop.AUTH_INT:
        ha2 = h(f"{method}:{uri}:{h(body)}".encode())
    else:
        ha2 = h(f"{method}:{uri}".encode())
    if qop is None:
        # RFC 2069 / RFC 2617 3.2.2.1 without qop: KD(H(A1), nonce:H(A2))
        return h(f"{ha1}:{nonce}:{ha2}".encode())
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop.value}:{ha2}".encode())


# -- nonces ------------------------------------------------------------------------------


class NonceState(Enum):
    """What a nonce is worth when it comes back."""

    FRESH = "fresh"
    STALE = "stale"  # ours, but too old (or pushed out of the nonce-count table)
    FORGED = "forged"  # not ours


_NONCE_BODY = struct.Struct(">QQ")  # issue time in ms, serial
_TAG_BYTES = 16
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class NonceSigner:
    """Stateless nonces: base64url(time_ms | serial | MAC(time_ms | serial | source host)), a
    16-byte keyed BLAKE2b MAC (RFC 7693 keyed mode: a MAC by design, a third of HMAC-SHA256's
    cost). The host is not in the nonce, only in the MAC: a nonce verifies only for the host
    it was issued to, so credentials on it come from someone who got our challenge there.

    The serial makes each nonce unique: a counter from a random start, not 8 fresh random bytes
    per challenge (a getrandom call was 3% of a registration). Nothing rests on it being
    unpredictable: the tag makes nonces unforgeable and the nonce-count table stops replays."""

    def __init__(self, secret: bytes, lifetime: float) -> None:
        if len(secret) < 16:
            raise ValueError("nonce secret must be at least 16 bytes")
        key = hashlib.sha256(b"acdgate nonce\x00" + secret).digest()
        # the keyed state after the key block; copying it skips hashing the key per nonce
        self._mac = hashlib.blake2b(key=key, digest_size=_TAG_BYTES)
        self._lifetime = lifetime
        self._serial = int.from_bytes(secrets.token_bytes(8), "big")
        self.opaque = base64.urlsafe_b64encode(
            hmac.new(secret, b"acdgate opaque", hashlib.sha256).digest()[:12]
        ).decode()

    def make(self, now: float, source: str = "") -> str:
        """A new nonce issued at `now` to the host `source`."""
        self._serial = serial = (self._serial + 1) & 0xFFFFFFFFFFFFFFFF
        body = _NONCE_BODY.pack(max(0, int(now * 1000)), serial)
        mac = self._mac.copy()
        mac.update(body)
        mac.update(source.encode())
        # base64url without padding (RFC 4648 section 5): 32 bytes are 43 characters
        text = binascii.b2a_base64(body + mac.digest(), newline=False).translate(_TO_URLSAFE)
        return text[:43].decode()

    def issued_at(self, nonce: str, source: str = "") -> float | None:
        """When we issued `nonce` to the host `source`, None if it is not one of ours for it."""
        if len(nonce) != 43:  # 32 bytes, unpadded base64
            return None
        try:
            # what base64.urlsafe_b64decode does, without its two Python-level steps
            raw = binascii.a2b_base64((nonce + "=").encode("ascii").translate(_FROM_URLSAFE))
        except ValueError:  # non-ASCII (UnicodeEncodeError) or bad padding (binascii.Error)
            return None
        body, tag = raw[: _NONCE_BODY.size], raw[_NONCE_BODY.size :]
        mac = self._mac.copy()
        mac.update(body)
        mac.update(source.encode())
        if not hmac.compare_digest(tag, mac.digest()):
            return None
        millis, _ = _NONCE_BODY.unpack(body)
        return float(millis) / 1000.0

    def state(self, nonce: str, now: float, source: str = "") -> NonceState:
        """FRESH, STALE (older than the lifetime, or from the future), or FORGED (not ours, or
        not issued to `source`)."""
        issued = self.issued_at(nonce, source)
        if issued is None:
            return NonceState.FORGED
        return self.freshness(issued, now)

    def freshness(self, issued: float, now: float) -> NonceState:
        """FRESH or STALE for a nonce of ours issued at `issued` (from `issued_at`)."""
        if issued > now + 1.0 or now - issued > self._lifetime:
            return NonceState.STALE
        return NonceState.FRESH


class NonceCounts:
    """Highest nonce-count seen per nonce, bounded (RFC 7616 3.4: reject nc not increasing).

    Each entry keeps its nonce's issue time; when the table is full the nonce issued first is
    evicted and `evicted_up_to` rises to *its* issue time. Nonces issued later than every
    evicted one are still judged by the table, so answers arriving out of issue order (many
    clients in flight) are not refused; an unknown nonce issued at or before `evicted_up_to`
    may have lost its history and must be refreshed (stale) rather than trusted.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._seen: dict[str, int] = {}
        self._by_issue: list[tuple[float, str]] = []  # heap: the first issued is evicted first
        self.evicted_up_to = float("-inf")  # nonces issued at or before this may have been evicted

    def advance(self, nonce: str, issued_at: float, nc: int) -> bool:
        """Record `nc` for `nonce` (issued at `issued_at`); False for a replayed or decreasing count."""
        seen = self._seen
        last = seen.get(nonce)
        if last is not None:
            if nc <= last:
                return False
            seen[nonce] = nc
            return True
        seen[nonce] = nc
        heapq.heappush(self._by_issue, (issued_at, nonce))
        while len(seen) > self._capacity:
            evicted_at, evicted = heapq.heappop(self._by_issue)
            del seen[evicted]
            # the evicted nonce's history is lost: callers refuse nonces this old as stale
            if evicted_at > self.evicted_up_to:
                self.evicted_up_to = evicted_at
        return True

    def known(self, nonce: str) -> bool:
        """Whether `nonce` is still in the table."""
        return nonce in self._seen

    def __len__(self) -> int:
        return len(self._seen)


# -- the server side ---------------------------------------------------------------------


class AuthStatus(Enum):
    """The outcome of checking a request's credentials."""

    OK = "ok"
    NO_CREDENTIALS = "no-credentials"  # nothing for our realm: challenge, not a failure
    STALE = "stale"  # correct response, old nonce: challenge with stale=true
    FAILED = "failed"


class FailureReason(StrEnum):
    """Why credentials were refused (for the log; the peer always gets the same answer)."""

    MALFORMED = "malformed-authorization"
    WRONG_REALM = "wrong-realm"
    FORGED_NONCE = "forged-nonce"  # not ours, or issued to another host: not a guess
    BAD_OPAQUE = "bad-opaque"
    URI_MISMATCH = "uri-mismatch"
    UNKNOWN_USER = "unknown-user"
    BAD_RESPONSE = "bad-response"
    NONCE_REPLAY = "nonce-count-replay"  # a copy of a good answer: not a guess
    QOP_REQUIRED = "qop-required"
    ACCOUNT_HELD = "account-held"  # the account is held after failures (gateway.auth.throttle)


# A plain class, not a dataclass: compiled by mypyc (setup.py) its __init__ is native, where a
# dataclass keeps the generated, interpreted one (~15x the cost; one of these per REGISTER).
class AuthOutcome:
    """What `DigestAuthenticator.check` found (read-only)."""

    __slots__ = ("detail", "reason", "status", "username")

    def __init__(self, status: AuthStatus, username: str = "", reason: FailureReason | None = None,
                 detail: str = "") -> None:
        self.status: Final = status
        self.username: Final = username
        self.reason: Final = reason
        self.detail: Final = detail

    def __repr__(self) -> str:
        return f"AuthOutcome({self.status}, {self.username!r}, {self.reason}, {self.detail!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthOutcome) and (
            (self.status, self.username, self.reason, self.detail)
            == (other.status, other.username, other.reason, other.detail))

    def __hash__(self) -> int:
        return hash((self.status, self.username, self.reason, self.detail))


def _uri_host(uri: str) -> str | None:
    """The host part of a sip:/sips: URI text, lower-case; None if there is none."""
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return None
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    hostport = rest.rsplit("@", 1)[-1]
    if hostport.startswith("["):
        end = hostport.find("]")
        return hostport[: end + 1].lower() if end > 0 else None
    return hostport.split(":", 1)[0].lower() or None


class DigestAuthenticator:
    """Issues challenges and checks credentials for one realm; sans-IO, time is `now`.

    H(username:realm:password) of every user is computed when the credential table is set
    (RFC 7616 5.2: a server may store it instead of the password), so a check hashes only
    what depends on the request; unknown users get a random H(A1) of the same length, so
    they cost the same work as known ones.
    """

    def __init__(
        self,
        realm: str,
        credentials: Mapping[str, str],
        secret: bytes,
        nonce_seconds: float,
        *,
        algorithms: Iterable[Algorithm] = (Algorithm.SHA256, Algorithm.MD5),
        offer_auth_int: bool = False,
        allow_no_qop: bool = True,
        local_hosts: Iterable[str] = (),
        # nonces whose counts are kept. A nonce answered after more than a table's worth of
        # later-issued nonces were answered is stale: at 3000 registrations/s with answers
        # seconds late (overload) 4096 made late answers stale, and at 25,600/s, answers up to
        # 4 s late, 32768 did (1,172 of 50,000). 131072 covers ~5 s there; ~250 bytes an entry
        nonce_table_size: int = 131072,
    ) -> None:
        self._nonces = NonceSigner(secret, nonce_seconds)
        self._counts = NonceCounts(nonce_table_size)
        self._algorithms = tuple(algorithms)
        self._qop_offer = "auth,auth-int" if offer_auth_int else "auth"
        self._allow_no_qop = allow_no_qop
        self._local_hosts = frozenset(h.lower() for h in local_hosts)
        # the H(A1) compared against for unknown users, so they cost the same work
        self._decoy_ha1 = {alg: _HEX_DIGEST[alg](secrets.token_bytes(16)) for alg in Algorithm}
        self._credentials = credentials
        self.realm = realm  # also hashes the credentials and prepares the challenges

    @property
    def realm(self) -> str:
        """The protection space we authenticate for (RFC 7616 3.3)."""
        return self._realm

    @realm.setter
    def realm(self, realm: str) -> None:
        self._realm = realm
        self._prepare_challenges()
        self._hash_credentials()

    @property
    def credentials(self) -> Mapping[str, str]:
        """username -> password; assigning a new table (a site reload) rehashes it."""
        return self._credentials

    @credentials.setter
    def credentials(self, credentials: Mapping[str, str]) -> None:
        self._credentials = credentials
        self._hash_credentials()

    def _hash_credentials(self) -> None:
        realm = self._realm
        self._ha1: dict[tuple[str, Algorithm], tuple[str, str]] = {
            (user, alg): (password, _HEX_DIGEST[alg](f"{user}:{realm}:{password}".encode()))
            for user, password in self._credentials.items()
            for alg in self._algorithms
        }

    def _prepare_challenges(self) -> None:
        # everything but the nonce is fixed: challenges() only joins three strings per value
        self._challenge_head = f'Digest realm="{_quote(self._realm)}", nonce="'
        tails = [
            f'", opaque="{self.opaque}", algorithm={alg.value}, qop="{self._qop_offer}"'
            for alg in self._algorithms
        ]
        self._challenge_tails = tuple(tails)
        self._stale_challenge_tails = tuple(tail + ", stale=true" for tail in tails)

    @property
    def opaque(self) -> str:
        """The opaque value every challenge carries."""
        return self._nonces.opaque

    def challenges(self, now: float, *, stale: bool = False, source: str = "") -> list[str]:
        """WWW-Authenticate values, strongest first (RFC 8760 2.4), sharing one fresh nonce
        bound to the host `source` the challenge goes to."""
        head = self._challenge_head + self._nonces.make(now, source)
        tails = self._stale_challenge_tails if stale else self._challenge_tails
        return [head + tail for tail in tails]

    def check(
        self,
        method: str,
        request_uri: str,
        authorizations: Iterable[str],
        now: float,
        *,
        body: bytes = b"",
        domain_hosts: Iterable[str] = (),
        source: str = "",
    ) -> AuthOutcome:
        """Check the request's Authorization header values against our realm.

        `domain_hosts` names the hosts the request addressed (Request-URI, To); a digest `uri`
        that differs from the Request-URI is accepted only if its host is one of these or ours.
        `source`: the host the request came from; its nonce must have been issued there.
        """
        chosen: DigestCredentials | None = None
        first_error: AuthParseError | None = None
        foreign: DigestCredentials | None = None
        for value in authorizations:
            creds = _parse_credentials(value)
            if isinstance(creds, AuthParseError):
                first_error = first_error or creds
            elif creds.realm == self._realm:
                chosen = creds
                break
            else:
                foreign = foreign or creds
        if chosen is None:
            if first_error is not None:
                return AuthOutcome(AuthStatus.FAILED, "", FailureReason.MALFORMED, first_error.reason)
            if foreign is not None:
                return AuthOutcome(AuthStatus.FAILED, foreign.username, FailureReason.WRONG_REALM)
            return AuthOutcome(AuthStatus.NO_CREDENTIALS)
        return self._verify(chosen, method, request_uri, body, now, domain_hosts, source)

    def _verify(
        self,
        creds: DigestCredentials,
        method: str,
        request_uri: str,
        body: bytes,
        now: float,
        domain_hosts: Iterable[str],
        source: str,
    ) -> AuthOutcome:
        user, _realm, nonce, uri, response, algorithm, qop, nc, cnonce, opaque, userhash = creds
        if algorithm not in self._algorithms:
            return AuthOutcome(
                AuthStatus.FAILED,
                user,
                FailureReason.MALFORMED,
                f"algorithm {algorithm.value} not offered",
            )
        issued = self._nonces.issued_at(nonce, source)
        if issued is None:
            return AuthOutcome(AuthStatus.FAILED, user, FailureReason.FORGED_NONCE)
        if self._nonces.freshness(issued, now) is not NonceState.FRESH:
            # RFC 7616 3.3: stale=true for a nonce that is no longer valid, whatever the response:
            # judging the response on it would let old nonces test guesses without a count
            return AuthOutcome(AuthStatus.STALE, user)
        # interop: opaque may be absent (pyVoIP 1.6 never echoes it); if present it must match
        if opaque is not None and not hmac.compare_digest(opaque, self.opaque):
            return AuthOutcome(AuthStatus.FAILED, user, FailureReason.BAD_OPAQUE)
        if uri != request_uri and not self._uri_allowed(uri, domain_hosts):
            return AuthOutcome(AuthStatus.FAILED, user, FailureReason.URI_MISMATCH, uri)
        if qop is None and not self._allow_no_qop:
            return AuthOutcome(AuthStatus.FAILED, user, FailureReason.QOP_REQUIRED)
        password = self._credentials.get(user) if not userhash else None
        if password is None:
            ha1 = self._decoy_ha1[algorithm]
        else:
            known = self._ha1.get((user, algorithm))
            if known is None or known[0] != password:
                # the table was changed in place after it was assigned: hash this entry now
                a1 = f"{user}:{self._realm}:{password}".encode()
                known = self._ha1[(user, algorithm)] = (password, _HEX_DIGEST[algorithm](a1))
            ha1 = known[1]
        expected = _response(
            algorithm, ha1, method, uri, nonce, qop, nc or "", cnonce or "", body
        )
        matches = hmac.compare_digest(expected, response)
        if password is None:
            return AuthOutcome(AuthStatus.FAILED, user, FailureReason.UNKNOWN_USER)
        if not matches:
            return AuthOutcome(AuthStatus.FAILED, user, FailureReason.BAD_RESPONSE)
        if nc is not None:
            if issued <= self._counts.evicted_up_to and not self._counts.known(nonce):
                # its nonce-count history was evicted: make the client take a fresh nonce
                return AuthOutcome(AuthStatus.STALE, user)
            if not self._counts.advance(nonce, issued, int(nc, 16)):
                return AuthOutcome(AuthStatus.FAILED, user, FailureReason.NONCE_REPLAY, f"nc={nc}")
        return AuthOutcome(AuthStatus.OK, user)

    def _uri_allowed(self, uri: str, domain_hosts: Iterable[str]) -> bool:
        # interop (docs/interop.md): the digest uri may differ from the Request-URI if it still
        # names us or the request's domain; the response was computed over the uri sent.
        host = _uri_host(uri)
        if host is None:
            return False
        return host in self._local_hosts or host in {h.lower() for h in domain_hosts}


def _quote(text: str) -> str:
    """Escape a value for a quoted-string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')

