"""SIPp agents and callers for routing tests: cheap stand-ins for agents' phones and customers.

An agent station is two SIPp runs on one UDP port: `register_auth.xml` REGISTERs the station
(digest auth from an injection file) and exits, then a UAS scenario on the same port answers
every INVITE the gateway sends (the gateway sends to where the REGISTER came from). The UAS
rings (180), then answers after `answer_ms` with 200 + SDP, or never (ring-no-answer); a
CANCEL while ringing gets 200 and 487. It logs one line per event (`INVITE`, `CANCEL`,
`ANSWERED`, `BYE`) with the Call-ID, so a test can see what the phone itself went through.

A caller dials a group from a station (401, then the INVITE with credentials), is answered
by the gateway at once (ringback while it waits), and stays until the far end hangs up or
`hold_ms` has passed, then sends BYE itself. Its Call-ID is `<name>-1-<pid>@<ip>` (SIPp
`-cid_str`), which is the ACD's call id in the gateway's journal.

Everything runs under `prefix` (e.g. `NetworkNamespace.command([])`), bound to `ip`.
"""

from __future__ import annotations

import errno
import os
import pty
import re
import select
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from acdgate.lab.drivers.sipp_scenarios import agent_scenario, caller_scenario, injection

SIPP_DIR = Path(__file__).parent / "sipp"


_TERMINAL_CONTROL = re.compile(rb"\x1b(?:\[[0-9;?]*[A-Za-z]|\([A-Z0-9])")


def _drew_screen(screen: int, timeout: float) -> bool:
    """Whether SIPp drew its running UAS screen (footer "SIPp Server Mode") on the pty `screen`
    within `timeout` seconds. False when it exited first: it closes the pty (EOF, or EIO on
    Linux) after its final screen, whose footer is "Test Terminated"."""
    seen = b""
    deadline = time.monotonic() + timeout
    while b"SIPp Server Mode" not in _TERMINAL_CONTROL.sub(b"", seen):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([screen], [], [], remaining)[0]:
            return False
        try:
            chunk = os.read(screen, 65536)
        except OSError as exc:
            if exc.errno == errno.EIO:
                return False
            raise
        if not chunk:
            return False
        seen += chunk
    return True


def udp_port_bound(ip: str, port: int) -> bool:
    """Whether something already listens on UDP ip:port (our bind attempt fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, port))
        except OSError:
            return True
        return False


@dataclass(slots=True)
class SippRunner:
    """Where SIPp runs: the command prefix (a network namespace), the address it binds to,
    the gateway's SIP address, a scratch folder, and a way to test a port from inside."""

    prefix: list[str]
    ip: str
    gateway: tuple[str, int]
    folder: Path
    port_in_use: Callable[[str, int], bool] | None = None  # checks inside the namespace; None: here
    _ports: int = 0

    def next_port(self, span: int = 4) -> int:
        """The first of `span` fresh UDP ports for one process (5104, 5108, ...: below the
        ephemeral range; a SIPp's media ports, 20000 above, take two of its four), skipping a
        block found in use. A pyVoIP phone takes a block of 44 (its RTP ports are P+2 to P+40,
        picked at random per call: in a block of 4 they collided with the next SIPp agents')."""
        while True:
            port = 5100 + 4 * (self._ports + 1)
            self._ports += -(-span // 4)
            if not (self.in_use(port) or self.in_use(port + 20000)):
                return port

    def in_use(self, port: int) -> bool:
        if self.port_in_use is None:
            return udp_port_bound(self.ip, port)
        return self.port_in_use(self.ip, port)

    def sipp(self, *args: str) -> list[str]:
        return [*self.prefix, "sipp", *args]

    def injection(self, station: str) -> Path:
        path = self.folder / f"station_{station}.csv"
        path.write_text(injection([(station, f"pw{station}")]))
        return path


@dataclass(slots=True)
class SippAgent:
    """One agent phone: station `station` registered from a SIPp UAS that answers calls."""

    runner: SippRunner
    station: str
    answer_ms: int | None = 0
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)
    _screen: int = -1  # the pty SIPp draws its screen on (our end)

    def start(self, timeout: float = 10.0, attempts: int = 3) -> SippAgent:
        """REGISTER the station from our port, then start the UAS on that port (bound on return).
        If something takes the port between the two (seen once in CI: the UAS's bind failed with
        EADDRINUSE just after the REGISTER's SIPp had used it, most likely a pyVoIP phone's RTP
        port before `next_port` gave those a block of their own), register again from another."""
        for _ in range(attempts):
            if self._start_once(timeout):
                return self
        raise AssertionError(f"SIPp agent {self.station} found no port to bind in {attempts} tries")

    def _start_once(self, timeout: float) -> bool:
        """False when the UAS could not bind its port (try another), raises on other failures."""
        r = self.runner
        self.port = r.next_port()
        scenario = r.folder / f"agent_{self.station}.xml"
        scenario.write_text(agent_scenario(self.answer_ms))
        self.log_path = r.folder / f"agent_{self.station}.log"
        reg = subprocess.run(
            r.sipp("-sf", str(SIPP_DIR / "register_auth.xml"), "-inf", str(r.injection(self.station)),
                   "-i", r.ip, "-p", str(self.port), "-m", "1", "-nostdin", "-timeout", f"{int(timeout)}s",
                   f"{r.gateway[0]}:{r.gateway[1]}"),
            capture_output=True, text=True, timeout=timeout + 10, cwd=r.folder)
        if reg.returncode != 0:
            raise AssertionError(f"station {self.station} did not register:\n{reg.stdout[-1500:]}{reg.stderr[-1500:]}")
        errors = r.folder / f"agent_{self.station}_errors.log"
        errors.unlink(missing_ok=True)
        # SIPp draws its running screen once its sockets are bound (src/sipp.cpp: open_connections,
        # then traffic_thread's first report), and only on a terminal: give it a pty and wait
        # for that screen. `-f 3600` keeps it from drawing again, so nothing need drain the pty.
        self._screen, terminal = pty.openpty()
        self.proc = subprocess.Popen(
            r.sipp("-sf", str(scenario), "-i", r.ip, "-p", str(self.port), "-nostdin", "-mp", str(self.port + 20000),
                   "-f", "3600", "-trace_logs", "-log_file", str(self.log_path),
                   "-trace_err", "-error_file", str(errors)),
            stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.DEVNULL, cwd=r.folder)
        os.close(terminal)
        if _drew_screen(self._screen, timeout):
            return True
        exited = self.proc.poll() is not None
        said = errors.read_text(errors="replace") if errors.exists() else ""
        self.stop()
        if exited and "Unable to bind main socket" in said:
            return False
        raise AssertionError(f"SIPp agent {self.station} did not start ({self.proc.poll()}): {said[-500:]}")

    def events(self) -> list[tuple[str, str]]:
        """(event, Call-ID) for what this phone went through, in order."""
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[-2] in ("INVITE", "CANCEL", "ANSWERED", "BYE"):
                out.append((parts[-2], parts[-1]))
        return out

    def count(self, event: str) -> int:
        return sum(1 for e, _ in self.events() if e == event)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._screen >= 0:
            os.close(self._screen)
            self._screen = -1


@dataclass(slots=True)
class SippCaller:
    """One customer call into `group` from `station`; `call_id` is the ACD's call id."""

    runner: SippRunner
    name: str
    station: str
    group: str
    hold_ms: int
    proc: subprocess.Popen[bytes] | None = None
    call_id_prefix: str = ""

    def start(self) -> SippCaller:
        r = self.runner
        port = r.next_port()
        scenario = r.folder / f"caller_{self.hold_ms}.xml"
        if not scenario.exists():
            scenario.write_text(caller_scenario(self.hold_ms))
        self.call_id_prefix = f"{self.name}-"
        self.proc = subprocess.Popen(
            r.sipp("-sf", str(scenario), "-inf", str(r.injection(self.station)), "-i", r.ip, "-p", str(port),
                   "-mp", str(port + 20000), "-s", self.group, "-m", "1", "-nostdin",
                   "-cid_str", f"{self.name}-%u-%p@%s", "-timeout", f"{self.hold_ms // 1000 + 20}s",
                   "-trace_logs", "-log_file", str(r.folder / f"caller_{self.name}.log"),
                   "-trace_err", "-error_file", str(r.folder / f"caller_{self.name}_errors.log"),
                   f"{r.gateway[0]}:{r.gateway[1]}"),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=r.folder)
        return self

    def wait(self, timeout: float = 30.0) -> str:
        """Wait for the call to end; returns how it ended (`FAR-END-BYE` or `CALLER-BYE`)."""
        assert self.proc is not None
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError(f"caller {self.name} still in its call after {timeout} s") from None
        log = self.runner.folder / f"caller_{self.name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        errors = self.runner.folder / f"caller_{self.name}_errors.log"
        if self.proc.returncode != 0:
            err = errors.read_text(errors="replace") if errors.exists() else ""
            raise AssertionError(f"caller {self.name} failed ({self.proc.returncode}):\n"
                                 f"{out.decode(errors='replace')[-1500:]}\n{err[-3000:]}")
        return "FAR-END-BYE" if "FAR-END-BYE" in text else "CALLER-BYE"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
