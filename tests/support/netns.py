"""A private network namespace for tests: loopback plus one veth pair on 198.18.0.0/24.

`unshare -n` starts a small holder process that sets the links up and then waits on its
standard input; every command of the test joins that namespace with `nsenter --net=...`
(nsenter execs, so the child's pid is the command's own), and the test process itself can
open sockets inside it (`socket()`, `get_json()`) from a thread that has joined it with
setns(2). Closing the holder's stdin ends it; the namespace and its links go with the last
process in it. Nothing here touches the host's network.

    with NetworkNamespace() as ns:
        proc = ns.popen(["baresip", "-f", cfg])
        ns.get_json("http://198.18.0.1:8080/api/stations")

Run by hand: `python tests/support/netns.py CMD ARGS...` runs one command in a fresh namespace.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class VethPair:
    """Two linked interfaces inside the namespace, each with an address (CIDR notation)."""

    left: str = "veth0"
    left_address: str = "198.18.0.1/24"
    right: str = "veth1"
    right_address: str = "198.18.0.2/24"


class NamespaceError(AssertionError):
    """The namespace could not be made (no unshare, no privilege, ip failed): fails the test."""


class NetworkNamespace:
    """A private network namespace held open by an `unshare -n` child until `close()`."""

    READY = b"netns ready"

    def __init__(self, veth: VethPair | None = VethPair()) -> None:
        self.veth = veth
        self.holder: subprocess.Popen[bytes] | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> NetworkNamespace:
        """Create the namespace and its links; returns once they are up (or raises)."""
        steps = ["ip link set lo up"]
        if self.veth is not None:
            v = self.veth
            steps += [
                f"ip link add {v.left} type veth peer name {v.right}",
                f"ip addr add {v.left_address} dev {v.left}",
                f"ip addr add {v.right_address} dev {v.right}",
                f"ip link set {v.left} up",
                f"ip link set {v.right} up",
            ]
        # `read` blocks until the test closes our stdin; then the holder exits.
        script = " && ".join(steps) + f" && echo '{self.READY.decode()}' && read -r _"
        try:
            self.holder = subprocess.Popen(
                ["unshare", "--net", "sh", "-c", script],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise NamespaceError(f"cannot run unshare: {exc}") from None
        assert self.holder.stdout is not None
        line = _read_line(self.holder.stdout.fileno(), timeout)
        if line.strip() != self.READY:
            self.holder.kill()
            _, err = self.holder.communicate(timeout=5)
            raise NamespaceError(
                "cannot create a private network namespace with `unshare --net` "
                f"(exit {self.holder.returncode}; these tests need root or CAP_SYS_ADMIN):\n"
                + err.decode("utf-8", "replace")
            )
        return self

    def close(self, timeout: float = 5.0) -> None:
        """End the holder (the namespace disappears with its last process)."""
        if self.holder is None:
            return
        holder, self.holder = self.holder, None
        assert holder.stdin is not None
        try:
            holder.stdin.close()
            holder.wait(timeout)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        finally:
            for pipe in (holder.stdout, holder.stderr):
                if pipe is not None:
                    pipe.close()

    def __enter__(self) -> NetworkNamespace:
        return self.start() if self.holder is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The namespace's handle, /proc/PID/ns/net of the holder."""
        if self.holder is None:
            raise NamespaceError("namespace not started")
        return f"/proc/{self.holder.pid}/ns/net"

    def command(self, args: Sequence[str]) -> list[str]:
        """`args` prefixed so that they run inside the namespace."""
        return ["nsenter", f"--net={self.path}", "--", *args]

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a command inside the namespace (its pid is the command's: nsenter execs)."""
        return subprocess.Popen(self.command(args), **kwargs)

    def run(self, args: Sequence[str], *, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace to completion; output captured as text."""
        return subprocess.run(self.command(args), capture_output=True, text=True, timeout=timeout, check=False)

    # -- sockets from this process -------------------------------------------------------

    def call_inside(self, fn: Callable[[], T]) -> T:
        """Run `fn` on a short-lived thread that has joined the namespace (setns(2) is per thread).

        Sockets it creates stay in the namespace after the thread is gone, so the test can
        use them from anywhere.
        """
        result: list[T] = []
        failure: list[BaseException] = []

        def body() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise NamespaceError(f"setns({self.path}): {os.strerror(err)}")
                finally:
                    os.close(fd)
                result.append(fn())
            except BaseException as exc:  # handed to the calling thread below
                failure.append(exc)

        thread = threading.Thread(target=body, name="netns-setns")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return result[0]

    def connect(self, address: tuple[str, int], timeout: float = 10.0, *,
                source: str | None = None) -> socket.socket:
        """A TCP connection to `address` made from inside the namespace (from `source`'s
        address, when given)."""
        bind = (source, 0) if source is not None else None
        return self.call_inside(lambda: socket.create_connection(address, timeout=timeout, source_address=bind))

    def get_json(self, url: str, timeout: float = 10.0) -> Any:
        """GET an http:// URL from inside the namespace and decode its JSON body."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"not an http URL: {url!r}")
        address = (parts.hostname, parts.port or 80)
        conn = http.client.HTTPConnection(*address, timeout=timeout)
        conn.sock = self.connect(address, timeout)
        try:
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise AssertionError(f"GET {url}: {response.status} {body[:200]!r}")
            return json.loads(body)
        finally:
            conn.close()


def _read_line(fd: int, timeout: float) -> bytes:
    """One line from a pipe, or what came before EOF/timeout (an event, not a sleep)."""
    data = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    return data


def main(argv: Sequence[str]) -> int:
    """Run one command in a fresh namespace with the veth pair; returns its exit status."""
    if not argv:
        print("usage: netns.py CMD [ARGS...]", file=sys.stderr)
        return 2
    with NetworkNamespace() as ns:
        return subprocess.call(ns.command(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
