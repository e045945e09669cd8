"""Relay benchmark (issue 6): concurrent relayed G.711 calls through `acdgate run`, with loss,
added jitter and the gateway's CPU share; in the same run a bare Twisted UDP forwarder (one
process, the same socket pairs and packet rate, no RTP parsing) as the baseline of what Twisted
itself costs per packet on this machine.

Calls are set up as in bench_calls (SIPp callers -> group 6000 -> SIPp agents, here with a long
agent hold time) in batches up to each level; SIPp logs the gateway's media port of each leg
(the 200 to the caller, the INVITE to the agent). Both SDPs name this script's two UDP sockets, so
the gateway sends each leg's RTP here. The generator then sends 50 packets/s of PCMU (160-byte
frames) on both legs of every call (streams evenly phased over the 20 ms period), each payload
tagged with its stream, sequence and send time; whatever the relay forwards comes back tagged, so
loss and transit time are counted per stream without knowing which caller met which agent.

Per level: calls, packets/s into the relay, loss, RFC 3550 interarrival jitter of the relayed
streams (mean / max) and of a few control streams sent socket-to-socket without a relay (the
generator's own floor), transit p50/p99, the relay's CPU share of one core (/proc/<pid>/stat)
and the generator's. Targets: zero loss, added jitter < 5 ms, >= 300 calls at <= 70 % of a core.
Exit 1 only when the benchmark could not run.

Run: .venv/bin/python bench/bench_relay.py [--quick] [--levels 100,200,300] [--seconds 6]
(needs `sipp`; loopback only; about 2 minutes, --quick under 30 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_calls import (  # noqa: E402  (sibling scripts, found through sys.path)
    CALLER_XML,
    GROUP,
    CallServer,
    acdgate_calls,
    call_site,
)
from sipp_bench import (  # noqa: E402
    BenchError,
    bench_parser,
    cpu_seconds,
    free_port,
    injection_file,
    int_list,
    percentiles,
    run_bench,
    scratch_dir,
)

PERIOD_NS = 20_000_000  # RFC 3551 4.5.14: PCMU, 20 ms frames of 160 samples
FRAME = 160
MAGIC = b"ACDB"
TAG = struct.Struct("!4sIIq")  # magic, stream, sequence, send time (monotonic ns)
HEADER = struct.Struct("!BBHII")  # RFC 3550 5.1: V=2, PT, sequence, timestamp, SSRC
FILL = b"\xff" * (FRAME - TAG.size)  # mu-law silence after the tag
CONTROL_STREAMS = 8
DEFAULT_LEVELS = [100, 200, 300, 400]
QUICK_LEVELS = [50, 100]
TARGET_CALLS = 300
TARGET_CPU = 0.70
TARGET_JITTER_MS = 5.0
STARVED_MS = 1.0  # control-stream jitter or send lateness above this: the generator lacked CPU
CLK_TCK = os.sysconf("SC_CLK_TCK")
SETUP_RATE = 40  # calls/s while setting calls up (bench_calls measures the rate itself)


# -- the RTP generator ------------------------------------------------------------------------


@dataclass(slots=True)
class StreamStats:
    sent: int = 0  # packets sent inside the window
    received: int = 0  # of those, received back
    jitter_ns: float = 0.0  # RFC 3550 6.4.1 J, over every packet after the warm-up
    last_transit: int | None = None


@dataclass(frozen=True, slots=True)
class Measure:
    streams: int
    window: float  # seconds
    sent: int
    received: int
    late_sends: float  # mean lateness of our sends behind schedule, ms
    jitter_ms: tuple[float, float]  # relayed streams: mean, max of RFC 3550 J
    control_jitter_ms: tuple[float, float]  # socket to socket, no relay
    transit_ms: tuple[float, float, float]  # relayed: p50, p99, max
    foreign: int  # datagrams without our tag (ringback before the bridge, and the like)
    relay_cpu: float  # seconds
    own_cpu: float  # seconds
    own_drops: int  # datagrams the kernel dropped at our sockets (we did not read in time)
    relay_drops: int  # ... at the relay's sockets (it did not read in time)
    others_cpu: float  # cores busy with processes other than the relay and us, on average

    @property
    def lost(self) -> int:
        return self.sent - self.received


def udp_drops_by_port() -> dict[int, int]:
    """Datagrams dropped per local UDP port (receive buffer full), from /proc/net/udp."""
    drops: dict[int, int] = {}
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            drops[port] = drops.get(port, 0) + int(fields[-1])
    return drops


def busy_cores() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, wall seconds) from /proc/stat's first line."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLK_TCK, time.monotonic()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drive(targets: list[tuple[socket.socket, tuple[str, int]]], receivers: list[socket.socket],
          relay_pids: list[int], *, warmup: float, window: float, grace: float = 0.3) -> Measure:
    """Send 50 packets/s on every (socket, destination) stream plus the control streams (between
    our own sockets), receive whatever comes back, and measure the `window` after `warmup`."""
    a, b = receivers[0], receivers[-1]
    controls = [(a, b.getsockname()) for _ in range(CONTROL_STREAMS)]
    all_streams = targets + controls
    n = len(all_streams)
    stats = [StreamStats() for _ in range(n)]
    control_from = len(targets)
    offsets = [i * PERIOD_NS // n for i in range(n)]
    for sock in receivers:
        sock.setblocking(False)
    transits: list[int] = []
    foreign = 0
    start = time.monotonic_ns() + 20_000_000
    w0 = start + int(warmup * 1e9)
    w1 = w0 + int(window * 1e9)
    end = w1 + int(grace * 1e9)
    k = i = 0
    late_total, sends = 0, 0
    cpu0 = own0 = 0.0
    own_ports = {sock.getsockname()[1] for sock in receivers}
    relay_ports = {dest[1] for _, dest in targets}
    drops0: dict[int, int] = {}
    busy0 = (0.0, 0.0)
    measuring = False
    poller = select.epoll()
    for sock in receivers:
        poller.register(sock.fileno(), select.EPOLLIN)
    while True:
        now = time.monotonic_ns()
        if not measuring and now >= w0:
            measuring = True
            cpu0, own0 = cpu_seconds(relay_pids), _own_cpu()
            drops0, busy0 = udp_drops_by_port(), busy_cores()
        if now >= end:
            break
        # send every packet due by now (a late loop catches up; each is stamped when sent)
        while (due := start + k * PERIOD_NS + offsets[i]) <= now:
            sock, dest = all_streams[i]
            sent_ns = time.monotonic_ns()
            packet = (HEADER.pack(0x80, 0, k & 0xFFFF, (k * FRAME) & 0xFFFFFFFF, 0x1000 + i)
                      + TAG.pack(MAGIC, i, k, sent_ns) + FILL)
            with contextlib.suppress(OSError):  # ECONNREFUSED from an earlier ICMP: UDP goes on
                sock.sendto(packet, dest)
            if w0 <= sent_ns < w1:
                stats[i].sent += 1
                late_total += sent_ns - due
                sends += 1
            i += 1
            if i == n:
                i, k = 0, k + 1
        for r in receivers:  # drain what has arrived
            while True:
                try:
                    data = r.recv(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    continue
                at = time.monotonic_ns()
                hl = 12 + 4 * (data[0] & 0x0F)
                if data[0] & 0x10 and len(data) >= hl + 4:  # RFC 3550 5.3.1 header extension
                    hl += 4 + 4 * int.from_bytes(data[hl + 2:hl + 4], "big")
                if data[hl:hl + 4] != MAGIC:
                    foreign += 1
                    continue
                _, sid, _seq, sent_ns = TAG.unpack_from(data, hl)
                if sid >= n or sent_ns < start:
                    foreign += 1
                    continue
                s = stats[sid]
                transit = at - sent_ns
                if sent_ns >= w0 - int(0.5e9):  # jitter settles over 16 packets before the window
                    if s.last_transit is not None:
                        s.jitter_ns += (abs(transit - s.last_transit) - s.jitter_ns) / 16
                    s.last_transit = transit
                if w0 <= sent_ns < w1:
                    s.received += 1
                    if sid < control_from:
                        transits.append(transit)
        nxt = start + k * PERIOD_NS + offsets[i]
        wait = (min(nxt, end) - time.monotonic_ns()) / 1e9
        if wait > 0:
            poller.poll(wait)  # readiness only: the drain above reads on the next pass
    relay_cpu, own_cpu = cpu_seconds(relay_pids) - cpu0, _own_cpu() - own0
    drops, busy1 = udp_drops_by_port(), busy_cores()
    others = (busy1[0] - busy0[0] - relay_cpu - own_cpu) / (busy1[1] - busy0[1])

    def dropped(ports: set[int]) -> int:
        return sum(drops.get(p, 0) - drops0.get(p, 0) for p in ports)
    poller.close()
    relayed, control = stats[:control_from], stats[control_from:]

    def mean_max(group: list[StreamStats]) -> tuple[float, float]:
        js = [s.jitter_ns / 1e6 for s in group] or [float("nan")]
        return sum(js) / len(js), max(js)

    p50, p99, _ = percentiles([t / 1e6 for t in transits])
    return Measure(len(targets), window, sum(s.sent for s in relayed), sum(s.received for s in relayed),
                   late_total / sends / 1e6 if sends else float("nan"), mean_max(relayed),
                   mean_max(control), (p50, p99, max(transits, default=0) / 1e6), foreign,
                   relay_cpu, own_cpu, dropped(own_ports), dropped(relay_ports), max(0.0, others))


def udp_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # the kernel caps it at rmem_max
    s.bind(("127.0.0.1", 0))
    return s


# -- calls through the gateway ----------------------------------------------------------------


@dataclass(slots=True)
class Calls:
    """SIPp caller processes holding calls up, and the gateway's media port of each leg."""

    server: CallServer
    callers_file: Path
    rtp_port: int
    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add(self, count: int, timeout: float) -> None:
        """Place `count` more calls (SETUP_RATE/s) and wait until all are answered by agents."""
        if count <= 0:
            return
        batch = len(self.procs)
        work = self.workdir / f"callers-{batch}"
        work.mkdir(parents=True)
        args = ["sipp", "-sf", str(CALLER_XML), "-inf", str(self.callers_file), "-i", "127.0.0.1",
                "-p", str(free_port()), "-t", "u1", "-s", GROUP, "-key", "rtp_port", str(self.rtp_port),
                "-m", str(count), "-r", str(SETUP_RATE), "-l", str(count), "-nostdin",
                "-trace_stat", "-stf", str(work / "stat.csv"), "-fd", "1",
                "-trace_err", "-error_file", str(work / "errors.log"),
                "-trace_logs", "-log_file", str(work / "caller-logs.log"),
                f"{self.server.target[0]}:{self.server.target[1]}"]
        out = (work / "sipp.out").open("wb")
        self.procs.append(subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=work,
                                           start_new_session=True))
        want = sum(1 for _ in self.caller_ports()) + count if batch else count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.caller_ports()) >= want and len(self.agent_ports()) >= want:
                return
            if self.procs[-1].poll() is not None:
                break
            time.sleep(0.2)
        raise BenchError(f"only {len(self.caller_ports())} caller legs and {len(self.agent_ports())} "
                         f"agent legs up of {want} (see {work}/errors.log with --keep)")

    def caller_ports(self) -> list[int]:
        return _logged_ports(self.workdir.glob("callers-*/caller-logs.log"), "caller-media")

    def agent_ports(self) -> list[int]:
        return _logged_ports([self.server.agent_dir / "agent-logs.log"], "agent-media")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()  # its calls end with the gateway (BYE) or simply go away
                proc.wait()


def _logged_ports(files: Iterator[Path] | list[Path], kind: str) -> list[int]:
    pattern = re.compile(rf"^{kind} \S+ (\d+) ", re.M)
    ports: list[int] = []
    for f in files:
        if f.exists():
            ports += [int(p) for p in pattern.findall(f.read_text(errors="replace"))]
    return ports


# -- the baseline: a bare Twisted UDP forwarder -----------------------------------------------

TWISTED_FORWARDER = r"""
import json, sys
from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

class Side(DatagramProtocol):
    # one leg: latch the peer's address, hand each datagram to the other leg as it is
    def __init__(self):
        self.remote = None
        self.other = None
    def datagramReceived(self, data, addr):
        self.remote = addr
        o = self.other
        if o.remote is not None:
            o.transport.write(data, o.remote)

ports = []
for _ in range(int(sys.argv[1])):
    a, b = Side(), Side()
    a.other, b.other = b, a
    ports.append([reactor.listenUDP(0, a, "127.0.0.1").getHost().port,
                  reactor.listenUDP(0, b, "127.0.0.1").getHost().port])
print(json.dumps(ports), flush=True)
reactor.run()
"""


@contextlib.contextmanager
def twisted_forwarder(pairs: int) -> Iterator[tuple[int, list[list[int]]]]:
    """A Twisted process forwarding between `pairs` port pairs; yields (pid, port pairs)."""
    proc = subprocess.Popen([sys.executable, "-c", TWISTED_FORWARDER, str(pairs)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise BenchError(f"Twisted forwarder exited {proc.wait()}")
        yield proc.pid, json.loads(line)
    finally:
        proc.terminate()
        proc.wait(10)


# -- report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    calls: int
    m: Measure

    @property
    def cpu_share(self) -> float:
        return self.m.relay_cpu / self.m.window

    @property
    def added_jitter_ms(self) -> float:
        return max(0.0, self.m.jitter_ms[1] - self.m.control_jitter_ms[1])

    @property
    def passed(self) -> bool:
        return self.verdict == "ok"

    @property
    def verdict(self) -> str:
        """ok; FAIL (loss or added jitter); STARVED: the generator itself lacked CPU (its control
        streams jittered, its sends ran late or its sockets overflowed), so the figures are not
        the relay's."""
        m = self.m
        if (m.control_jitter_ms[1] > STARVED_MS or m.late_sends > STARVED_MS or m.own_drops):
            return "STARVED"
        return "ok" if m.lost == 0 and self.added_jitter_ms < TARGET_JITTER_MS else "FAIL"

    @property
    def us_per_packet(self) -> float:
        return self.m.relay_cpu * 1e6 / self.m.received if self.m.received else float("nan")


def print_level(lv: Level) -> None:
    m = lv.m
    print(f"  {lv.name:8} {lv.calls:>4} calls  {m.sent / m.window:>6.0f} pkt/s in  lost {m.lost:<5} "
          f"({100 * m.lost / max(1, m.sent):.2f}%)  jitter mean/max {m.jitter_ms[0]:.2f}/{m.jitter_ms[1]:.2f} ms "
          f"(control {m.control_jitter_ms[0]:.2f}/{m.control_jitter_ms[1]:.2f}, added {lv.added_jitter_ms:.2f})  "
          f"transit p50/p99/max {m.transit_ms[0]:.1f}/{m.transit_ms[1]:.1f}/{m.transit_ms[2]:.1f} ms  "
          f"CPU {100 * lv.cpu_share:>3.0f}% of a core ({lv.us_per_packet:.1f} us/pkt)  drops relay "
          f"{m.relay_drops} ours {m.own_drops}  generator {100 * m.own_cpu / m.window:.0f}% late "
          f"{m.late_sends:.2f} ms  others {m.others_cpu:.2f} cores  {lv.verdict}", flush=True)


def report(results: dict[str, list[Level]]) -> None:
    print("\n== Summary: relayed PCMU calls, 50 packets/s each way, 127.0.0.1")
    gw = results.get("acdgate", [])
    ok = [lv for lv in gw if lv.passed]
    if gw:
        best = ok[-1] if ok else None
        at = (f"{best.calls} calls: {100 * best.cpu_share:.0f}% of a core, added jitter "
              f"{best.added_jitter_ms:.2f} ms" if best else "no level passed")
        print(f"  acdgate: highest level with zero loss and added jitter < {TARGET_JITTER_MS:g} ms: {at}")
        fits = [lv for lv in ok if lv.cpu_share <= TARGET_CPU]
        most = max((lv.calls for lv in fits), default=0)
        print(f"  target >= {TARGET_CALLS} calls at <= {100 * TARGET_CPU:.0f}% of a core, measured: "
              f"{'met' if most >= TARGET_CALLS else 'MISSED'} ({most} calls passed within it)")
        # CPU time per packet does not depend on how the other processes squeeze us: the
        # capacity it implies holds when the relay has its core (the lowest level batches least)
        measured = [lv for lv in gw if lv.m.received]
        if measured:
            us = max(lv.us_per_packet for lv in measured)
            calls = TARGET_CPU * 1e6 / (us * 2 * 1e9 / PERIOD_NS)
            print(f"  from CPU per relayed packet (worst level, {us:.1f} us; 100 packets/s per call): "
                  f"{calls:.0f} calls fit in {100 * TARGET_CPU:.0f}% of a core: "
                  f"{'met' if calls >= TARGET_CALLS else 'MISSED'}")
        starved = [lv.calls for lv in gw if lv.verdict == "STARVED"]
        if starved:
            print(f"  levels {starved}: the generator was starved of CPU (busy machine): rerun when "
                  "the load average is below 1 for figures that are the relay's")
    tw = {lv.calls: lv for lv in results.get("twisted", [])}
    for lv in gw:
        base = tw.get(lv.calls)
        if base is not None and base.us_per_packet > 0:
            print(f"  {lv.calls:>4} calls: CPU per relayed packet acdgate {lv.us_per_packet:.1f} us, "
                  f"bare Twisted forwarder {base.us_per_packet:.1f} us, ratio {lv.us_per_packet / base.us_per_packet:.1f}x")


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, f"levels {QUICK_LEVELS}, 3 s windows")
    parser.add_argument("--levels", type=int_list, help="concurrent calls per level, rising, comma-separated")
    parser.add_argument("--seconds", type=float, help="measurement window per level (default 6, quick 3)")
    parser.add_argument("--servers", default="acdgate,twisted", help="acdgate and/or twisted")
    parser.add_argument("--keep", type=Path, help="keep SIPp's files and logs in this new directory")
    args = parser.parse_args(argv)
    levels = sorted(args.levels or (QUICK_LEVELS if args.quick else DEFAULT_LEVELS))
    window = args.seconds or (3.0 if args.quick else 6.0)
    warmup = 1.0
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]

    def measure() -> dict[str, list[Level]]:
        print(f"bench_relay: levels {levels} calls, {window:g} s windows after {warmup:g} s warm-up, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} (shared machine: figures vary)")
        results: dict[str, list[Level]] = {}
        with contextlib.ExitStack() as stack:
            tmp = scratch_dir(stack, args.keep, "bench-relay-")
            caller_sock = stack.enter_context(udp_socket())
            agent_sock = stack.enter_context(udp_socket())
            receivers = [caller_sock, agent_sock]
            if "acdgate" in servers:
                site = call_site(max(levels) + 10, 50)
                work = tmp / "acdgate"
                t0 = time.monotonic()
                with acdgate_calls(work, site, 3_600_000, sink_port=agent_sock.getsockname()[1],
                                   trace_logs=True) as server:
                    assert server.gateway is not None
                    print(f"acdgate on {server.target[0]}:{server.target[1]} (pid {server.pids()}), "
                          f"{len(site.agents)} agents READY in {time.monotonic() - t0:.1f} s", flush=True)
                    calls = Calls(server, injection_file(work / "callers.csv", list(site.callers)),
                                  caller_sock.getsockname()[1], work)
                    try:
                        out: list[Level] = []
                        for level in levels:
                            t1 = time.monotonic()
                            calls.add(level - len(calls.caller_ports()), timeout=level / SETUP_RATE + 30)
                            up = time.monotonic() - t1
                            cp, ap = calls.caller_ports(), calls.agent_ports()
                            targets = ([(caller_sock, ("127.0.0.1", p)) for p in cp]
                                       + [(agent_sock, ("127.0.0.1", p)) for p in ap])
                            m = drive(targets, receivers, server.pids(), warmup=warmup, window=window)
                            lv = Level("acdgate", len(cp), m)
                            print(f"  (calls up in {up:.1f} s)", end="")
                            print_level(lv)
                            out.append(lv)
                        results["acdgate"] = out
                    finally:
                        calls.stop()
            if "twisted" in servers:
                with twisted_forwarder(max(levels)) as (pid, pairs):
                    print(f"bare Twisted forwarder (pid {pid}), {len(pairs)} port pairs", flush=True)
                    out = []
                    for level in levels:
                        targets = ([(caller_sock, ("127.0.0.1", a)) for a, _ in pairs[:level]]
                                   + [(agent_sock, ("127.0.0.1", b)) for _, b in pairs[:level]])
                        lv = Level("twisted", level, drive(targets, receivers, [pid], warmup=warmup,
                                                            window=window))
                        print_level(lv)
                        out.append(lv)
                    results["twisted"] = out
        return results

    return run_bench("bench_relay", measure, report)


if __name__ == "__main__":
    sys.exit(main())
