"""A station's phone registering from 127.0.0.1 to a running gateway (a digest REGISTER over
UDP), so that its `/xml/` screens may act for the station (issue 19: a screen acts for a
station only from the address it is registered from)."""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

DESKS = tuple(f"21{n:02d}" for n in range(1, 11))  # the demo site's desk stations 2101..2110


def register(sip: tuple[str, int], *users: str, expires: int = 600, timeout: float = 5.0) -> None:
    """REGISTER each station user of `users` (demo password `pw<user>`) from 127.0.0.1; the
    binding's contact is a closed port: nothing answers there."""
    for user in users:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind(("127.0.0.1", 0))
            _register(phone, sip, user, f"pw{user}", expires, timeout)


@contextmanager
def registered(sip: tuple[str, int], *users: str, timeout: float = 5.0) -> Iterator[None]:
    """`users` registered from 127.0.0.1 while the block runs, unregistered after it (for
    tests whose calls must then reach only the real phones registered later)."""
    phones = []
    try:
        for user in users:
            phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            phones.append((user, phone))
            phone.bind(("127.0.0.1", 0))
            _register(phone, sip, user, f"pw{user}", 600, timeout)
        yield
    finally:
        for user, phone in phones:
            try:
                _register(phone, sip, user, f"pw{user}", 0, timeout)  # RFC 3261 10.2.2: remove it
            finally:
                phone.close()


def _register(phone: socket.socket, sip: tuple[str, int], user: str, password: str,
              expires: int, timeout: float) -> None:
    """One REGISTER from `phone`'s port, answered 401 then 200 (raises otherwise)."""
    phone.settimeout(timeout)
    port = phone.getsockname()[1]
    uri = f"sip:{sip[0]}:{sip[1]}"

    def request(cseq: int, authorization: str = "") -> bytes:
        return (
            f"REGISTER {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-lp{user}-{expires}-{cseq};rport\r\n"
            f"From: <sip:{user}@{sip[0]}>;tag=lp{user}\r\nTo: <sip:{user}@{sip[0]}>\r\n"
            f"Call-ID: loopback-{user}-{port}\r\nCSeq: {cseq + (2 if expires == 0 else 0)} REGISTER\r\n"
            f"Contact: <sip:{user}@127.0.0.1:{port}>\r\nExpires: {expires}\r\n"
            f"{authorization}Content-Length: 0\r\n\r\n"
        ).encode()

    def answer() -> str:
        while True:  # a 100 Trying may come first
            text = phone.recv(65535).decode()
            if not text.startswith("SIP/2.0 1"):
                return text

    phone.sendto(request(1), sip)
    challenge = answer()
    assert challenge.startswith("SIP/2.0 401"), challenge
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    realm = re.search(r'realm="([^"]+)"', challenge)
    assert nonce and realm, challenge

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # RFC 2617 3.2.2: the demo site's algorithm

    ha1, ha2 = md5(f"{user}:{realm[1]}:{password}"), md5(f"REGISTER:{uri}")
    response = md5(f"{ha1}:{nonce[1]}:00000001:c0ffee:auth:{ha2}")
    phone.sendto(request(2, (
        f'Authorization: Digest username="{user}", realm="{realm[1]}", nonce="{nonce[1]}", '
        f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc=00000001, '
        f'cnonce="c0ffee"\r\n')), sip)
    ok = answer()
    assert ok.startswith("SIP/2.0 200"), ok
