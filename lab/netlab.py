"""The lab LAN: network namespaces on 198.18.0.0/15 (RFC 2544 benchmarking space).

One switch namespace `<name>-sw` holds a bridge; the gateway host `<name>-gw`
(198.18.0.1) and phone hosts `<name>-p1`... (198.18.1.1, 198.18.1.2, ...) each get a veth
pair, `eth0` inside the host and a port in the switch. Network conditions (delay, jitter,
loss) go on each host's `eth0` with `tc qdisc ... netem`. Where the kernel has no
`sch_netem` (this machine's, for one), the switch is instead `lab.hub`, a userspace hub
that applies the same conditions to every frame it forwards: same LAN, same addresses.

Nothing here sends traffic anywhere but inside the namespaces it created. `available()`
says whether this machine allows namespaces; suites fall back to loopback when it does not.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from acdgate.lab.inventory import CLEAN, Impairment

CLONE_NEWNET = 0x40000000
PREFIX_LEN = 15
STATE_DIR = Path("/run/acdgate-lab")
T = TypeVar("T")


class NetlabError(RuntimeError):
    """The lab LAN could not be built or removed (says which command failed and why)."""


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *args] if netns is None else ["ip", "-n", netns, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise NetlabError(f"{' '.join(cmd)}: {proc.stderr.strip() or f'exit {proc.returncode}'}")
    return proc


@dataclass(frozen=True, slots=True)
class Host:
    """A lab host: a named network namespace with `eth0` at `ip`."""

    netns: str
    ip: str
    interface: str = "eth0"

    def command(self, args: Sequence[str]) -> list[str]:
        """`args` prefixed to run inside this host's namespace."""
        return ["ip", "netns", "exec", self.netns, *args]

    def call_inside(self, fn: Callable[[], T]) -> T:
        """Run `fn` on a thread that joined this namespace (sockets it opens stay inside)."""
        result: list[T] = []
        failure: list[BaseException] = []

        def body() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise NetlabError(f"setns({self.netns}): {os.strerror(ctypes.get_errno())}")
                finally:
                    os.close(fd)
                result.append(fn())
            except BaseException as exc:  # handed to the calling thread
                failure.append(exc)

        thread = threading.Thread(target=body, name=f"netns-{self.netns}")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return result[0]


def available(probe: str = "acdlab-probe") -> tuple[bool, str]:
    """Whether namespaces, veth pairs and bridges can be made here, and why not."""
    try:
        proc = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot run ip: {exc}"
    if proc.returncode != 0:
        return False, f"ip netns add: {proc.stderr.strip()} (needs root or CAP_SYS_ADMIN)"
    try:
        link = _ip("link", "add", "br0", "type", "bridge", netns=probe, check=False)
        if link.returncode != 0:
            return False, f"no bridge links: {link.stderr.strip()}"
        veth = _ip("link", "add", "a0", "type", "veth", "peer", "name", "a1", netns=probe, check=False)
        if veth.returncode != 0:
            return False, f"no veth links: {veth.stderr.strip()}"
        return True, "network namespaces, veth and bridges available"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10, check=False)


def netem_available(probe: str = "acdlab-netem") -> bool:
    """Whether `tc qdisc add ... netem` works here (the kernel's sch_netem)."""
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=10, check=False).returncode:
        return False
    try:
        _ip("link", "set", "lo", "up", netns=probe, check=False)
        tc = subprocess.run(["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                             "delay", "1ms"], capture_output=True, text=True, timeout=10, check=False)
        return tc.returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10, check=False)


class LabNet:
    """The lab LAN `name`: a switch namespace, a gateway host and `phones` phone hosts."""

    def __init__(self, name: str = "acdlab", *, phones: int = 4, impairment: Impairment = CLEAN) -> None:
        if not name.replace("-", "").isalnum() or len(name) > 12:
            raise NetlabError(f"lab name {name!r}: letters, digits and '-' only, 12 characters at most")
        if not 1 <= phones <= 250:
            raise NetlabError(f"phones: 1 to 250, not {phones}")
        self.name = name
        self.impairment = impairment
        self.switch = f"{name}-sw"
        self.gateway = Host(f"{name}-gw", "198.18.0.1")
        self.phones = [Host(f"{name}-p{i}", f"198.18.1.{i}") for i in range(1, phones + 1)]
        self.hub: subprocess.Popen[bytes] | None = None
        self.hub_pid: int | None = None
        self.conditions = "clean"

    @property
    def hosts(self) -> list[Host]:
        return [self.gateway, *self.phones]

    @property
    def state_file(self) -> Path:
        return STATE_DIR / f"{self.name}.json"

    def _port(self, host: Host) -> str:
        return "gw" if host is self.gateway else host.netns.rsplit("-", 1)[1]

    def up(self, *, detached: bool = False) -> LabNet:
        """Build the LAN (removing a stale one of the same name first)."""
        self.down()
        try:
            _ip("netns", "add", self.switch)
            _ip("link", "set", "lo", "up", netns=self.switch)
            for host in self.hosts:
                _ip("netns", "add", host.netns)
                _ip("link", "set", "lo", "up", netns=host.netns)
                _ip("link", "add", host.interface, "netns", host.netns, "type", "veth",
                    "peer", "name", self._port(host), "netns", self.switch)
                _ip("addr", "add", f"{host.ip}/{PREFIX_LEN}", "dev", host.interface, netns=host.netns)
                _ip("link", "set", host.interface, "up", netns=host.netns)
                _ip("link", "set", self._port(host), "up", netns=self.switch)
            use_hub = not self.impairment.is_clean and not self._netem()
            if use_hub:
                self._start_hub(detached)
            else:
                _ip("link", "add", "br0", "type", "bridge", netns=self.switch)
                for host in self.hosts:
                    _ip("link", "set", self._port(host), "master", "br0", netns=self.switch)
                _ip("link", "set", "br0", "up", netns=self.switch)
            self._save()
        except NetlabError:
            self.down()
            raise
        return self

    def _netem(self) -> bool:
        """netem on every host's eth0; False (nothing applied) when the kernel lacks it."""
        i = self.impairment
        args = ["tc", "qdisc", "add", "dev", "eth0", "root", "netem"]
        if i.delay_ms or i.jitter_ms:
            args += ["delay", f"{i.delay_ms:g}ms", f"{i.jitter_ms:g}ms"]
        if i.loss_percent:
            args += ["loss", f"{i.loss_percent:g}%"]
        for n, host in enumerate(self.hosts):
            proc = subprocess.run(host.command(args), capture_output=True, text=True, timeout=10, check=False)
            if proc.returncode != 0:
                if n == 0 and "unknown" in proc.stderr.lower():
                    return False
                raise NetlabError(f"{' '.join(args)} in {host.netns}: {proc.stderr.strip()}")
        self.conditions = f"netem: {self._describe_conditions()}"
        return True

    def _describe_conditions(self) -> str:
        i = self.impairment
        return f"delay {i.delay_ms:g} ms, jitter {i.jitter_ms:g} ms, loss {i.loss_percent:g} % per host"

    def _start_hub(self, detached: bool) -> None:
        i = self.impairment
        args = ["ip", "netns", "exec", self.switch, sys.executable, "-m", "acdgate.lab.hub",
                "--delay-ms", str(i.delay_ms), "--jitter-ms", str(i.jitter_ms), "--loss-percent",
                str(i.loss_percent), *(self._port(h) for h in self.hosts)]
        self.hub = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=detached)
        assert self.hub.stdout is not None
        line = self.hub.stdout.readline()
        if not line.startswith(b"hub ready"):
            err = self.hub.stderr.read().decode() if self.hub.stderr else ""
            self.hub.kill()
            self.hub.wait()
            raise NetlabError(f"userspace hub did not start: {line!r} {err}")
        self.hub_pid = self.hub.pid
        self.conditions = f"userspace hub (no sch_netem in this kernel): {self._describe_conditions()}"

    def _save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({
            "hub_pid": self.hub_pid, "conditions": self.conditions,
            "hosts": {h.netns: h.ip for h in self.hosts}}))

    def down(self) -> None:
        """Remove the LAN: stop the hub we started, delete the namespaces."""
        hub_pid = self.hub_pid
        if hub_pid is None and self.state_file.exists():
            try:
                hub_pid = json.loads(self.state_file.read_text()).get("hub_pid")
            except ValueError:
                hub_pid = None
        if self.hub is not None:
            self.hub.kill()
            self.hub.wait()
            for pipe in (self.hub.stdout, self.hub.stderr):
                if pipe is not None:
                    pipe.close()
            self.hub = None
        elif hub_pid:
            try:
                os.kill(int(hub_pid), signal.SIGTERM)  # the hub `net up` started and recorded
            except ProcessLookupError:
                pass
        self.hub_pid = None
        existing = set(_ip("netns", "list", check=False).stdout.split())
        for ns in [self.switch, *(h.netns for h in self.hosts)]:
            if ns in existing:
                _ip("netns", "del", ns, check=False)
        self.state_file.unlink(missing_ok=True)

    def describe(self) -> str:
        lines = [f"lab LAN {self.name} on 198.18.0.0/{PREFIX_LEN} ({self.conditions})"]
        lines += [f"  {h.netns}: {h.ip} ({h.interface})" for h in self.hosts]
        lines.append(f"  run a command on a host: ip netns exec {self.gateway.netns} COMMAND")
        return "\n".join(lines)

    def status(self) -> str:
        if not self.state_file.exists():
            return f"lab LAN {self.name}: down"
        data = json.loads(self.state_file.read_text())
        hosts = data.get("hosts", {})
        return "\n".join([f"lab LAN {self.name}: up ({data.get('conditions')})",
                          *(f"  {ns}: {ip}" for ns, ip in hosts.items())])

    def __enter__(self) -> LabNet:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()
