"""A hand-made SIP phone for the attack tests (tests/gateway/test_sip_hardening.py, tests/security,
bench/soak.py): a UDP socket bound to one loopback address that speaks digest (MD5, qop=auth) and
can forge what no real phone sends (other nonces, wrong passwords, answers never read)."""

from __future__ import annotations

import hashlib
import re
import socket
import uuid

from sipwire import header, status_line

REALM = "acdgate"


class Phone:
    """A UDP SIP client bound to one loopback address, speaking digest with qop=auth (MD5)."""

    def __init__(self, host: str, gateway: tuple[str, int], user: str = "2101") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host, self.port = self.sock.getsockname()
        self.gateway = gateway
        self.user = user
        self.call_id = uuid.uuid4().hex
        self.cseq = 0
        self.nc = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str = "REGISTER", authorization: str | None = None, *,
                uri: str | None = None) -> bytes:
        self.cseq += 1
        uri = uri or (f"sip:{self.gateway[0]}" if method == "REGISTER" else f"sip:300@{self.gateway[0]}")
        to = f"<sip:{self.user}@{self.gateway[0]}>" if method == "REGISTER" else f"<{uri}>"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.gateway[0]}>;tag={uuid.uuid4().hex[:8]}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:{self.user}@{self.host}:{self.port}>",
        ]
        if method == "REGISTER":
            lines.append("Expires: 600")
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        lines += ["Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.gateway)

    def receive(self, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(65535)
        return data

    def silent_for(self, seconds: float) -> bool:
        """Whether nothing arrives within `seconds` (a bounded wait for silence)."""
        try:
            self.receive(seconds)
        except TimeoutError:
            return True
        return False

    def authorization(self, challenge: bytes, password: str, method: str = "REGISTER",
                      uri: str | None = None, nonce: str | None = None) -> str:
        www = header(challenge, "WWW-Authenticate") or ""
        found = re.search(r'nonce="([^"]+)"', www)
        assert found, challenge
        nonce = nonce or found[1]
        uri = uri or f"sip:{self.gateway[0]}"
        self.nc += 1
        nc = f"{self.nc:08x}"

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.user}:{REALM}:{password}")
        response = md5(f"{ha1}:{nonce}:{nc}:c0ffee:auth:{md5(f'{method}:{uri}')}")
        return (f'Digest username="{self.user}", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
                f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="c0ffee"')

    def challenge(self) -> bytes:
        self.send(self.request())
        answer = self.receive()
        assert status_line(answer)[0] == 401, answer
        return answer

    def register(self, password: str) -> int:
        """A whole registration; the final status."""
        challenge = self.challenge()
        self.send(self.request(authorization=self.authorization(challenge, password)))
        return status_line(self.receive())[0]
