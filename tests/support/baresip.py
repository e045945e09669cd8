"""A real baresip process for tests, driven through its ctrl_tcp JSON interface.

`Baresip` writes a config folder (no audio device; only g711, aufile, sndfile, account,
menu and ctrl_tcp), starts baresip (inside a `NetworkNamespace` when given one: baresip
wants a non-loopback address for its Contact and SDP), waits for "baresip is ready.",
connects to ctrl_tcp and reads its netstring-framed JSON events. Accounts are added after
the connection is up (`uanew`), so no REGISTER_OK can slip by before the test listens.

Calls: `dial()` (ctrl_tcp `dial`), `send_dtmf()` (`sndcode`: RFC 4733 events, baresip 1.0
has no SIP INFO DTMF), `hangup()`, `wait_event()` for CALL_ESTABLISHED / CALL_CLOSED. The
microphone is a WAV of silence (baresip 1.0's `ausine` only runs at 48 kHz and would need a
resampler; silence also keeps in-band audio out of DTMF tests). What baresip *received* is
recorded by the `sndfile` audio filter, which writes each call's decoded stream to
`dump-<time>-dec.wav` (baresip 1.0's `aufile` is a source only, it cannot be the player);
`received_audio()` hands that file over once the call is gone.

    phone = Baresip(tmp / "baresip", netns=ns, net_interface="veth1").start()
    event = phone.register("<sip:2101@198.18.0.1:5060;transport=udp>;auth_pass=pw2101")
    phone.dial("sip:*36@198.18.0.1:5060")
    phone.wait_event({"CALL_CLOSED"})
    samples = read_wav_samples(phone.received_audio())
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
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from netns import NetworkNamespace

MODULE_PATH = "/usr/lib/baresip/modules"
READY_LINE = b"baresip is ready."
SILENCE_SECONDS = 120  # longer than any test call: aufile ends the call at the end of its file


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
        self._calls_recorded = 0

    # -- configuration -------------------------------------------------------------------

    def config_text(self) -> str:
        """The `config` file: no audio device, no UI but ctrl_tcp on loopback."""
        lines = {
            "poll_method": "epoll",
            "module_path": MODULE_PATH,
            # no player module is loaded (aufile has none in 1.0): the received stream is
            # decoded, passed through sndfile and then dropped
            "audio_player": "aufile,/dev/null",
            "audio_source": f"aufile,{self.silence_path}",
            "audio_alert": "aufile,/dev/null",
            "ctrl_tcp_listen": f"127.0.0.1:{self.ctrl_port}",
            "snd_path": str(self.snd_path),
            # no jitter buffer: it holds back the last frames of a call, which never get
            # decoded (and so never reach sndfile) when the far end hangs up
            "jitter_buffer_delay": "0-0",
        }
        if self.net_interface is not None:
            lines["net_interface"] = self.net_interface
        if self.sip_cafile is not None:
            lines["sip_cafile"] = str(self.sip_cafile)
        lines.update(self.extra_config)
        text = "".join(f"{k}\t\t{v}\n" for k, v in lines.items())
        modules = [("module", "g711.so"), ("module", "aufile.so"), ("module", "sndfile.so"),
                   ("module_tmp", "account.so"), ("module_app", "menu.so"), ("module_app", "ctrl_tcp.so")]
        return text + "".join(f"{kind}\t\t{name}\n" for kind, name in modules)

    @property
    def snd_path(self) -> Path:
        """Where sndfile writes each call's audio (`dump-<time>-enc.wav` / `-dec.wav`)."""
        return self.home / "calls"

    @property
    def silence_path(self) -> Path:
        return self.home / "silence.wav"

    def _write_silence(self) -> None:
        # aufile wants the codec's own rate: 8 kHz mono 16-bit for G.711
        with wave.open(str(self.silence_path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(bytes(2 * 8000 * SILENCE_SECONDS))

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
        self.snd_path.mkdir(exist_ok=True)
        self._write_silence()
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

    # -- calls ---------------------------------------------------------------------------

    def dial(self, uri: str, timeout: float = 10.0) -> None:
        """Start a call (`dial`); a `#` in the user part must be sent as `%23`.

        Progress comes as events: CALL_ESTABLISHED when answered, CALL_CLOSED at the end.
        """
        self.command("dial", uri, timeout)

    def send_dtmf(self, digits: str, timeout: float = 10.0) -> None:
        """Key presses in the current call (`sndcode`): RFC 4733 telephone-events, queued and
        sent one after the other (each for at least 9 packets, then its end packets)."""
        self.command("sndcode", digits, timeout)

    def hangup(self, timeout: float = 10.0) -> None:
        """Hang up the current call (`hangup`: CANCEL or BYE)."""
        self.command("hangup", "", timeout)

    def wait_call_closed(self, timeout: float = 15.0) -> BaresipEvent:
        """The next CALL_CLOSED; its `param` says why ("Connection reset by peer" for a BYE)."""
        return self.wait_event({"CALL_CLOSED"}, timeout)

    def received_audio(self, timeout: float = 10.0) -> Path:
        """The decoded audio of the call that just closed, as a WAV of its own.

        sndfile names its files by the second the call started, so a later call in the same
        second would reuse the name: the file is renamed `received-<n>.wav`. A command round
        trip first makes sure baresip has finished closing the call (the call, and with it
        sndfile's file, is freed right after the CALL_CLOSED event is sent).
        """
        self.command("listcalls", "", timeout)
        dumps = sorted(self.snd_path.glob("dump-*-dec.wav"))
        if len(dumps) != 1:
            raise BaresipError(f"expected one sndfile dump in {self.snd_path}, found {dumps}\n{self.output()}")
        self._calls_recorded += 1
        target = self.snd_path / f"received-{self._calls_recorded}.wav"
        dumps[0].rename(target)
        for sent in self.snd_path.glob("dump-*-enc.wav"):
            sent.rename(self.snd_path / f"sent-{self._calls_recorded}.wav")
        return target


def read_wav_samples(path: Path) -> npt.NDArray[np.int16]:
    """A mono 16-bit 8 kHz WAV (sndfile's dump of a G.711 call) as int16 samples."""
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, 8000):
            raise ValueError(f"{path}: {w.getnchannels()} ch, {8 * w.getsampwidth()} bit, "
                             f"{w.getframerate()} Hz; expected 8 kHz mono 16-bit")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.int16)
