"""A Server-Sent Events client for tests (WHATWG HTML 9.2.6 parsing): one GET, then messages
read one at a time with a socket timeout (a missing message fails, never hangs)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    id: str | None
    event: str
    data: Any  # the JSON of the data lines
    comments: tuple[str, ...]  # comment lines (": keep-alive") seen before it


class SseClient:
    """`GET path` on host:port; `next()` gives the next message."""

    def __init__(self, host: str, port: int, path: str = "/api/events", *, headers: dict[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}

    def next(self) -> Message:
        """The next message with data (a `retry:`-only block is skipped); OSError on timeout."""
        ident: str | None = None
        event = "message"
        data: list[str] = []
        comments: list[str] = []
        while True:
            raw = self.response.readline()
            if not raw:
                raise ConnectionError("the stream ended")
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    return Message(ident, event, json.loads("\n".join(data)), tuple(comments))
                continue
            if line.startswith(":"):
                comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                ident = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)

    def until(self, wanted: Any, limit: int = 200) -> list[Message]:
        """Messages up to and including the first for which `wanted(message)` is true."""
        seen: list[Message] = []
        for _ in range(limit):
            seen.append(self.next())
            if wanted(seen[-1]):
                return seen
        raise AssertionError(f"no wanted message in {limit}: {seen[-5:]}")

    def close(self) -> None:
        self.conn.close()
