"""The gateway in this process on a fake clock, its SIP socket real: the test plays the reader.

The stack listens on a real loopback UDP socket (the global reactor's listenUDP; that reactor
runs only while `close` waits for the ports to close); the test reads the datagrams waiting in
it one at a time and hands them to the stack, so it can look between them: at the store (a
second connection: SQLite's, or PostgreSQL's for a World on a `--store` URL) and at the phone's
socket. Timers run on a task.Clock.
"""

from __future__ import annotations

import hashlib
import re
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_twisted
from acdgate.gateway.app import Gateway
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.contract import Store
from acdgate.gateway.storage.postgres_store import is_postgres_url
from acdgate.gateway.storage.store import DB_NAME, StateStore
from twisted.internet import reactor as global_reactor
from twisted.internet import task


class ClockWithPorts(task.Clock):
    """Timers on a fake clock; listening ports from the real reactor (which the test never runs)."""

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> Any:
        return global_reactor.listenUDP(port, protocol, interface, maxPacketSize)  # type: ignore[attr-defined]

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        return global_reactor.listenTCP(port, factory, backlog, interface)  # type: ignore[attr-defined]


class World:
    """A gateway on the demo site, its SIP socket, and a phone's UDP socket."""

    def __init__(self, state: Path, store: Store | None = None) -> None:
        self.clock = ClockWithPorts()
        self.clock.advance(1_000_000)
        self.store: Any = store if store is not None else StateStore(state)
        self.gateway = Gateway(self.clock, load_site(None), self.store)
        self.port = self.gateway.stack.listen("127.0.0.1", 0)
        udp = self.gateway.stack._udp
        assert udp is not None and udp.transport is not None
        self.server: Any = udp.transport.socket  # the stack's own socket
        self.server.setblocking(False)
        self.phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.phone.bind(("127.0.0.1", 0))
        self.phone.settimeout(2.0)
        self.phone_port = self.phone.getsockname()[1]

    def close(self) -> None:
        self.phone.close()
        pytest_twisted.blockon(self.gateway.stack.stop())  # the ports close on a reactor turn
        self.store.close()

    def request(self, user: str, cseq: int, authorization: str = "") -> bytes:
        return (
            f"REGISTER sip:127.0.0.1:{self.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.phone_port};branch=z9hG4bK-{user}-{cseq};rport\r\n"
            f"From: <sip:{user}@127.0.0.1>;tag=t{user}\r\nTo: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: gc-{user}\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{user}@127.0.0.1:{self.phone_port}>\r\nExpires: 600\r\n"
            f"{authorization}Content-Length: 0\r\n\r\n"
        ).encode()

    def send(self, data: bytes) -> None:
        self.phone.sendto(data, ("127.0.0.1", self.port))

    def read_one(self) -> None:
        """What Twisted's reader does for one datagram waiting in the stack's socket."""
        data, addr = self.server.recvfrom(65535)
        self.gateway.stack.datagram_received(data, (addr[0], addr[1]), "UDP")

    def answer(self) -> str:
        return self.phone.recv(65535).decode()

    def no_answer_yet(self) -> bool:
        self.phone.setblocking(False)
        try:
            self.phone.recv(65535)
        except BlockingIOError:
            return True
        finally:
            self.phone.settimeout(2.0)
        return False

    def authorization(self, user: str, challenge: str) -> str:
        nonce = re.search(r'nonce="([^"]+)"', challenge)
        realm = re.search(r'realm="([^"]+)"', challenge)
        assert nonce and realm, challenge
        uri = f"sip:127.0.0.1:{self.port}"

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1, ha2 = md5(f"{user}:{realm[1]}:pw{user}"), md5(f"REGISTER:{uri}")
        response = md5(f"{ha1}:{nonce[1]}:00000001:c0ffee:auth:{ha2}")
        return (
            f'Authorization: Digest username="{user}", realm="{realm[1]}", nonce="{nonce[1]}", '
            f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"\r\n'
        )

    def challenged(self, user: str) -> str:
        """REGISTER without credentials, one at a time: the Authorization for the 401's nonce."""
        self.send(self.request(user, 1))
        self.read_one()
        answer = self.answer()
        assert answer.startswith("SIP/2.0 401 "), answer
        return self.authorization(user, answer)

    def stored(self) -> set[str]:
        """Usernames with a binding in the database, read through a second connection."""
        if is_postgres_url(self.store.location):
            with psycopg.connect(self.store.location) as pg:
                return {str(row[0]) for row in pg.execute("SELECT username FROM registration").fetchall()}
        db = sqlite3.connect(self.store.state_dir / DB_NAME)
        try:
            return {row[0] for row in db.execute("SELECT username FROM registration")}
        finally:
            db.close()


@pytest.fixture
def local_gateway(tmp_path: Path) -> Iterator[World]:
    """A `World` in the test's temporary directory, closed afterwards."""
    w = World(tmp_path / "state")
    try:
        yield w
    finally:
        w.close()
