"""Request bodies on the HTTP site (issue 19), over real sockets on loopback: a body larger
than the limit is refused by its Content-Length (413) and the connection closed without
reading it, a control request without the token is refused before its body is read, a
chunked body is cut off at the limit, and JSON nested too deep is a 400 naming the defect."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest_twisted
from acdgate.gateway.web.http_api import GuardedSite, json_defect, make_site
from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

TOKEN = "a-long-enough-token-1234"
LIMIT = 300_000  # above the 100,000-deep JSON's 200,000 bytes, so that its depth is what is refused


class _EmptyView:
    def stations_view(self) -> list[dict[str, Any]]:
        return []

    def agents_view(self) -> list[dict[str, Any]]:
        return []

    def groups_view(self) -> list[dict[str, Any]]:
        return []


class _Actions:
    """The supervisor actions' end of the API: records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[Mapping[str, Any]] = []

    def recordings_view(self) -> list[dict[str, Any]]:
        return []

    def agent_action(self, target: str, action: str, body: Mapping[str, Any], *,
                     source: str, authenticated: bool) -> tuple[int, dict[str, Any]]:
        assert authenticated  # the site has a token: only requests that carried it get here
        self.bodies.append(body)
        return 200, {"done": action}


class _Raw(protocol.Protocol):
    """A client that writes what it is told and keeps all it receives until the server closes."""

    def __init__(self) -> None:
        self.received = b""
        self.closed: defer.Deferred[bytes] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.closed.callback(self.received)


@pytest_twisted.async_yield_fixture
async def served() -> AsyncIterator[tuple[int, _Actions, GuardedSite]]:
    actions = _Actions()
    site = make_site(_EmptyView(), calls=actions, token=TOKEN, max_body_bytes=LIMIT, max_json_depth=32)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    try:
        yield port.getHost().port, actions, site
    finally:
        await port.stopListening()


async def exchange(port: int, *chunks: bytes) -> tuple[_Raw, bytes]:
    """Connect, write `chunks`, and wait for the server to close: (client, all it received)."""
    client = _Raw()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    for chunk in chunks:
        client.transport.write(chunk)  # type: ignore[union-attr]
    received = await client.closed.addTimeout(10, reactor)
    return client, received


def post(path: str, length: int, *, token: str | None = TOKEN, more: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {length}\r\n{more}\r\n").encode()


def status_and_body(received: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


@pytest_twisted.ensureDeferred
async def test_a_huge_content_length_is_refused_unread_and_the_connection_closed(served: Any) -> None:
    port, actions, _ = served
    # 1 GiB announced, 16 bytes sent: the answer and the close come without the rest
    _, received = await exchange(port, post("/api/agents/3000/monitor", 1 << 30) + b'{"user": "3900"')
    status, body = status_and_body(received)
    assert status == 413 and body == {"error": f"the body is larger than {LIMIT} bytes"}
    assert b"connection: close" in received.lower()
    assert actions.bodies == []


@pytest_twisted.ensureDeferred
async def test_a_control_request_without_the_token_is_refused_before_its_body(served: Any) -> None:
    port, actions, _ = served
    for token, defect in ((None, "missing bearer token"), ("wrong-token-xxxxxxxxxx", "wrong bearer token")):
        _, received = await exchange(port, post("/api/agents/3000/monitor", 5000, token=token))
        status, body = status_and_body(received)
        assert (status, body) == (401, {"error": defect})
        assert b'www-authenticate: Bearer realm="acdgate"' in received
    assert actions.bodies == []


@pytest_twisted.ensureDeferred
async def test_a_chunked_body_is_cut_off_at_the_limit(served: Any) -> None:
    port, actions, _ = served
    head = (b"POST /api/agents/3000/monitor HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (100_000, b" " * 100_000)
    _, received = await exchange(port, head, chunk * 4)
    status, body = status_and_body(received)
    assert status == 413 and "larger than" in body["error"]
    assert actions.bodies == []


@pytest_twisted.ensureDeferred
async def test_deep_json_is_a_400_naming_the_defect_and_a_small_body_still_works(served: Any) -> None:
    port, actions, _ = served
    deep = b"[" * 100_000 + b"]" * 100_000
    _, received = await exchange(port, post("/api/agents/3000/monitor", len(deep), more="Connection: close\r\n") + deep)
    assert status_and_body(received) == (400, {"error": "the body nests deeper than 32 levels"})
    body = json.dumps({"user": "3900", "station": "2110"}).encode()
    _, received = await exchange(port, post("/api/agents/3000/monitor", len(body), more="Connection: close\r\n") + body)
    assert status_and_body(received) == (200, {"done": "monitor"})
    assert actions.bodies == [{"user": "3900", "station": "2110"}]


def test_json_defect_counts_brackets_outside_strings_only() -> None:
    assert json_defect(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 3) is None
    assert json_defect(b'{"a": "\\"[[[[[["}', 1) is None  # an escaped quote does not end the string
    assert json_defect(b'{"a": [[1]]}', 3) is None
    assert json_defect(b'{"a": [[[1]]]}', 3) == "the body nests deeper than 3 levels"
