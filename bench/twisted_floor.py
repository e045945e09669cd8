"""The least a CPython + Twisted registrar can spend per registration: a floor for bench_register.

A UDP digest registrar cut to what SIPp's REGISTER scenario needs and nothing more: no parser
(headers found with `bytes.find`), no validation, no transactions (no retransmission
absorption), no nonce-count table, bindings in a dict and never stored. It really
authenticates (stateless HMAC-signed nonces, MD5 digest with and without qop=auth, the demo
site's stations and passwords), so bench_register's challenge check holds it to that.

Its CPU per registration is what the interpreter and the reactor cost before any of the work a
real registrar does; bench_register prints it beside acdgate's and Kamailio's, so the distance to
Kamailio that no rewrite of acdgate's Python can close is measured in the same run.

Run: python bench/twisted_floor.py PORT   (127.0.0.1; prints "ready PORT" once listening)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import sys
import time
from typing import Any

from twisted.internet import protocol, reactor

REALM = "floor"
PASSWORDS = {str(n): f"pw{n}" for n in range(2101, 2111)}  # the embedded demo site's stations
NONCE_LIFETIME = 300.0
_PARAM = re.compile(rb'(\w+)=(?:"([^"]*)"|([^\s,]+))')
_COPIED = (b"via:", b"from:", b"to:", b"call-id:", b"cseq:")


class FloorRegistrar(protocol.DatagramProtocol):
    """REGISTER -> 401 with a nonce; REGISTER with a valid digest -> 200 with the binding."""

    def __init__(self) -> None:
        self.key = os.urandom(32)
        self.ha1 = {
            u: hashlib.md5(f"{u}:{REALM}:{p}".encode()).hexdigest().encode()
            for u, p in PASSWORDS.items()
        }
        self.bindings: dict[bytes, tuple[bytes, float]] = {}
        self.serial = 0
        self.tag = os.urandom(4).hex().encode()

    def nonce(self, now: float) -> bytes:
        self.serial += 1
        body = struct.pack(">QQ", int(now * 1000), self.serial)
        return base64.urlsafe_b64encode(body + hmac.digest(self.key, body, "sha256")[:16])

    def nonce_fresh(self, nonce: bytes, now: float) -> bool:
        try:
            raw = base64.urlsafe_b64decode(nonce)
        except ValueError:
            return False
        body, tag = raw[:16], raw[16:]
        if len(body) != 16 or not hmac.compare_digest(tag, hmac.digest(self.key, body, "sha256")[:16]):
            return False
        return now - struct.unpack(">QQ", body)[0] / 1000 < NONCE_LIFETIME

    def verify(self, auth: bytes, method: bytes, now: float) -> bytes | None:
        """The username when `auth` (an Authorization value) is a valid digest, else None."""
        p = {m[0].lower(): m[1] or m[2] for m in _PARAM.findall(auth)}
        user = p.get(b"username", b"")
        ha1 = self.ha1.get(user.decode("ascii", "replace"))
        nonce = p.get(b"nonce", b"")
        if ha1 is None or not self.nonce_fresh(nonce, now):
            return None
        ha2 = hashlib.md5(method + b":" + p.get(b"uri", b"")).hexdigest().encode()
        if p.get(b"qop") == b"auth":
            text = b":".join((ha1, nonce, p.get(b"nc", b""), p.get(b"cnonce", b""), b"auth", ha2))
        else:
            text = b":".join((ha1, nonce, ha2))
        good = hashlib.md5(text).hexdigest().encode()
        return user if hmac.compare_digest(good, p.get(b"response", b"")) else None

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        if not head[0].startswith(b"REGISTER "):
            return
        copied: list[bytes] = []
        auth = contact = b""
        for line in head[1:]:
            lower = line[:14].lower()
            if lower.startswith(_COPIED):
                copied.append(line + (b";tag=" + self.tag if lower.startswith(b"to:") else b""))
            elif lower.startswith(b"authorization:"):
                auth = line[14:].strip()
            elif lower.startswith(b"contact:"):
                contact = line[8:].strip()
        now = time.time()
        user = self.verify(auth, b"REGISTER", now) if auth else None
        if user is None:
            status = b"401 Unauthorized"
            extra = b'WWW-Authenticate: Digest realm="' + REALM.encode() + b'", nonce="' + \
                self.nonce(now) + b'", algorithm=MD5, qop="auth"'
        else:
            self.bindings[user] = (contact, now + 3600)
            status = b"200 OK"
            extra = b"Contact: " + contact + b";expires=3600"
        out = b"\r\n".join((b"SIP/2.0 " + status, *copied, extra, b"Content-Length: 0", b"", b""))
        self.transport.socket.sendto(out, addr)  # type: ignore[union-attr]


def main() -> None:
    port = reactor.listenUDP(int(sys.argv[1]), FloorRegistrar(), interface="127.0.0.1")  # type: ignore[attr-defined]
    print(f"ready {port.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
