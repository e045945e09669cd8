"""baresip endpoints: a baresip process controlled over its `ctrl_tcp` module.

`BaresipProcess` writes a config folder (no audio device: a silent WAV source, the `sndfile`
module records each call's received audio; g711, account, menu and ctrl_tcp listening on
loopback), starts baresip (inside a lab host's network namespace when given one: baresip
wants a non-loopback address for its Contact and SDP), waits for "baresip is ready.",
connects to ctrl_tcp and reads its netstring-framed JSON events on a thread. Accounts are
added after the connection is up (`uanew`), so no REGISTER_OK can slip by unobserved.

`BaresipEndpoint` is the lab `Endpoint` on top: DTMF by RFC 4733 (`sndcode`: libre's telev
sends at least 9 packets of a key, then its end packet three times, RFC 4733 2.5.1.4) or
in-band, and tones (the audio source switched to a WAV of the tones); baresip 1.0 cannot
send SIP INFO.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import wave
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

from acdgate.lab.drivers.base import (
    DtmfMethod,
    Endpoint,
    EndpointError,
    Observation,
    ObservationKind,
)
from acdgate.lab.drivers.heard import read_wav, tones_in
from acdgate.lab.inventory import EndpointSpec

MODULE_PATH = "/usr/lib/baresip/modules"
READY_LINE = b"baresip is ready."
# baresip 1.0's sndfile names a dump `<snd_path>/dump-<local time>-dec.wav` in a 128-byte
# buffer and silently cuts a longer name short: the dump is then never found
SNDFILE_NAME_MAX = 127
SNDFILE_DUMP_NAME = "dump-2000-01-01-00-00-00-dec.wav"
T = TypeVar("T")


class NetHost(Protocol):
    """A network namespace to run in: commands prefixed, sockets opened from inside."""

    def command(self, args: Sequence[str]) -> list[str]: ...

    def call_inside(self, fn: Callable[[], T]) -> T: ...


class BaresipError(EndpointError):
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


def short_alias(target: Path) -> Path:
    """A short path to the folder `target`: a symlink in a new folder of the temp dir.

    Every path baresip is given goes through it, so where a checkout lives cannot push
    sndfile's dump names past its buffer (see `SNDFILE_NAME_MAX`); the files themselves
    land in `target`. `drop_alias` removes it."""
    folder = Path(tempfile.mkdtemp(prefix="baresip-"))
    link = folder / "h"
    link.symlink_to(target.resolve(), target_is_directory=True)
    longest = len(os.fsencode(link / "calls" / SNDFILE_DUMP_NAME))
    if longest > SNDFILE_NAME_MAX:
        drop_alias(link)
        raise BaresipError(f"baresip's sndfile cannot name its dumps under {link} ({longest} bytes, "
                           f"at most {SNDFILE_NAME_MAX}): set TMPDIR to a shorter folder")
    return link


def drop_alias(link: Path) -> None:
    """Remove a `short_alias` (the symlink and its folder; the target is untouched)."""
    link.unlink(missing_ok=True)
    try:
        link.parent.rmdir()
    except OSError:
        pass


def _write_wav(path: Path, pcm16: bytes) -> None:
    """A mono 8 kHz 16-bit WAV (baresip's aufile source wants the codec's rate)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm16)


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


class BaresipProcess:
    """One baresip user agent with a generated config folder and a ctrl_tcp connection."""

    def __init__(
        self,
        home: Path,
        *,
        netns: NetHost | None = None,
        net_interface: str | None = None,
        sip_cafile: Path | None = None,
        ctrl_port: int | None = None,
        extra_config: dict[str, str] | None = None,
        on_event: Callable[[BaresipEvent], None] | None = None,
    ) -> None:
        self.home = home
        self.netns = netns
        self.net_interface = net_interface
        self.sip_cafile = sip_cafile
        self.ctrl_port = ctrl_port
        self.extra_config = extra_config or {}
        self.on_event = on_event
        self.proc: subprocess.Popen[bytes] | None = None
        self.ctrl: socket.socket | None = None
        self.lines: list[str] = []
        self.events: deque[BaresipEvent] = deque()
        self._responses: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._drain: threading.Thread | None = None
        self._ctrl_reader: threading.Thread | None = None
        self._tokens = 0
        self._unawaited: set[str] = set()  # tokens of commands `send` did not wait for
        self._send_lock = threading.Lock()  # commands come from the caller's and the reader's threads
        self._alias: Path | None = None

    @property
    def snd_path(self) -> Path:
        """Where each call's sndfile dumps land (`dump-<time>-enc.wav` / `-dec.wav`)."""
        return self.home / "calls"

    @property
    def silent_source(self) -> str:
        """The `aufile` source of no sound: the microphone between calls and until a tone."""
        return f"aufile,{self.visible(self.home / 'silence.wav')}"

    def visible(self, path: Path) -> str:
        """`path` (inside `home`) as baresip is told it: through the short alias of `home`."""
        if self._alias is None:
            self.home.mkdir(parents=True, exist_ok=True)
            self._alias = short_alias(self.home)
        return str(self._alias / path.resolve().relative_to(self.home.resolve()))

    # -- configuration -------------------------------------------------------------------

    def config_text(self) -> str:
        """The `config` file: no audio device (a silent WAV source), no UI but ctrl_tcp on loopback."""
        lines = {
            "poll_method": "epoll",
            "module_path": MODULE_PATH,
            "audio_player": "aufile,/dev/null",
            "audio_source": self.silent_source,
            "audio_alert": "aufile,/dev/null",
            "ctrl_tcp_listen": f"127.0.0.1:{self.ctrl_port}",
            "snd_path": self.visible(self.snd_path),
        }
        if self.net_interface is not None:
            lines["net_interface"] = self.net_interface
        if self.sip_cafile is not None:
            lines["sip_cafile"] = str(self.sip_cafile)
        lines.update(self.extra_config)
        text = "".join(f"{k}\t\t{v}\n" for k, v in lines.items())
        modules = [("module", "g711.so"), ("module", "aufile.so"),
                   ("module", "sndfile.so"), ("module_tmp", "account.so"), ("module_app", "menu.so"),
                   ("module_app", "ctrl_tcp.so")]
        return text + "".join(f"{kind}\t\t{name}\n" for kind, name in modules)

    def _inside(self, fn: Callable[[], T]) -> T:
        return self.netns.call_inside(fn) if self.netns is not None else fn()

    # -- life cycle ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Self:
        """Write the config, start baresip, wait for its ready line, connect to ctrl_tcp."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.snd_path.mkdir(exist_ok=True)
        if self.ctrl_port is None:
            def pick() -> int:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", 0))
                    return int(s.getsockname()[1])
            self.ctrl_port = self._inside(pick)
        _write_wav(self.home / "silence.wav", bytes(2 * 8000 * 120))  # 2 minutes of 8 kHz silence
        (self.home / "config").write_text(self.config_text())
        (self.home / "accounts").write_text("")  # accounts come later, through `uanew`
        args = ["baresip", "-f", self.visible(self.home)]
        if self.netns is not None:
            args = self.netns.command(args)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
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
            self.ctrl = self._inside(lambda: socket.create_connection(address, timeout))
        except OSError as exc:
            self.kill()
            raise BaresipError(f"cannot connect to ctrl_tcp at {address}: {exc}\n{self.output()}") from None
        self.ctrl.settimeout(None)
        self._ctrl_reader = threading.Thread(target=self._read_ctrl, daemon=True, name="baresip-ctrl")
        self._ctrl_reader.start()
        return self

    def _drain_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    def _read_ctrl(self) -> None:
        reader = NetstringReader()
        sock = self.ctrl
        assert sock is not None
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            for payload in reader.feed(data):
                message = json.loads(payload)
                with self._cond:
                    if message.get("event"):
                        event = BaresipEvent(
                            type=str(message.get("type", "")), event_class=str(message.get("class", "")),
                            account=str(message.get("accountaor", "")), param=str(message.get("param", "")),
                            raw=message)
                        self.events.append(event)
                        if self.on_event is not None:
                            self.on_event(event)
                    elif message.get("response"):
                        token = str(message.get("token", ""))
                        if token in self._unawaited:
                            self._unawaited.discard(token)
                            if not message.get("ok"):  # nobody waits: its output tells
                                self.lines.append(f"acdgate: ctrl_tcp command {token} failed: {message.get('data')}\n")
                        else:
                            self._responses[token] = message
                    self._cond.notify_all()

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
            try:
                self.ctrl.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.ctrl.close()
            self.ctrl = None
        if self._ctrl_reader is not None:
            self._ctrl_reader.join(5)
            self._ctrl_reader = None

    def _join(self) -> None:
        if self._drain is not None:
            self._drain.join(5)
            self._drain = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._alias is not None:
            drop_alias(self._alias)
            self._alias = None

    # -- ctrl_tcp ------------------------------------------------------------------------

    def command(self, command: str, params: str = "", timeout: float = 10.0) -> dict[str, Any]:
        """Run a baresip command (`reginfo`, `uanew ...`) and return its response message."""
        if self.ctrl is None:
            raise BaresipError("ctrl_tcp not connected")
        token = self._send(command, params, awaited=True)
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self._responses:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise BaresipError(f"no response to {command!r} in {timeout} s:\n{self.output()}")
                self._cond.wait(remaining)
            response = self._responses.pop(token)
        if not response.get("ok"):
            raise BaresipError(f"{command} {params}: {response.get('data')}\n{self.output()}")
        return response

    def send(self, command: str, params: str = "") -> None:
        """Run a baresip command without waiting for its response: for the reader thread's
        event handlers, which `command` would deadlock (its response comes on that thread).
        ctrl_tcp runs commands in order, so any later `command` sees its effect; a failure
        is written to the output."""
        if self.ctrl is None:
            raise BaresipError("ctrl_tcp not connected")
        self._send(command, params, awaited=False)

    def _send(self, command: str, params: str, *, awaited: bool) -> str:
        assert self.ctrl is not None
        with self._cond:
            self._tokens += 1
            token = f"t{self._tokens}"
            if not awaited:
                self._unawaited.add(token)
        request = {"command": command, "params": params, "token": token}
        with self._send_lock:
            self.ctrl.sendall(netstring(json.dumps(request).encode()))
        return token

    def wait_event(self, types: set[str], timeout: float = 10.0) -> BaresipEvent:
        """The next event whose type is in `types` (earlier ones of other types are dropped)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self.events:
                    event = self.events.popleft()
                    if event.type in types:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise BaresipError(f"no {sorted(types)} event in {timeout} s:\n{self.output()}")
                self._cond.wait(remaining)

    def register(self, account: str, timeout: float = 10.0) -> BaresipEvent:
        """Add an account (baresip's accounts-file syntax) and wait for its REGISTER_OK."""
        self.command("uanew", account, timeout)
        event = self.wait_event({"REGISTER_OK", "REGISTER_FAIL"}, timeout)
        if event.type != "REGISTER_OK":
            raise BaresipError(f"{event.type} for {event.account}: {event.param}\n{self.output()}")
        return event


class BaresipEndpoint(Endpoint):
    """A baresip softphone as a lab endpoint."""

    dtmf_methods = frozenset({DtmfMethod.RFC4733, DtmfMethod.INBAND})

    def __init__(self, spec: EndpointSpec, gateway: tuple[str, int], *, workdir: Path,
                 netns: NetHost | None = None, net_interface: str | None = None,
                 regint: int = 600) -> None:
        super().__init__(spec)
        self.gateway = gateway
        self.workdir = workdir
        self.regint = regint
        self.process = BaresipProcess(workdir, netns=netns, net_interface=net_interface,
                                      on_event=self._on_event)
        self._dtmf_files = 0
        self._live_calls = 0  # calls made or offered and not yet closed (CALL_CLOSED comes for each)
        self._call_started = 0.0  # wall clock of the newest call's start (sndfile names dumps by it)
        self._source_silent = True  # the audio source is the silent WAV (no tone or DTMF file)

    def start(self) -> BaresipEndpoint:
        self.process.start()
        return self

    @property
    def aor(self) -> str:
        host, port = self.gateway
        return f"sip:{self.spec.username}@{host}:{port};transport={self.spec.transport}"

    def register(self, timeout: float = 15.0) -> Observation:
        self.process.command("uanew", f"<{self.aor}>;auth_pass={self.spec.password};regint={self.regint}", timeout)
        return self.wait_for({ObservationKind.REGISTERED, ObservationKind.REGISTER_FAILED}, timeout)

    def _on_event(self, event: BaresipEvent) -> None:
        t = event.type
        if t == "REGISTER_OK":
            self.observe(ObservationKind.REGISTERED, account=event.account)
        elif t == "REGISTER_FAIL":
            self.observe(ObservationKind.REGISTER_FAILED, reason=event.param)
        elif t == "CALL_ESTABLISHED":
            self._call_started = time.time()  # its audio (and dump) starts now
            self.observe(ObservationKind.CALL_ANSWERED, peer=str(event.raw.get("peeruri", "")))
        elif t == "CALL_INCOMING":
            self._live_calls += 1
            self._call_started = time.time()
            self.observe(ObservationKind.CALL_INCOMING, caller=str(event.raw.get("peeruri", "")),
                         display=str(event.raw.get("peerdisplayname", "")))
        elif t == "CALL_CLOSED":
            # param: "Connection reset by user" / "Rejected by user" for local hang-ups, the
            # peer's status line ("403 Wrong pin") for refusals, else the BYE's reason.
            param = event.param
            status = param.split(" ", 1)[0]
            self._live_calls = max(0, self._live_calls - 1)
            if not self._live_calls:
                self._silence_source()
            audio, heard = self._heard()
            if status.isdigit() and int(status) >= 300 and not self._was_answered():
                self.observe(ObservationKind.CALL_REFUSED, status=status, reason=param)
            for name in heard:
                self.observe(ObservationKind.TONE, name=name)
            self.observe(ObservationKind.CALL_ENDED, by="local" if "user" in param.lower() else "remote",
                         reason=param, audio=audio)

    def _was_answered(self) -> bool:
        for obs in reversed(self.observed):
            if obs.kind is ObservationKind.CALL_ANSWERED:
                return True
            if obs.kind is ObservationKind.CALL_ENDED:
                return False
        return False

    def _heard(self) -> tuple[str, list[str]]:
        """The decoded-audio dump of sndfile of the call that closed, renamed so the next call's
        is told apart, and the tones in it. Calls that overlap (a short code dialled while
        talking) close newest first: the newest dump is the closing call's (dumps are named by
        their start time), older ones are still written by calls that are up."""
        dumps = sorted(self.process.snd_path.glob("dump-*-dec.wav"), key=lambda p: (p.name, p.stat().st_mtime))
        if not dumps:
            return "", []
        closing = dumps if not self._live_calls else dumps[-1:]
        kept = [p.rename(p.with_name(p.stem + ".heard.wav")) for p in closing]
        try:
            return str(kept[-1]), tones_in(read_wav(kept[-1]))
        except (OSError, ValueError, EOFError, wave.Error):
            return str(kept[-1]), []

    def dial(self, digits: str) -> None:
        """Call `digits`; a second call while one is up starts in a later wall-clock second than
        the first (sndfile names its dumps to the second: two in one second share a file)."""
        host, port = self.gateway
        if self._live_calls and int(time.time()) == int(self._call_started):
            time.sleep(1.0 - time.time() % 1.0 + 0.01)  # to the next second: what sndfile names by
        self._live_calls += 1
        self._call_started = time.time()
        self.process.command("dial", f"sip:{digits.replace('#', '%23')}@{host}:{port}")

    def _send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        if method is DtmfMethod.RFC4733:
            for digit in digits:
                self.process.command("sndcode", digit)
            return
        from acdgate.codecs.dtmf_generator import generate_digits

        self._dtmf_files += 1
        path = self.workdir / f"dtmf{self._dtmf_files}.wav"
        _write_wav(path, generate_digits(digits, tone_ms=120, pause_ms=120).astype("<i2").tobytes()
                   + bytes(2 * 8000 * 60))
        self._use_source(path)

    def answer(self) -> None:
        self.process.command("accept")

    def play_tone(self, freq: float, seconds: float) -> None:
        """The audio source switched to a WAV of the tone (then a minute of silence)."""
        from acdgate.lab.drivers.heard import sine

        self._dtmf_files += 1
        path = self.workdir / f"tone{self._dtmf_files}.wav"
        _write_wav(path, sine(freq, seconds).astype("<i2").tobytes() + bytes(2 * 8000 * 60))
        self._use_source(path)

    def _use_source(self, path: Path) -> None:
        self._source_silent = False
        self.process.command("ausrc", f"aufile,{self.process.visible(path)}")

    def _silence_source(self) -> None:
        """Back to the silent WAV when the last call closes. A tone lasts its call: baresip's
        `ausrc` sets its configured source, which the next call (made or offered) would start
        with, replaying the tone from its start until the scenario chose that call's own (a
        supervisor barging in once started with the tone it had monitored with)."""
        if not self._source_silent:
            self._source_silent = True
            self.process.send("ausrc", self.process.silent_source)

    def hangup(self) -> None:
        self.process.command("hangup")

    def stop(self) -> None:
        try:
            self.process.stop()
        except BaresipError:
            self.process.kill()

    def diagnostics(self) -> str:
        return self.process.output()
