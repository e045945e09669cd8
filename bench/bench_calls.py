"""Call benchmark (issue 6): the RFC 7502 session establishment rate through an ACD group to
answering SIPp agents, against `acdgate run` and, in the same run, SIPp calls relayed by Kamailio
as a stateful proxy (tm + rr) to the same SIPp agent.

A call (bench/sipp/caller.xml): INVITE to group 6000 (digest-authenticated as a caller station
at the gateway), 200, ACK; the gateway offers the call to a READY agent (linear group, wrap-up 0)
whose SIPp UAS (bench/sipp/agent.xml) answers and hangs up after its hold time (0 by default);
the caller sees that BYE, so a successful SIPp call proves the agent was reached end to end.
Through Kamailio the same scenario runs without the 401 and the 200 comes from the agent.

Steps at rising offered rates (calls/s x seconds), stopping at the first that fails. Per step:
calls completed / offered, failures (SIPp's causes), retransmissions, datagrams dropped at the
server's socket, the rate SIPp achieved, setup-time percentiles (SIPp RTD "reached": first INVITE
-> the agent's BYE, and "answer": first INVITE -> 200), the server's CPU per call and share of a
core. Prints the ratios acdgate/kamailio and the target (>= 300 calls/s); a missed target is
printed, not an error. Exit 1 only when the benchmark could not run.

Run: .venv/bin/python bench/bench_calls.py [--quick] [--rates 100,300] [--step-seconds 5]
(needs `sipp` and Debian's `kamailio`; loopback only; about 2-3 minutes, --quick under 30 s).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from acdgate.lab.gateway_process import GatewayProcess  # the lab's launcher: waits for "ready"

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from sipp_bench import (  # noqa: E402  (a sibling module, found through sys.path)
    BenchError,
    bench_parser,
    children_cpu_seconds,
    children_of,
    cpu_seconds,
    failure_causes,
    final_statistics,
    free_port,
    injection_file,
    int_list,
    kamailio,
    kamailio_exe,
    percentiles,
    response_times,
    run_bench,
    running_gateway,
    scratch_dir,
    started_rate,
    udp_drops,
)

CALLER_XML = BENCH / "sipp" / "caller.xml"
AGENT_XML = BENCH / "sipp" / "agent.xml"
REGISTER_XML = ROOT / "tests" / "support" / "sipp" / "register_auth.xml"
PROXY_CFG = BENCH / "kamailio" / "proxy.cfg"
GROUP = "6000"
PIN = "1234"
DEFAULT_RATES = [100, 200, 300, 400, 600, 800, 1200]
QUICK_RATES = [100, 300]
KEEP_UP = 0.9  # a step "keeps the rate" when SIPp started calls at >= 90% of the offered rate
SIPP_SATURATED = 0.8  # SIPp is single-threaded: >= 80% of a core means it is the limit
TARGET_RATE = 300


# -- the site: agent stations, their users, caller stations, one linear group ------------------


@dataclass(frozen=True, slots=True)
class Agent:
    station: str
    password: str
    user: str


@dataclass(frozen=True, slots=True)
class CallSite:
    """A generated site file's numbers: agents (station + user each) and calling stations."""

    agents: tuple[Agent, ...]
    callers: tuple[tuple[str, str], ...]  # (station, password)
    group: str = GROUP


def call_site(agents: int, callers: int) -> CallSite:
    """Agent stations 20000.., users 30000.., caller stations 21000.. (numbers never collide)."""
    if not 0 < agents <= 1000 or not 0 < callers <= 1000:
        raise ValueError("1-1000 agents and callers")
    return CallSite(
        tuple(Agent(str(20000 + i), f"pw{20000 + i}", str(30000 + i)) for i in range(agents)),
        tuple((str(21000 + i), f"pw{21000 + i}") for i in range(callers)),
    )


def site_toml(site: CallSite, *, no_answer_seconds: int = 600) -> str:
    """The site file: no qualify (SIPp agents do not answer OPTIONS), no auth throttling (every
    call starts with a 401), the group linear with wrap-up 0 (an agent is READY again at once)."""
    lines = [
        'name = "bench-calls"',
        "",
        "[sip]",
        "qualify_seconds = 0",
        "auth_failures_before_delay = 10000",
        "auth_failures_before_block = 10000",
        "rtp_port_min = 20000",
        "rtp_port_max = 29999",
    ]
    for ext, password in [(a.station, a.password) for a in site.agents] + list(site.callers):
        lines += ["", "[[stations]]", f'extension = "{ext}"', f'sip_password = "{password}"']
    for a in site.agents:
        lines += ["", "[[users]]", f'id = "{a.user}"', f'name = "Agent {a.user}"', f'pin = "{PIN}"',
                  "force_login = true"]
    members = ", ".join(f'"{a.user}"' for a in site.agents)
    lines += ["", "[[groups]]", f'number = "{site.group}"', 'name = "Bench"', 'mode = "linear"',
              f"members = [{members}]", "wrapup_seconds = 0",
              f"no_answer_seconds = {no_answer_seconds}", "max_queue = 100000"]
    return "\n".join(lines) + "\n"


# -- the SIPp agent (UAS) -------------------------------------------------------------------


@contextlib.contextmanager
def sipp_agent(workdir: Path, port: int, rtp_port: int, hold_ms: int,
               trace_logs: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """bench/sipp/agent.xml answering every INVITE on 127.0.0.1:`port` until the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["sipp", "-sf", str(AGENT_XML), "-i", "127.0.0.1", "-p", str(port), "-t", "u1",
            "-key", "rtp_port", str(rtp_port), "-d", str(hold_ms), "-nostdin",
            "-trace_stat", "-stf", str(workdir / "agent-stat.csv"), "-fd", "1",
            "-trace_err", "-error_file", str(workdir / "agent-errors.log")]
    if trace_logs:
        args += ["-trace_logs", "-log_file", str(workdir / "agent-logs.log")]
    log = (workdir / "agent.out").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                            start_new_session=True)
    try:
        time.sleep(0.3)  # SIPp binds before it reads anything; nothing to wait on but its exit
        if proc.poll() is not None:
            raise BenchError(f"SIPp agent exited {proc.returncode}: "
                             + (workdir / "agent.out").read_text()[-1500:])
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)  # SIPp: stop and write final statistics
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def agent_totals(workdir: Path) -> tuple[int, int]:
    """(successful, failed) calls of the SIPp agent so far, from its statistics file."""
    stat = workdir / "agent-stat.csv"
    rows = list(csv.DictReader(stat.open(), delimiter=";")) if stat.exists() else []
    if not rows:
        return 0, 0
    return int(rows[-1]["SuccessfulCall(C)"]), int(rows[-1]["FailedCall(C)"])


# -- servers ----------------------------------------------------------------------------------


@dataclass(slots=True)
class CallServer:
    """Where callers send INVITEs, which processes do the server's work, where the agent is."""

    name: str
    target: tuple[str, int]
    pids: Callable[[], list[int]]
    agent_dir: Path
    agent_pid: int
    gateway: GatewayProcess | None = None


def _get(base: str, path: str) -> str:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return str(response.read().decode("utf-8", "replace"))


def register_agents(gw: GatewayProcess, site: CallSite, port: int, workdir: Path) -> None:
    """Register every agent station from 127.0.0.1:`port` (SIPp REGISTER with digest), where
    the SIPp agent will then listen: the gateway sends each offer to that contact."""
    inf = injection_file(workdir / "agents.csv", [(a.station, a.password) for a in site.agents])
    n = len(site.agents)
    proc = subprocess.run(
        ["sipp", "-sf", str(REGISTER_XML), "-inf", str(inf), "-i", "127.0.0.1", "-p", str(port),
         "-t", "u1", "-m", str(n), "-r", "200", "-l", "200", "-recv_timeout", "5000",
         "-timeout", f"{n / 200 + 20:.0f}s", "-timeout_error", "-nostdin",
         "-trace_stat", "-stf", str(workdir / "register-stat.csv"), "-fd", "1",
         f"{gw.sip[0]}:{gw.sip[1]}"],
        capture_output=True, text=True, cwd=workdir, timeout=n / 200 + 60)
    rows = list(csv.DictReader((workdir / "register-stat.csv").open(), delimiter=";"))
    ok = int(rows[-1]["SuccessfulCall(C)"]) if rows else 0
    if ok != n:
        raise BenchError(f"only {ok}/{n} agent stations registered (SIPp exit {proc.returncode}):\n"
                         + (proc.stdout + proc.stderr)[-1500:])


def agents_ready(gw: GatewayProcess, site: CallSite) -> None:
    """Log every agent on at its station and make it READY through the phone XML service."""
    def one(a: Agent) -> None:
        _get(gw.http, f"/xml/login?ext={a.station}&id={a.user}&pin={PIN}")
        _get(gw.http, f"/xml/set?ext={a.station}&to=ready")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, site.agents))
    ready = sum(1 for a in gw.get("/api/agents") if a.get("state") == "READY")
    if ready != len(site.agents):
        raise BenchError(f"{ready}/{len(site.agents)} agents READY after logon")


@contextlib.contextmanager
def acdgate_calls(tmp: Path, site: CallSite, hold_ms: int, *, sink_port: int,
                  trace_logs: bool = False) -> Iterator[CallServer]:
    """`acdgate run` on the generated site, agents registered, logged on, READY, and answering."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "site.toml"
    config.write_text(site_toml(site))
    with running_gateway(tmp / "state", config) as gw:
        assert gw.proc is not None
        pid = gw.proc.pid
        agent_port = free_port()
        register_agents(gw, site, agent_port, tmp)
        agents_ready(gw, site)
        with sipp_agent(tmp / "agent", agent_port, sink_port, hold_ms, trace_logs) as agent:
            yield CallServer("acdgate", gw.sip, lambda: [pid], tmp / "agent", agent.pid, gw)


@contextlib.contextmanager
def kamailio_calls(tmp: Path, hold_ms: int, *, sink_port: int) -> Iterator[CallServer]:
    """The SIPp agent, and Kamailio with bench/kamailio/proxy.cfg relaying every INVITE to it."""
    exe = kamailio_exe()
    agent_port, port = free_port(), free_port()
    with (sipp_agent(tmp / "agent", agent_port, sink_port, hold_ms) as agent,
          kamailio(exe, tmp, PROXY_CFG, port, f'UAS_HOST="127.0.0.1:{agent_port}"') as proc):
        yield CallServer("kamailio", ("127.0.0.1", port),
                         lambda: [proc.pid, *children_of(proc.pid)], tmp / "agent", agent.pid)


# -- SIPp caller steps ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRun:
    """What one SIPp caller run did: counts from its statistics and its per-call RTDs."""

    calls: int
    ok: int
    failed: int
    retrans: int
    achieved: float  # calls/s SIPp started (from the RTDs: completion - response time)
    reached_ms: list[float]  # RTD 2: first INVITE -> the agent's BYE
    answer_ms: list[float]  # RTD 1: first INVITE -> 200
    wall: float
    sipp_cpu: float
    causes: str


def run_callers(target: tuple[str, int], callers: Path, rate: float, calls: int, workdir: Path,
                *, rtp_port: int, limit: int, trace_logs: bool = False,
                extra_timeout: float = 30.0) -> CallRun:
    """One SIPp caller run: `calls` calls to the group offered at `rate`/s, at most `limit` open."""
    workdir.mkdir(parents=True)
    stat = workdir / "stat.csv"
    args = ["sipp", "-sf", str(CALLER_XML), "-inf", str(callers), "-i", "127.0.0.1",
            "-p", str(free_port()), "-t", "u1", "-s", GROUP, "-key", "rtp_port", str(rtp_port),
            "-m", str(calls), "-r", f"{rate:g}", "-l", str(limit), "-recv_timeout", "10000",
            "-timeout", f"{calls / rate + extra_timeout:.0f}s", "-timeout_error", "-nostdin",
            "-trace_stat", "-stf", str(stat), "-fd", "1", "-trace_rtt", "-rtt_freq", "1",
            "-trace_err", "-error_file", str(workdir / "errors.log")]
    if trace_logs:
        args += ["-trace_logs", "-log_file", str(workdir / "caller-logs.log")]
    args.append(f"{target[0]}:{target[1]}")
    sipp0, t0 = children_cpu_seconds(), time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=workdir,
                          timeout=calls / rate + extra_timeout + 30)
    wall, sipp_cpu = time.monotonic() - t0, children_cpu_seconds() - sipp0
    last = final_statistics(stat, proc)
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    rtds = response_times(workdir)
    answered, reached = rtds.get("1", []), rtds.get("2", [])
    return CallRun(calls, ok, max(failed, calls - ok), int(last["Retransmissions(C)"]),
                   started_rate(answered, last), [rtt for _, rtt in reached], [rtt for _, rtt in answered],
                   wall, sipp_cpu, failure_causes(last, proc.returncode))


@dataclass(frozen=True, slots=True)
class Step:
    rate: int
    run: CallRun
    drops: int  # datagrams dropped at the server's SIP socket (receive buffer full)
    server_cpu: float  # seconds
    agent_ok: int  # calls the SIPp agent completed during the step
    agent_failed: int
    verdict: str  # ok | FAIL | SIPP-LIMIT | SLOW

    @property
    def passed(self) -> bool:
        return self.verdict == "ok"

    @property
    def cpu_us_per_call(self) -> float:
        return self.server_cpu * 1e6 / self.run.ok if self.run.ok else float("nan")


def run_step(server: CallServer, callers: Path, rate: int, calls: int, workdir: Path,
             sink_port: int) -> Step:
    pids = server.pids()
    drops0 = udp_drops(server.target[1])
    agent0 = agent_totals(server.agent_dir)
    cpu0 = cpu_seconds(pids)
    run = run_callers(server.target, callers, rate, calls, workdir, rtp_port=sink_port,
                      limit=max(200, rate * 2))
    server_cpu = cpu_seconds(pids) - cpu0
    time.sleep(1.1)  # the agent's statistics file is rewritten every second (-fd 1)
    agent1 = agent_totals(server.agent_dir)
    drops = udp_drops(server.target[1]) - drops0
    if run.failed or agent1[1] > agent0[1]:
        verdict = "FAIL"
    elif run.achieved < KEEP_UP * rate:
        verdict = "SIPP-LIMIT" if run.sipp_cpu >= SIPP_SATURATED * run.wall else "SLOW"
    else:
        verdict = "ok"
    return Step(rate, run, drops, server_cpu, agent1[0] - agent0[0], agent1[1] - agent0[1], verdict)


def _ms(v: float) -> str:
    return "n/a" if v != v else f"{v:.0f}"


def print_step(name: str, s: Step) -> None:
    r = s.run
    reached, answer = percentiles(r.reached_ms), percentiles(r.answer_ms)
    print(f"  {name:9} {s.rate:>5}/s {r.ok:>5}/{r.calls:<5} fail {r.failed:<4} retr {r.retrans:<4} "
          f"drop {s.drops:<4} got {r.achieved:>5.0f}/s  setup p50/95/99 "
          f"{'/'.join(map(_ms, reached))} ms (answer {'/'.join(map(_ms, answer))})  "
          f"CPU {s.cpu_us_per_call:>5.0f} us/call ({100 * s.server_cpu / r.wall:>3.0f}% of a core, "
          f"SIPp {100 * r.sipp_cpu / r.wall:>3.0f}%)  agent {s.agent_ok} ok {s.agent_failed} failed  "
          f"{s.verdict} {r.causes}", flush=True)


def sweep(server: CallServer, callers: Path, rates: list[int], step_seconds: float, tmp: Path,
          sink_port: int) -> list[Step]:
    steps = []
    for rate in rates:
        calls = max(20, int(rate * step_seconds))
        step = run_step(server, callers, rate, calls, tmp / f"{server.name}-{rate}", sink_port)
        print_step(server.name, step)
        steps.append(step)
        if not step.passed:
            break
    return steps


# -- report -----------------------------------------------------------------------------------


def establishment_rate(steps: list[Step]) -> tuple[int, Step | None]:
    """RFC 7502 session establishment rate: the highest offered rate passed with zero failures."""
    passed = [s for s in steps if s.passed]
    return (passed[-1].rate, passed[-1]) if passed else (0, None)


def cpu_per_call(steps: list[Step], rates: set[int]) -> float:
    chosen = [s for s in steps if s.rate in rates]
    calls = sum(s.run.ok for s in chosen)
    return sum(s.server_cpu for s in chosen) * 1e6 / calls if calls else float("nan")


def report(results: dict[str, list[Step]]) -> None:
    print("\n== Summary: SIPp calls to group 6000 (acdgate: digest, ACD, agent leg) / via Kamailio proxy")
    rates: dict[str, int] = {}
    for name, steps in results.items():
        rate, at = establishment_rate(steps)
        rates[name] = rate
        last = steps[-1] if steps else None
        why = ("highest step offered" if last is not None and last.passed
               else f"{last.verdict} at {last.rate}/s" if last is not None else "no step ran")
        shown = (f"setup p50/p95/p99 {'/'.join(map(_ms, percentiles(at.run.reached_ms)))} ms, "
                 f"CPU {at.cpu_us_per_call:.0f} us/call" if at else "no step passed")
        print(f"  {name:9} session establishment rate (RFC 7502, zero failures) {rate:>5}/s  [{why}]; at it: {shown}")
    if "acdgate" in rates:
        met = "met" if rates["acdgate"] >= TARGET_RATE else "MISSED"
        print(f"  target acdgate >= {TARGET_RATE} calls/s: {met}")
    if set(results) != {"acdgate", "kamailio"}:
        return
    gw, ka = results["acdgate"], results["kamailio"]
    common = {s.rate for s in gw if s.passed} & {s.rate for s in ka if s.passed}
    gw_cpu, ka_cpu = cpu_per_call(gw, common), cpu_per_call(ka, common)
    ratio = rates["acdgate"] / rates["kamailio"] if rates["kamailio"] else float("nan")
    print(f"  CPU per call over the steps both passed ({', '.join(map(str, sorted(common))) or 'none'}/s): "
          f"acdgate {gw_cpu:.0f} us, kamailio {ka_cpu:.0f} us, ratio {gw_cpu / ka_cpu if ka_cpu else float('nan'):.1f}x")
    print(f"  ratio acdgate/kamailio, session establishment rate: {ratio:.2f}"
          + ("  (Kamailio passed every step offered: its rate is a lower bound)"
             if ka and ka[-1].passed else ""))
    both = [(g, k) for g in gw for k in ka if g.rate == k.rate and g.passed and k.passed]
    if both:
        g, k = both[-1]
        print(f"  setup p99 at {g.rate}/s: acdgate {_ms(percentiles(g.run.reached_ms)[2])} ms, "
              f"kamailio {_ms(percentiles(k.run.reached_ms)[2])} ms")


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, f"2 s steps at {QUICK_RATES} (under 30 s)")
    parser.add_argument("--rates", type=int_list, help="offered calls/s, comma-separated")
    parser.add_argument("--step-seconds", type=float, help="calls per step = rate x this (default 5, quick 2)")
    parser.add_argument("--agents", type=int, default=100, help="agent stations (default 100)")
    parser.add_argument("--callers", type=int, default=50, help="calling stations (default 50)")
    parser.add_argument("--hold-ms", type=int, default=0, help="agent's hold time before BYE (default 0)")
    parser.add_argument("--servers", default="acdgate,kamailio", help="which servers, comma-separated")
    parser.add_argument("--keep", type=Path, help="keep SIPp's files and logs in this new directory")
    args = parser.parse_args(argv)
    rates = args.rates or (QUICK_RATES if args.quick else DEFAULT_RATES)
    step_seconds = args.step_seconds or (2.0 if args.quick else 5.0)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]

    def measure() -> dict[str, list[Step]]:
        print(f"bench_calls: rates {rates}/s, {step_seconds:g} s per step, {args.agents} agents, "
              f"{args.callers} callers, hold {args.hold_ms} ms, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.2f} (shared machine: figures vary)")
        site = call_site(args.agents, args.callers)
        results: dict[str, list[Step]] = {}
        with contextlib.ExitStack() as stack:
            tmp = scratch_dir(stack, args.keep, "bench-calls-")
            # RTP the gateway sends (ringback) lands here, unread: the kernel drops the overflow
            sink = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            sink.bind(("127.0.0.1", 0))
            sink_port = int(sink.getsockname()[1])
            callers = injection_file(tmp / "callers.csv", list(site.callers))
            for name in servers:
                work = tmp / name
                t0 = time.monotonic()
                start = (acdgate_calls(work, site, args.hold_ms, sink_port=sink_port) if name == "acdgate"
                         else kamailio_calls(work, args.hold_ms, sink_port=sink_port))
                with start as server:
                    print(f"{name} on {server.target[0]}:{server.target[1]} (pids {server.pids()}), "
                          f"agent SIPp ready in {time.monotonic() - t0:.1f} s", flush=True)
                    results[name] = sweep(server, callers, rates, step_seconds, work, sink_port)
        return results

    return run_bench("bench_calls", measure, report)


if __name__ == "__main__":
    sys.exit(main())
