"""H.235 password authentication of RAS requests: the MD5 "CAT" ClearToken.

What is implemented, precisely (the CAT as OpenH323/H323Plus endpoints and GnuGk send and
check it, tokenOID 1.2.840.113548.10.1.2.1, carried in the request's `tokens`): a ClearToken
with `generalID` = the endpoint's alias (BMPString, a trailing NUL tolerated), `timeStamp` =
the endpoint's POSIX time in seconds, `random` = one octet (0-255), and `challenge` =
MD5(random octet || password || timeStamp as 4 octets big-endian), 16 octets. The gatekeeper
accepts it when the timestamp is within `grace_seconds` of its clock, the (timestamp, random)
pair was not accepted before for this alias (replay), and the digest matches. The other H.235.1
forms (the cryptoEPPwdHash MD5 token, HMAC-SHA1-96 procedure I over the whole message) are
not implemented yet.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import Enum

from acdgate.gateway.h323.ras_messages import ClearToken

CAT_OID: tuple[int, ...] = (1, 2, 840, 113548, 10, 1, 2, 1)


class CatResult(Enum):
    """The outcome of checking a CAT; every failure is answered alike (securityDenial)."""

    OK = "ok"
    ABSENT = "absent"  # no CAT in the request
    MALFORMED = "malformed"  # a CAT lacking a field, or a random outside one octet
    STALE = "stale"  # timestamp outside the grace window
    REPLAYED = "replayed"
    BAD_DIGEST = "bad-digest"


def cat_digest(random: int, password: str, timestamp: int) -> bytes:
    """MD5(random octet || password || timestamp, 4 octets big-endian): the CAT challenge."""
    return hashlib.md5(bytes([random & 0xFF]) + password.encode("utf-8")
                       + struct.pack("!I", timestamp & 0xFFFFFFFF)).digest()


def make_cat(alias: str, password: str, timestamp: int, random: int) -> ClearToken:
    """The CAT an endpoint sends (tests and the lab's endpoint use it)."""
    return ClearToken(token_oid=CAT_OID, timestamp=timestamp, random=random, general_id=alias,
                      challenge=cat_digest(random, password, timestamp))


def find_cat(tokens: tuple[ClearToken, ...]) -> ClearToken | None:
    """The first CAT among a request's ClearTokens."""
    return next((t for t in tokens if t.token_oid == CAT_OID), None)


@dataclass(slots=True)
class CatVerifier:
    """Checks CATs against passwords, remembering each alias's last accepted (time, random)."""

    grace_seconds: int = 600
    _last: dict[str, tuple[int, int]] | None = None

    def check(self, token: ClearToken, password: str, now: float) -> CatResult:
        """Whether `token` proves knowledge of `password` now (see the module docstring)."""
        if (token.general_id is None or token.timestamp is None or token.random is None
                or token.challenge is None or not 0 <= token.random <= 255):
            return CatResult.MALFORMED
        if abs(now - token.timestamp) > self.grace_seconds:
            return CatResult.STALE
        if self._last is None:
            self._last = {}
        if self._last.get(token.general_id) == (token.timestamp, token.random):
            return CatResult.REPLAYED
        expected = cat_digest(token.random, password, token.timestamp)
        if not hmac.compare_digest(expected, token.challenge):
            return CatResult.BAD_DIGEST
        self._last[token.general_id] = (token.timestamp, token.random)
        return CatResult.OK
