"""A real baresip process for tests, driven through its ctrl_tcp JSON interface.

`Baresip` writes a config folder (no audio device: ausine/aufile; only g711, account,
menu and ctrl_tcp), starts baresip (inside a `NetworkNamespace` when given one: baresip
wants a non-loopback address for its Contact and SDP), waits for "baresip is ready.",
connects to ctrl_tcp and reads its netstring-framed JSON events. Accounts are added after
the connection is up (`uanew`), so no REGISTER_OK can slip by before the test listens.

    phone = Baresip(tmp / "baresip", netns=ns, net_interface="veth1").start()
    event = phone.register("<sip:2101@198.18.0.1:5060;transport=udp>;auth_pass=pw2101")
    phone.stop()
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netns import NetworkNamespace

MODULE_PATH = "/usr/lib/baresip/modules"
READY_LINE = b"baresip is ready."


class BaresipError(AssertionError):
    """baresip did not start, answer or register in time (carries its output)."""


class NetstringReader:
    """Splits a byte stream into netstrings (`<len>:<payload>,`, djb's format)."""

    MAX = 1 << 20

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return every complete payload."""
        self.buffer += data
        out: list[bytes] = []
        while True:
            colon = self.buffer.find(b":")
            if colon < 0:
                if len(self.buffer) > 10:
                    raise BaresipError(f"not a netstring: {self.buffer[:40]!r}")
                return out
            head = self.buffer[:colon]
            if not head.isdigit() or int(head) > self.MAX:
                raise BaresipError(f"bad netstring length {head[:20]!r}")
            end = colon + 1 + int(head)
            if len(self.buffer) <= end:
                return out
            if self.buffer[end:end + 1] != b",":
                raise BaresipError(f"netstring without its comma: {self.buffer[:60]!r}")
            out.append(self.buffer[colon + 1:end])
            self.buffer = self.buffer[end + 1:]


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


@dataclass(frozen=True, slots=True)
class BaresipEvent:
    """One ctrl_tcp event: `type` is REGISTER_OK, REGISTER_FAIL, CALL_INCOMING, ..."""

    type: str
    event_class: str
    account: str
    param: str
    raw: dict[str, Any]


class Baresip:
    """One baresip user agent with a generated config folder and a ctrl_tcp connection."""

    def __init__(
        self,
        home: Path,
        *,
        netns: NetworkNamespace | None = None,
        net_interface: str | None = None,
        sip_cafile: Path | None = None,
        ctrl_port: int | None = None,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.netns = netns
        self.net_interface = net_interface
        self.sip_cafile = sip_cafile
        self.ctrl_port = ctrl_port
        self.extra_config = extra_config or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.ctrl: socket.socket | None = None
        self.lines: list[str] = []
        self.events: deque[BaresipEvent] = deque()
        self._responses: dict[str, dict[str, Any]] = {}
        self._reader = NetstringReader()
        self._drain: threading.Thread | None = None
        self._tokens = 0

    # -- configuration -------------------------------------------------------------------

    def config_text(self) -> str:
        """The `config` file: no audio device, no UI but ctrl_tcp on loopback."""
        lines = {
            "poll_method": "epoll",
            "module_path": MODULE_PATH,
            "audio_player": "aufile,/dev/null",
            "audio_source": "ausine,440",
            "audio_alert": "aufile,/dev/null",
            "ctrl_tcp_listen": f"127.0.0.1:{self.ctrl_port}",
        }
        if self.net_interface is not None:
            lines["net_interface"] = self.net_interface
        if self.sip_cafile is not None:
            lines["sip_cafile"] = str(self.sip_cafile)
        lines.update(self.extra_config)
        text = "".join(f"{k}\t\t{v}\n" for k, v in lines.items())
        modules = [("module", "g711.so"), ("module", "ausine.so"), ("module", "aufile.so"),
                   ("module_tmp", "account.so"), ("module_app", "menu.so"), ("module_app", "ctrl_tcp.so")]
        return text + "".join(f"{kind}\t\t{name}\n" for kind, name in modules)

    def _free_ctrl_port(self) -> int:
        def pick() -> int:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                return int(s.getsockname()[1])

        return self.netns.call_inside(pick) if self.netns is not None else pick()

    # -- life cycle ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Baresip:
        """Write the config, start baresip, wait for its ready line, connect to ctrl_tcp."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.ctrl_port is None:
            self.ctrl_port = self._free_ctrl_port()
        (self.home / "config").write_text(self.config_text())
        (self.home / "accounts").write_text("")  # accounts come later, through `uanew`
        args = ["baresip", "-f", str(self.home)]
        kwargs: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "stdin": subprocess.DEVNULL}
        self.proc = self.netns.popen(args, **kwargs) if self.netns is not None else subprocess.Popen(args, **kwargs)
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        pending = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while READY_LINE not in pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    self.kill()
                    raise BaresipError("baresip not ready in time:\n" + pending.decode("utf-8", "replace"))
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait()
                    raise BaresipError(f"baresip exited {self.proc.returncode}:\n" + pending.decode("utf-8", "replace"))
                pending += chunk
        self.lines.append(pending.decode("utf-8", "replace"))
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()
        address = ("127.0.0.1", self.ctrl_port)
        try:
            if self.netns is not None:
                self.ctrl = self.netns.connect(address, timeout)
            else:
                self.ctrl = socket.create_connection(address, timeout)
        except OSError as exc:
            self.kill()
            raise BaresipError(f"cannot connect to ctrl_tcp at {address}: {exc}\n{self.output()}") from None
        return self

    def _drain_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (baresip un-REGISTERs, then exits) and wait; SIGKILL if it hangs."""
        self._close_ctrl()
        if self.proc is None:
            return 0
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BaresipError("baresip did not stop on SIGTERM:\n" + self.output()) from None
        self._join()
        return self.proc.returncode

    def kill(self) -> None:
        self._close_ctrl()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            self.proc.wait()
        self._join()

    def _close_ctrl(self) -> None:
        if self.ctrl is not None:
            self.ctrl.close()
            self.ctrl = None

    def _join(self) -> None:
        if self._drain is not None:
            self._drain.join(5)
            self._drain = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    # -- ctrl_tcp ------------------------------------------------------------------------

    def _receive(self, deadline: float) -> bool:
        """Read what ctrl_tcp sent, until `deadline`; False on timeout."""
        if self.ctrl is None:
            raise BaresipError("ctrl_tcp not connected")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.ctrl.settimeout(remaining)
        try:
            data = self.ctrl.recv(65536)
        except TimeoutError:
            return False
        if not data:
            raise BaresipError("baresip closed ctrl_tcp:\n" + self.output())
        for payload in self._reader.feed(data):
            message = json.loads(payload)
            if message.get("event"):
                self.events.append(BaresipEvent(
                    type=str(message.get("type", "")), event_class=str(message.get("class", "")),
                    account=str(message.get("accountaor", "")), param=str(message.get("param", "")),
                    raw=message,
                ))
            elif message.get("response"):
                self._responses[str(message.get("token", ""))] = message
        return True

    def command(self, command: str, params: str = "", timeout: float = 10.0) -> dict[str, Any]:
        """Run a baresip command (`reginfo`, `uanew ...`) and return its response message."""
        if self.ctrl is None:
            raise BaresipError("ctrl_tcp not connected")
        self._tokens += 1
        token = f"t{self._tokens}"
        request = {"command": command, "params": params, "token": token}
        self.ctrl.sendall(netstring(json.dumps(request).encode()))
        deadline = time.monotonic() + timeout
        while token not in self._responses:
            if not self._receive(deadline):
                raise BaresipError(f"no response to {command!r} in {timeout} s:\n{self.output()}")
        response = self._responses.pop(token)
        if not response.get("ok"):
            raise BaresipError(f"{command} {params}: {response.get('data')}\n{self.output()}")
        return response

    def wait_event(self, types: set[str], timeout: float = 10.0) -> BaresipEvent:
        """The next event whose type is in `types` (earlier ones of other types are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            while self.events:
                event = self.events.popleft()
                if event.type in types:
                    return event
            if not self._receive(deadline):
                raise BaresipError(f"no {sorted(types)} event in {timeout} s:\n{self.output()}")

    def register(self, account: str, timeout: float = 10.0) -> BaresipEvent:
        """Add an account (baresip's accounts-file syntax) and wait for its REGISTER_OK.

        A REGISTER_FAIL fails with baresip's reason and output.
        """
        self.command("uanew", account, timeout)
        event = self.wait_event({"REGISTER_OK", "REGISTER_FAIL"}, timeout)
        if event.type != "REGISTER_OK":
            raise BaresipError(f"{event.type} for {event.account}: {event.param}\n{self.output()}")
        return event
