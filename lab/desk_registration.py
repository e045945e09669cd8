"""A desk with no phone in the lab, registered by a bare digest REGISTER over UDP, so that the
gateway's `/xml/` screens and supervisor actions may act for its station from this host
(issue 19: they act for a station only from the address it is registered from).

The binding's contact is the sending port, which is closed once the REGISTER is answered:
nothing answers there, so no call should be routed to such a desk."""

from __future__ import annotations

import hashlib
import re
import socket


class RegistrationError(AssertionError):
    """The gateway did not answer the REGISTER with a challenge, then 200."""


def register_desk(phone: socket.socket, sip: tuple[str, int], user: str, password: str, *,
                  expires: int = 600, timeout: float = 5.0) -> None:
    """One REGISTER of `user` from `phone` (a bound UDP socket), answered 401 then 200 with
    digest (RFC 3261 10.2, 22.2); `expires=0` removes the binding (RFC 3261 10.2.2)."""
    phone.settimeout(timeout)
    host, port = phone.getsockname()[:2]
    via_host = host if host not in ("0.0.0.0", "") else "127.0.0.1"  # the gateway adds received=
    uri = f"sip:{sip[0]}:{sip[1]}"

    def request(cseq: int, authorization: str = "") -> bytes:
        return (
            f"REGISTER {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {via_host}:{port};branch=z9hG4bK-lp{user}-{expires}-{cseq};rport\r\n"
            f"From: <sip:{user}@{sip[0]}>;tag=lp{user}\r\nTo: <sip:{user}@{sip[0]}>\r\n"
            f"Call-ID: desk-{user}-{port}\r\nCSeq: {cseq + (2 if expires == 0 else 0)} REGISTER\r\n"
            f"Contact: <sip:{user}@{via_host}:{port}>\r\nExpires: {expires}\r\n"
            f"{authorization}Content-Length: 0\r\n\r\n"
        ).encode()

    def answer() -> str:
        while True:  # a 100 Trying may come first
            text = phone.recv(65535).decode()
            if not text.startswith("SIP/2.0 1"):
                return text

    phone.sendto(request(1), sip)
    challenge = answer()
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    realm = re.search(r'realm="([^"]+)"', challenge)
    if not challenge.startswith("SIP/2.0 401") or nonce is None or realm is None:
        raise RegistrationError(f"REGISTER {user}: expected a 401 challenge, got {challenge[:200]!r}")

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # RFC 2617 3.2.2: the demo site's algorithm

    ha1, ha2 = md5(f"{user}:{realm[1]}:{password}"), md5(f"REGISTER:{uri}")
    response = md5(f"{ha1}:{nonce[1]}:00000001:c0ffee:auth:{ha2}")
    phone.sendto(request(2, (
        f'Authorization: Digest username="{user}", realm="{realm[1]}", nonce="{nonce[1]}", '
        f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc=00000001, '
        f'cnonce="c0ffee"\r\n')), sip)
    ok = answer()
    if not ok.startswith("SIP/2.0 200"):
        raise RegistrationError(f"REGISTER {user}: expected 200, got {ok[:200]!r}")


def register_desk_once(sip: tuple[str, int], user: str, password: str, *, bind_host: str = "0.0.0.0",
                       expires: int = 600, timeout: float = 5.0) -> None:
    """Register `user` from a fresh UDP socket on `bind_host`, closed afterwards."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((bind_host, 0))
        register_desk(phone, sip, user, password, expires=expires, timeout=timeout)
