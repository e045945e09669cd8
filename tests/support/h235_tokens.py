"""H.235 password tokens written here from the standards, not from `gateway/h323/h235.py`: the
tests check the gatekeeper against these, so a mistake would have to be made twice.

- `pwd_hash_clear_token_per`: the aligned PER (X.691) of the H.235 ClearToken a cryptoEPPwdHash
  hashes, {tokenOID 0.0, timeStamp, password, generalID}, by hand, bit by bit;
- `pwd_hash`: MD5 of it (H.235.0 10.3.3, with H323Plus's trailing NULs);
- `procedure_i_hash`: H.235.1 7.1-7.3, HMAC-SHA1 keyed with SHA1(password) over the message
  with the hash field zeroed, cut to 96 bits.
"""

from __future__ import annotations

import hashlib
import hmac


class _Bits:
    """An aligned-PER bit writer (X.691 10.5 / 10.9, the few cases a ClearToken needs)."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, width: int) -> None:
        self.bits += [(value >> (width - 1 - i)) & 1 for i in range(width)]

    def align(self) -> None:
        while len(self.bits) % 8:
            self.bits.append(0)

    def octets(self, data: bytes) -> None:
        self.align()
        for byte in data:
            self.put(byte, 8)

    def to_bytes(self) -> bytes:
        self.align()
        return bytes(int("".join(map(str, self.bits[i:i + 8])), 2)
                     for i in range(0, len(self.bits), 8))


def _bmp_1_128(w: _Bits, text: str) -> None:
    """BMPString (SIZE (1..128)): length - 1 in 7 bits (a constrained whole number under 256
    octets is a bit field, X.691 10.5.7.1), then the 16-bit characters, octet-aligned."""
    w.put(len(text) - 1, 7)
    w.octets(text.encode("utf-16-be"))


def pwd_hash_clear_token_per(alias: str, password: str, timestamp: int) -> bytes:
    """ClearToken ::= SEQUENCE { tokenOID, timeStamp TimeStamp OPTIONAL, password Password
    OPTIONAL, dhkey OPTIONAL, challenge OPTIONAL, random OPTIONAL, certificate OPTIONAL,
    generalID Identifier OPTIONAL, nonStandard OPTIONAL, ... } with timeStamp, password,
    generalID present, each string with a trailing NUL as H323Plus's GetUCS2plusNULL."""
    w = _Bits()
    w.put(0, 1)  # extension bit: no additions
    w.put(0b11000010, 8)  # presence: timeStamp, password, -, -, -, -, generalID, -
    oid = bytes([0 * 40 + 0])  # 0.0: the first two arcs in one octet (X.690 8.19.4)
    w.align()
    w.put(len(oid), 8)  # unconstrained length, octet-aligned (X.691 10.9.3.6)
    w.octets(oid)
    # TimeStamp ::= INTEGER (1..4294967295): octets of (value - 1) after a 2-bit count - 1
    offset = timestamp - 1
    count = max(1, (offset.bit_length() + 7) // 8)
    w.put(count - 1, 2)
    w.octets(offset.to_bytes(count, "big"))
    _bmp_1_128(w, password + "\x00")
    _bmp_1_128(w, alias + "\x00")
    return w.to_bytes()


def pwd_hash(alias: str, password: str, timestamp: int) -> bytes:
    """The cryptoEPPwdHash `token.hash`: MD5 over the encoded ClearToken."""
    return hashlib.md5(pwd_hash_clear_token_per(alias, password, timestamp)).digest()


def procedure_i_hash(password: str, zeroed_message: bytes) -> bytes:
    """H.235.1 procedure I: HMAC-SHA1-96 keyed with SHA1(password)."""
    key = hashlib.sha1(password.encode()).digest()
    return hmac.new(key, zeroed_message, "sha1").digest()[:12]


def procedure_i_valid(password: str, message: bytes, digest: bytes) -> bool:
    """Whether `message` carries `digest` once and it is the HMAC of it with the digest zeroed."""
    at = message.find(digest)
    if at < 0 or message.find(digest, at + 1) >= 0:
        return False
    zeroed = message[:at] + bytes(12) + message[at + 12:]
    return procedure_i_hash(password, zeroed) == digest
