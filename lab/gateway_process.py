"""A real `acdgate run` process, as the lab, the tests and the benchmarks start one: on free
ports, waited for by its "ready" line (an event, not a sleep), stopped with SIGTERM or killed
with SIGKILL. It is in the lab package because the installed hil_tests start their gateways
with it (no checkout's tests/support on sys.path)."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from acdgate.gateway.site_loader import load_site

ACDGATE = [sys.executable, "-m", "acdgate.gateway.cli"]
READY_PREFIX = "acdgate ready "


class GatewayProcess:
    """`acdgate run` in a child process, with its output kept for the test's report."""

    def __init__(
        self,
        state_dir: Path,
        *,
        config: Path | None = None,
        bind: str = "127.0.0.1",
        sip_port: int = 0,
        extra: list[str] | None = None,
        command_prefix: list[str] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.config = config
        self.bind = bind
        self.sip_port = sip_port
        self.extra = extra or []
        self.command_prefix = command_prefix or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []
        self._new_output = threading.Condition()  # notified for each line the reader keeps
        self._output_ended = False  # the reader saw end of file (under _new_output)
        self.info: dict[str, Any] = {}
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        """Start the process and wait for its ready line (fails the test on timeout or exit)."""
        args = [*self.command_prefix, *ACDGATE, "run", "--state-dir", str(self.state_dir),
                "--bind", self.bind, "--sip-port", str(self.sip_port), "--http-port", "0",
                "--h323-ras-port", "0", "--h323-port", "0", *self.extra]
        if self.config is not None:
            args += ["--config", str(self.config)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, bufsize=0)
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        pending = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not self.info:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    self.kill()
                    raise AssertionError("gateway not ready in time:\n" + self.output())
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait()
                    raise AssertionError(f"gateway exited {self.proc.returncode}:\n" + self.output())
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    line = raw.decode("utf-8", "replace") + "\n"
                    self.lines.append(line)
                    if line.startswith(READY_PREFIX):
                        self.info = json.loads(line[len(READY_PREFIX):])
        if pending:
            self.lines.append(pending.decode("utf-8", "replace"))
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._new_output:
                self.lines.append(raw.decode("utf-8", "replace"))
                self._new_output.notify_all()
        with self._new_output:  # the process ended: wake waiters so they fail at once
            self._output_ended = True
            self._new_output.notify_all()

    def wait_for_output(self, pattern: str, timeout: float = 15.0, *, since: int = 0) -> re.Match[str]:
        """Block until the gateway's output (log) matches `pattern` (a regex) at or after
        offset `since` of `output()`; the match (its `end()` is a `since` for the next wait).

        The reader thread signals every new line, so this waits on an event, not a sleep;
        fails with the output's tail after `timeout` or when the process has exited.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._new_output:
            while True:
                found = regex.search(self.output(), since)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                ended = self._output_ended or self._reader is None  # exited, or not running
                if remaining <= 0 or ended:
                    why = "ended before it" if ended else f"in {timeout} s never"
                    raise AssertionError(f"gateway {why} logged {pattern!r}:\n{self.output()[-3000:]}")
                self._new_output.wait(remaining)

    def mark(self) -> int:
        """Where the output read so far ends: a `since` for `wait_for_output` that ignores older
        lines. The output is read by a thread of its own, so a line the gateway wrote just
        before an HTTP reply may still be on its way and land after the mark: to wait for the
        next line of a kind that was logged just now too (a state entered again), take the
        `since` from a line waited for (`wait_for_output(...).end()`), not from a mark."""
        with self._new_output:
            return sum(map(len, self.lines))

    @property
    def sip(self) -> tuple[str, int]:
        return (self.info["sip"]["host"], int(self.info["sip"]["port"]))

    @property
    def http(self) -> str:
        return f"http://{self.info['http']['host']}:{self.info['http']['port']}"

    def get(self, path: str) -> Any:
        """GET a JSON resource of the HTTP API (with the site's `[http] token`, when it sets one:
        the views need it then, issue 19)."""
        request = urllib.request.Request(self.http + path)
        token = self.api_token()
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def api_token(self) -> str | None:
        """The `[http] token` of the site file the gateway runs (None: none, or the demo site)."""
        if self.config is None:
            return None
        return load_site(self.config).http.token

    def get_text(self, path: str) -> str:
        """GET any resource (the phone XML services) as text."""
        with urllib.request.urlopen(self.http + path, timeout=10) as response:
            return str(response.read().decode("utf-8"))

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("gateway did not stop on SIGTERM:\n" + self.output()) from None
        self._join()
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            self.proc.wait()
        self._join()

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


class StartGateway(Protocol):
    """The `start_gateway` fixture (tests/gateway/conftest.py): ``start_gateway(config=...,
    extra=[...])`` is a started gateway, stopped when the test ends."""

    def __call__(self, *, config: Path | None = None, extra: Sequence[str] = ()) -> GatewayProcess: ...
