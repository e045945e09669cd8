"""PIN hashing: users' PINs are stored as salted PBKDF2 hashes, never in clear."""

from __future__ import annotations

import hashlib
import hmac
import os

_ALGORITHM = "pbkdf2-sha256"
# Few iterations on purpose: a PIN has 10^4..10^8 values, so the hash only keeps PINs out of
# plain sight in files and dumps; lockout after wrong attempts is what protects a PIN.
_ITERATIONS = 1000


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """`pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>` for `pin`."""
    if salt is None:
        salt = os.urandom(8)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, _ITERATIONS)
    return f"{_ALGORITHM}${_ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, pin_hash: str) -> bool:
    """True when `pin` is the PIN `pin_hash` was made from (constant-time compare)."""
    try:
        algorithm, iterations, salt_hex, digest_hex = pin_hash.split("$")
        if algorithm != _ALGORITHM:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)
