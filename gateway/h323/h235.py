"""H.235 password authentication of RAS requests: the CAT, cryptoEPPwdHash and H.235.1 procedure I.

What is implemented, precisely (the three password forms OpenH323/H323Plus endpoints send and
GnuGk checks; every one keyed by the station's password from the site file):

- **CAT** (a ClearToken, tokenOID 1.2.840.113548.10.1.2.1, in the request's `tokens`):
  `generalID` = the endpoint's alias, `timeStamp`, `random` = one octet, and `challenge` =
  MD5(random octet || password || timeStamp as 4 octets big-endian).
- **cryptoEPPwdHash** (H.225.0 CryptoH323Token, H.235.0 10.3.3 "password with hashing", GnuGk's
  and H323Plus's "MD5" authenticator): `alias`, `timeStamp` and `token.hash` = MD5 of the
  aligned-PER encoding of the ClearToken {tokenOID 0.0, timeStamp, password, generalID = the
  alias}, both strings as BMPString with a trailing NUL as H323Plus writes them (without the
  NUL also accepted); algorithmOID 1.2.840.113549.2.5.
- **H.235.1 procedure I** (Annex D of H.235v2, "baseline security profile"): a
  `nestedcryptoToken` holding a `cryptoHashedToken` (tokenOID "A" 0.0.8.235.0.x.1) whose
  `hashedVals` ClearToken (tokenOID "T" 0.0.8.235.0.x.5) carries `timeStamp`, `random`,
  `sendersID` (the endpoint's alias, or its endpointIdentifier once registered) and `generalID`
  (the gatekeeper identifier), and whose `token.hash` (algorithm "U" 0.0.8.235.0.x.6) is
  HMAC-SHA1-96 keyed with SHA1(password) over the whole encoded RAS message with those 12 hash
  octets zeroed (H.235.1 7.2, 7.3). The version arc x is not checked (H323Plus neither); our
  signed answer repeats the request's. The gatekeeper signs its RCF the same way when the RRQ
  used procedure I (`signature`).

Every form is accepted when its timestamp is within `grace_seconds` of our clock, it was not
accepted before for this station (replay: the same timestamp and random; a cryptoEPPwdHash has
no random, so the same timestamp), and the hash matches. H.235 leaves the time window to local
policy (it assumes synchronised clocks); GnuGk's default is 2 h 10 s to survive time zone
mistakes, we default to 10 minutes (`GatekeeperSettings.token_grace_seconds`).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from acdgate.gateway.h323.ras_messages import Alias, ClearToken, HashedToken, PwdHashToken

CAT_OID: tuple[int, ...] = (1, 2, 840, 113548, 10, 1, 2, 1)
MD5_OID: tuple[int, ...] = (1, 2, 840, 113549, 2, 5)
PWD_CLEAR_TOKEN_OID: tuple[int, ...] = (0, 0)  # the hashed ClearToken's tokenOID (H323Plus, GnuGk)
# H.235.1 clause 15 object identifiers, version 2; the sixth arc (index 5) is the version
H2351_A: tuple[int, ...] = (0, 0, 8, 235, 0, 2, 1)  # all fields hashed (authentication+integrity)
H2351_T: tuple[int, ...] = (0, 0, 8, 235, 0, 2, 5)  # the ClearToken of a hashed token
H2351_U: tuple[int, ...] = (0, 0, 8, 235, 0, 2, 6)  # HMAC-SHA1-96
HASH_OCTETS = 12  # HMAC-SHA1-96
_MAX_HASH_CANDIDATES = 4  # places the hash may sit in a datagram that we try (H323Plus: all)


class TokenResult(Enum):
    """The outcome of checking a token; every failure is answered alike (securityDenial)."""

    OK = "ok"
    MALFORMED = "malformed"  # a field missing, a random outside one octet, wrong OIDs or length
    STALE = "stale"  # timestamp outside the grace window
    REPLAYED = "replayed"
    BAD_DIGEST = "bad-digest"


# -------------------------------------------------------------------------------- the hashes


def cat_digest(random: int, password: str, timestamp: int) -> bytes:
    """MD5(random octet || password || timestamp, 4 octets big-endian): the CAT challenge."""
    return hashlib.md5(bytes([random & 0xFF]) + password.encode("utf-8")
                       + struct.pack("!I", timestamp & 0xFFFFFFFF)).digest()


def pwd_clear_token(alias: str, password: str, timestamp: int, *, nul: bool = True) -> ClearToken:
    """The ClearToken whose PER encoding a cryptoEPPwdHash hashes (H323Plus adds the NULs)."""
    end = "\x00" if nul else ""
    return ClearToken(token_oid=PWD_CLEAR_TOKEN_OID, timestamp=timestamp,
                      password=password + end, general_id=alias + end)


def hmac_sha1_96(password: str, data: bytes) -> bytes:
    """H.235.1 7.1-7.2: HMAC-SHA1 keyed with SHA1(password), truncated to 96 bits."""
    key = hashlib.sha1(password.encode("utf-8")).digest()
    return hmac.new(key, data, hashlib.sha1).digest()[:HASH_OCTETS]


def signature(encode: Callable[[bytes], bytes], password: str) -> bytes:
    """The procedure I hash of a message we send: `encode(hash)` encodes it with `hash` in its
    cryptoHashedToken, and the HMAC is taken over the encoding with the hash zeroed (H.235.1
    7.3). The hash is a fixed-size BIT STRING, so `encode(signature)` has it at that place."""
    return hmac_sha1_96(password, encode(bytes(HASH_OCTETS)))


def procedure_i_matches(digest: bytes, password: str, datagram: bytes) -> bool:
    """Whether `digest` (12 octets, as decoded) is the HMAC of `datagram` with it zeroed.

    The decoder does not say where the hash sat, so each place the 12 octets occur is tried
    (a few at most): a forger gains nothing, the HMAC must still match."""
    if len(digest) != HASH_OCTETS:
        return False
    start = 0
    for _ in range(_MAX_HASH_CANDIDATES):
        at = datagram.find(digest, start)
        if at < 0:
            return False
        zeroed = datagram[:at] + bytes(HASH_OCTETS) + datagram[at + HASH_OCTETS:]
        if hmac.compare_digest(hmac_sha1_96(password, zeroed), digest):
            return True
        start = at + 1
    return False


def same_arcs(oid: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """`oid` is `expected` in any H.235 version (the arc at index 5 is not compared)."""
    return (len(oid) == len(expected) and oid[:5] == expected[:5]
            and oid[6:] == expected[6:])


# ------------------------------------------------------------------------ making tokens (lab)


def make_cat(alias: str, password: str, timestamp: int, random: int) -> ClearToken:
    """The CAT an endpoint sends (tests and the lab's endpoint use it)."""
    return ClearToken(token_oid=CAT_OID, timestamp=timestamp, random=random, general_id=alias,
                      challenge=cat_digest(random, password, timestamp))


def find_cat(tokens: tuple[ClearToken, ...]) -> ClearToken | None:
    """The first CAT among a request's ClearTokens."""
    return next((t for t in tokens if t.token_oid == CAT_OID), None)


def make_pwd_hash(alias: Alias, password: str, timestamp: int,
                  encode_clear_token: Callable[[ClearToken], bytes]) -> PwdHashToken:
    """The cryptoEPPwdHash an endpoint sends (`encode_clear_token`: `RasCodec`'s)."""
    digest = hashlib.md5(encode_clear_token(pwd_clear_token(alias.value, password,
                                                            timestamp))).digest()
    return PwdHashToken(alias, timestamp, MD5_OID, digest)


def hashed_token(senders_id: str, general_id: str | None, timestamp: int, random: int,
                 digest: bytes = bytes(HASH_OCTETS), version: int = 2) -> HashedToken:
    """A procedure I token (its hash zeroed until `signature` is computed)."""
    def oid(base: tuple[int, ...]) -> tuple[int, ...]:
        return (*base[:5], version, *base[6:])
    return HashedToken(oid(H2351_A), ClearToken(token_oid=oid(H2351_T), timestamp=timestamp,
                                                 random=random, general_id=general_id,
                                                 senders_id=senders_id),
                       oid(H2351_U), digest)


# ----------------------------------------------------------------------------- the verifier


@dataclass(slots=True)
class TokenVerifier:
    """Checks tokens against passwords, remembering per station the (timestamp, random) pairs
    it accepted within the window (replays), whatever the form."""

    encode_clear_token: Callable[[ClearToken], bytes]
    grace_seconds: int = 600
    _seen: dict[str, dict[tuple[int, int], int]] = field(default_factory=dict)

    def check_cat(self, token: ClearToken, password: str, key: str, now: float) -> TokenResult:
        """A CAT (see the module docstring); `key` names the station for replays."""
        if (token.general_id is None or token.timestamp is None or token.random is None
                or token.challenge is None or not 0 <= token.random <= 255):
            return TokenResult.MALFORMED
        return self._accept(key, token.timestamp, token.random, now, lambda: hmac.compare_digest(
            cat_digest(token.random or 0, password, token.timestamp or 0),
            token.challenge or b""))

    def check_pwd_hash(self, token: PwdHashToken, password: str, key: str,
                       now: float) -> TokenResult:
        """A cryptoEPPwdHash (MD5 of the encoded alias, timestamp and password)."""
        if token.algorithm_oid != MD5_OID or len(token.hash) != 16:
            return TokenResult.MALFORMED

        def matches() -> bool:
            return any(hmac.compare_digest(token.hash, hashlib.md5(self.encode_clear_token(
                pwd_clear_token(token.alias.value, password, token.timestamp, nul=nul))).digest())
                for nul in (True, False))
        return self._accept(key, token.timestamp, -1, now, matches)

    def check_hashed(self, token: HashedToken, password: str, datagram: bytes, key: str,
                     now: float) -> TokenResult:
        """A procedure I token over `datagram`, the whole message as received."""
        vals = token.hashed_vals
        if (not same_arcs(token.token_oid, H2351_A) or not same_arcs(vals.token_oid, H2351_T)
                or not same_arcs(token.algorithm_oid, H2351_U) or len(token.hash) != HASH_OCTETS
                or vals.timestamp is None or vals.random is None):
            return TokenResult.MALFORMED
        return self._accept(key, vals.timestamp, vals.random, now,
                            lambda: procedure_i_matches(token.hash, password, datagram))

    def _accept(self, key: str, timestamp: int, random: int, now: float,
                matches: Callable[[], bool]) -> TokenResult:
        if abs(now - timestamp) > self.grace_seconds:
            return TokenResult.STALE
        seen = self._seen.setdefault(key, {})
        if (timestamp, random) in seen:
            return TokenResult.REPLAYED
        if not matches():
            if not seen:
                del self._seen[key]
            return TokenResult.BAD_DIGEST
        for pair in [p for p, t in seen.items() if abs(now - t) > self.grace_seconds]:
            del seen[pair]  # outside the window a replay is refused as stale anyway
        seen[(timestamp, random)] = timestamp
        return TokenResult.OK
