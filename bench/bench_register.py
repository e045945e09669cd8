"""Registration benchmark (issue 3): SIPp REGISTER with digest at doubling rates against a running
`acdgate run` and, in the same run, against Kamailio as a baseline registrar and against
bench/twisted_floor.py, the least a CPython + Twisted registrar can spend (the floor).

Per server: the RFC 7501 registration rate (the highest offered rate whose step completed with zero
failures), response-time percentiles of whole registrations (REGISTER, 401, REGISTER, 200; SIPp's
RTD, 1 ms resolution) and the server's CPU time per registration from /proc/<pid>/stat (utime +
stime of the gateway process, of every Kamailio process summed). On 2 cores SIPp saturates first
(near 10,000/s), so CPU per registration is the fair comparison. Prints the ratios acdgate/kamailio
and the targets (same zero-failure rate, at most 2x the CPU per registration), and acdgate's CPU as
a multiple of the floor's; a missed target is printed, not an error. Exit status 1 only when the
benchmark itself could not run.

Run: .venv/bin/python bench/bench_register.py [--quick] [--rates 200,400] [--step-seconds 4]
(needs `sipp` and Debian's `kamailio`; loopback only; about 1-2 minutes, --quick under 30 s).

The plumbing shared with bench_calls and bench_relay is in sipp_bench.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from sipp_bench import (  # noqa: E402  (a sibling module, found through sys.path)
    ROOT,
    BenchError,
    acdgate_build,
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
    request_bytes,
    response_times,
    run_bench,
    running_gateway,
    scratch_dir,
    started_rate,
    udp_drops,
)

SCENARIO = ROOT / "tests" / "support" / "sipp" / "register_auth.xml"
KAMAILIO_CFG = Path(__file__).resolve().parent / "kamailio" / "kamailio.cfg"
FLOOR = Path(__file__).resolve().parent / "twisted_floor.py"
KAMAILIO_DBTEXT_VERSION = Path("/usr/share/kamailio/dbtext/kamailio/version")
STATIONS = [(str(n), f"pw{n}") for n in range(2101, 2111)]  # the embedded demo site's stations
DEFAULT_RATES = [200, 400, 800, 1600, 3200, 6400, 12800, 25600]
KEEP_UP = 0.9  # a step "keeps the rate" when SIPp created calls at >= 90% of the offered rate
SIPP_SATURATED = 0.8  # SIPp is single-threaded: >= 80% of one core means it is the limit
# SIPp's socket buffers (-buff_size; its default, 64 KB, holds ~100 answers): a server that
# answers in bursts (a group commit's answers go out together) would have its answers dropped
# at SIPp's own socket, and the retransmissions would load the server (both servers get it)
SIPP_BUFFER = 4 * 1024 * 1024
TARGET_CPU_RATIO = 2.0


# -- processes and CPU -------------------------------------------------------------------------


@dataclass(slots=True)
class Server:
    """A registrar under test: where it listens and which processes do its work."""

    name: str
    target: tuple[str, int]
    pids: Callable[[], list[int]]


@contextlib.contextmanager
def acdgate_server(tmp: Path) -> Iterator[Server]:
    """`acdgate run` on the demo site, 127.0.0.1, free ports, logging warnings only."""
    with running_gateway(tmp / "acdgate-state") as gw:
        assert gw.proc is not None
        pid = gw.proc.pid
        yield Server("acdgate", gw.sip, lambda: [pid])


def kamailio_db(directory: Path) -> Path:
    """A db_text directory: the schema `version` table and a plain-text `subscriber` table."""
    directory.mkdir(parents=True)
    if KAMAILIO_DBTEXT_VERSION.exists():
        shutil.copy(KAMAILIO_DBTEXT_VERSION, directory / "version")
    else:
        (directory / "version").write_text(
            "id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n"
        )
    rows = [
        "id(int,auto) username(string) domain(string) password(string) ha1(string,null) ha1b(string,null)"
    ]
    rows += [f"{i}:{user}:127.0.0.1:{password}::" for i, (user, password) in enumerate(STATIONS, 1)]
    (directory / "subscriber").write_text("\n".join(rows) + "\n")
    return directory


@contextlib.contextmanager
def kamailio_server(tmp: Path) -> Iterator[Server]:
    """Kamailio with bench/kamailio/kamailio.cfg on 127.0.0.1 and a free port, in its own session."""
    exe = kamailio_exe()
    db = kamailio_db(tmp / "kamailio-db")
    port = free_port()
    with kamailio(exe, tmp, KAMAILIO_CFG, port, f'DBURL="text://{db}"') as proc:
        yield Server("kamailio", ("127.0.0.1", port), lambda: [proc.pid, *children_of(proc.pid)])


@contextlib.contextmanager
def floor_server(tmp: Path) -> Iterator[Server]:
    """bench/twisted_floor.py: the least CPython + Twisted can spend on a registration."""
    log = (tmp / "twisted-floor.log").open("w+")
    proc = subprocess.Popen([sys.executable, str(FLOOR), str(free_port())], stdout=subprocess.PIPE,
                            stderr=log, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "ready PORT", or nothing when it died
        if not line.startswith("ready "):
            log.seek(0)
            raise BenchError(f"twisted_floor.py did not start: {line!r} {log.read()[-2000:]}")
        yield Server("twisted-floor", ("127.0.0.1", int(line.split()[1])), lambda: [proc.pid])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# -- the challenge check: one REGISTER without credentials, one with a wrong password ----------


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


def _exchange(sock: socket.socket, target: tuple[str, int], data: bytes, call_id: str) -> Answer:
    """Send `data`, return the first final answer with this Call-ID (2 s)."""
    sock.sendto(data, target)
    deadline = time.monotonic() + 2.0
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            raw = sock.recv(65535)
        except TimeoutError:
            break
        head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")
        if not head[0].startswith("SIP/2.0 "):
            continue
        headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in head[1:])]
        status = int(head[0].split()[1])
        if status >= 200 and any(
            n.lower() in ("call-id", "i") and v == call_id for n, v in headers
        ):
            return Answer(status, headers)
    raise BenchError(f"no answer from {target} to a REGISTER (Call-ID {call_id})")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest(challenge: str, user: str, password: str, uri: str) -> str:
    """An RFC 2617 / RFC 8760 MD5 Authorization value for `challenge` (qop=auth when offered)."""
    params = {
        k.lower(): (q if q else t)
        for k, q, t in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', challenge)
    }
    realm, nonce = params["realm"], params["nonce"]
    ha1, ha2 = _md5(f"{user}:{realm}:{password}"), _md5(f"REGISTER:{uri}")
    value = (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5'
    )
    if "auth" in params.get("qop", "").split(","):
        cnonce, nc = secrets.token_hex(4), "00000001"
        value += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
    value += f', response="{response}"'
    if "opaque" in params:
        value += f', opaque="{params["opaque"]}"'
    return value


def check_challenges(target: tuple[str, int]) -> str:
    """Prove the server really authenticates: no credentials -> 401 with WWW-Authenticate, a wrong
    password -> refused, the right one -> 200. Returns a one-line account; raises BenchError."""
    user, password = STATIONS[0]
    uri = f"sip:{target[0]}:{target[1]}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = sock.getsockname()

        def challenged(call_id: str) -> str:
            answer = _exchange(
                sock, target, request_bytes("REGISTER", target, local, user, call_id, 1), call_id
            )
            challenges = answer.values("WWW-Authenticate")
            if answer.status != 401 or not challenges:
                raise BenchError(
                    f"{target}: REGISTER without credentials got {answer.status}, "
                    f"WWW-Authenticate {challenges!r}: not a challenging registrar"
                )
            return challenges[0]  # SIPp reads only the first challenge

        first = challenged(call_id := f"chk-wrong-{secrets.token_hex(4)}")
        wrong = _exchange(
            sock,
            target,
            request_bytes(
                "REGISTER",
                target,
                local,
                user,
                call_id,
                2,
                _digest(first, user, "not-" + password, uri),
            ),
            call_id,
        )
        if wrong.status < 400:
            raise BenchError(
                f"{target}: a wrong password got {wrong.status}: authentication is not checked"
            )
        challenge = challenged(call_id := f"chk-right-{secrets.token_hex(4)}")
        right = _exchange(
            sock,
            target,
            request_bytes(
                "REGISTER", target, local, user, call_id, 2, _digest(challenge, user, password, uri)
            ),
            call_id,
        )
        if right.status != 200:
            raise BenchError(f"{target}: the right password got {right.status}")
    shown = re.sub(r'nonce="[^"]*"', "nonce=...", first)
    return f"401 {shown} | wrong password -> {wrong.status} | right password -> {right.status}"


# -- SIPp runs: their inputs and statistics ----------------------------------------------------


# -- SIPp steps --------------------------------------------------------------------------------


def sipp_files(tmp: Path) -> tuple[Path, Path]:
    """The tests' scenario with an RTD around the whole registration, and the injection file."""
    xml = SCENARIO.read_text()
    timed = xml.replace('<send retrans="500">', '<send retrans="500" start_rtd="1">', 1)
    timed = timed.replace('<recv response="200"/>', '<recv response="200" rtd="1"/>', 1)
    if timed.count("rtd=") != 2:
        raise BenchError(f"{SCENARIO} changed shape: cannot add the response-time measure")
    scenario = tmp / "register_auth_rtd.xml"
    scenario.write_text(timed)
    return scenario, injection_file(tmp / "users.csv", STATIONS)


@dataclass(frozen=True, slots=True)
class Step:
    rate: int
    calls: int
    ok: int
    failed: int
    retrans: int
    drops: int  # datagrams dropped at the server's socket (its receive buffer was full)
    client_drops: int  # ... at SIPp's socket: answers lost at the load generator (sampled)
    achieved: float  # calls/s SIPp created
    rtt_ms: tuple[float, float, float]  # p50, p95, p99 of whole registrations
    tick_ms: float  # SIPp's clock resolution (it counts time in ticks, 4 ms on this kernel)
    server_cpu: float  # seconds
    sipp_cpu: float  # seconds
    wall: float  # seconds SIPp ran
    verdict: str  # ok | FAIL | SIPP-LIMIT | SLOW
    note: str

    @property
    def passed(self) -> bool:
        return self.verdict == "ok"

    @property
    def cpu_us_per_reg(self) -> float:
        return self.server_cpu * 1e6 / self.ok if self.ok else float("nan")


def run_step(
    server: Server, rate: int, calls: int, scenario: Path, users: Path, workdir: Path
) -> Step:
    """One SIPp run of `calls` registrations offered at `rate`/s; CPU of server and SIPp around it."""
    workdir.mkdir()
    stat = workdir / "stat.csv"
    sipp_port = free_port()
    args = [
        "sipp",
        "-sf",
        str(scenario),
        "-inf",
        str(users),
        "-i",
        "127.0.0.1",
        "-p",
        str(sipp_port),
        "-buff_size",
        str(SIPP_BUFFER),
        "-t",
        "u1",
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(max(100, rate * 2)),
        "-recv_timeout",
        "5000",
        "-timeout",
        f"{calls / rate + 20:.0f}s",
        "-timeout_error",
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(stat),
        "-fd",
        "1",
        "-trace_rtt",  # SIPp writes RTDs in batches of -rtt_freq and drops a last partial one
        "-rtt_freq",
        "1",
        "-trace_err",
        "-error_file",
        str(workdir / "errors.log"),
        f"{server.target[0]}:{server.target[1]}",
    ]
    pids = server.pids()
    drops0 = udp_drops(server.target[1])
    cpu0, sipp0, t0 = cpu_seconds(pids), children_cpu_seconds(), time.monotonic()
    proc, client_drops = _run_sampling_drops(args, workdir, calls / rate + 60, sipp_port)
    wall = time.monotonic() - t0
    server_cpu, sipp_cpu = cpu_seconds(pids) - cpu0, children_cpu_seconds() - sipp0
    drops = udp_drops(server.target[1]) - drops0
    last = final_statistics(stat, proc)
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    failed = max(failed, calls - ok)  # calls cut off by the global timeout count as failed
    done = response_times(workdir).get("1", [])  # (when the 200 came, ms the registration took)
    rtts = [rtt for _, rtt in done]
    achieved = started_rate(done, last)
    ticks = sorted({at for at, _ in done})
    tick = min((b - a for a, b in itertools.pairwise(ticks)), default=1.0)
    note = failure_causes(last, proc.returncode)
    if failed:
        verdict = "FAIL"
    elif achieved < KEEP_UP * rate:
        verdict = "SIPP-LIMIT" if sipp_cpu >= SIPP_SATURATED * wall else "SLOW"
    else:
        verdict = "ok"
    return Step(
        rate,
        calls,
        ok,
        failed,
        int(last["Retransmissions(C)"]),
        drops,
        client_drops,
        achieved,
        percentiles(rtts),
        tick,
        server_cpu,
        sipp_cpu,
        wall,
        verdict,
        note,
    )


def _run_sampling_drops(
    args: list[str], workdir: Path, timeout: float, sipp_port: int
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run SIPp; meanwhile read its socket's drop counter every 50 ms (the socket and its
    counter are gone once SIPp exits). Returns SIPp's result and the last count read."""
    deadline = time.monotonic() + timeout
    drops = 0
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir) as proc:
        while True:
            try:
                out, err = proc.communicate(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                drops = max(drops, udp_drops(sipp_port))
                if time.monotonic() > deadline:
                    proc.kill()
                    out, err = proc.communicate()
                    break
    return subprocess.CompletedProcess(args, proc.returncode, out, err), drops


def _ms(v: float, tick: float) -> str:
    """Milliseconds as SIPp measured them: 0 means under one tick of its clock."""
    return "n/a" if v != v else (f"<{tick:.0f}" if v < tick / 2 else f"{v:.0f}")


def print_step(name: str, s: Step) -> None:
    p50, p95, p99 = s.rtt_ms
    print(
        f"  {name:9} {s.rate:>6}/s {s.ok:>6}/{s.calls:<6} fail {s.failed:<5} retr {s.retrans:<5} drop {s.drops:<5} sipp-drop {s.client_drops:<5} "
        f"got {s.achieved:>7.0f}/s  p50/95/99 {_ms(p50, s.tick_ms):>3}/{_ms(p95, s.tick_ms):>4}/{_ms(p99, s.tick_ms):>4} ms  "
        f"CPU {s.cpu_us_per_reg:>6.0f} us/reg ({100 * s.server_cpu / s.wall:>3.0f}% of a core, "
        f"SIPp {100 * s.sipp_cpu / s.wall:>3.0f}%)  {s.verdict} {s.note}",
        flush=True,
    )


def sweep(
    server: Server, rates: list[int], step_seconds: float, max_calls: int, tmp: Path
) -> list[Step]:
    """Run the steps in order; stop at the first that fails, falls behind, or saturates SIPp."""
    scenario, users = sipp_files(tmp)
    steps = []
    for rate in rates:
        calls = max(10, min(max_calls, int(rate * step_seconds)))
        step = run_step(server, rate, calls, scenario, users, tmp / f"{server.name}-{rate}")
        print_step(server.name, step)
        steps.append(step)
        if not step.passed:
            break
    return steps


# -- report ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    name: str
    rate: int  # RFC 7501 registration rate: highest offered rate passed with zero failures
    stopped: str  # why the sweep ended
    at_rate: Step | None


def summarise(name: str, steps: list[Step]) -> Summary:
    passed = [s for s in steps if s.passed]
    last = steps[-1] if steps else None
    if last is None:
        stopped = "no step ran"
    elif last.passed:
        stopped = "highest step offered"
    else:
        stopped = {
            "FAIL": f"failures at {last.rate}/s",
            "SLOW": f"server fell behind at {last.rate}/s",
            "SIPP-LIMIT": f"SIPp saturated at {last.rate}/s (server not the limit)",
        }[last.verdict]
    return Summary(name, passed[-1].rate if passed else 0, stopped, passed[-1] if passed else None)


def cpu_per_reg(steps: list[Step], rates: set[int]) -> float:
    """CPU microseconds per registration over the steps at `rates` (summed: /proc counts in ticks)."""
    chosen = [s for s in steps if s.rate in rates]
    regs = sum(s.ok for s in chosen)
    return sum(s.server_cpu for s in chosen) * 1e6 / regs if regs else float("nan")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def report(results: dict[str, list[Step]]) -> None:
    print("\n== Summary: SIPp REGISTER + MD5 digest (401, then 200), UDP on 127.0.0.1")
    summaries = {name: summarise(name, steps) for name, steps in results.items()}
    for s in summaries.values():
        at = s.at_rate
        shown = (
            f"p50/p95/p99 {'/'.join(_ms(v, at.tick_ms) for v in at.rtt_ms)} ms, "
            f"CPU {at.cpu_us_per_reg:.0f} us/reg"
            if at
            else "no step passed"
        )
        print(
            f"  {s.name:9} registration rate (RFC 7501, zero failures) {s.rate:>6}/s  [{s.stopped}]; at it: {shown}"
        )
    if not {"acdgate", "kamailio"} <= set(results):
        return
    gw, ka = results["acdgate"], results["kamailio"]
    common = {s.rate for s in gw if s.passed} & {s.rate for s in ka if s.passed}
    basis = f"the steps both passed ({', '.join(map(str, sorted(common)))}/s)"
    if not common:  # nothing both passed: compare the first step, failures and all
        common = {gw[0].rate} if gw and ka and gw[0].rate == ka[0].rate else set()
        basis = (
            f"the first step ({gw[0].rate}/s; not passed by both)" if common else "no common step"
        )
    gw_cpu, ka_cpu = cpu_per_reg(gw, common), cpu_per_reg(ka, common)
    rate_ratio = (
        summaries["acdgate"].rate / summaries["kamailio"].rate
        if summaries["kamailio"].rate
        else float("nan")
    )
    cpu_ratio = gw_cpu / ka_cpu if ka_cpu else float("nan")
    print(f"  CPU per registration over {basis}: acdgate {gw_cpu:.0f} us, kamailio {ka_cpu:.0f} us")
    floor = results.get("twisted-floor")
    floor_cpu = cpu_per_reg(floor, common) if floor else float("nan")
    if floor and all(s.rate in {f.rate for f in floor if f.passed} for s in gw if s.rate in common):
        # the floor is only comparable over the same steps: it must have passed all of them
        # a short step can count no 10 ms CPU tick at all: print n/a, never divide by zero
        print(
            f"  twisted-floor (CPython + Twisted, no parser/transactions/store) over the same steps: "
            f"{floor_cpu:.0f} us = {_ratio(floor_cpu, ka_cpu)}x kamailio; "
            f"acdgate = {_ratio(gw_cpu, floor_cpu)}x the floor"
        )

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print(
        f"  ratio acdgate/kamailio, registration rate:   {rate_ratio:5.2f}   "
        f"target >= 1.00 (Kamailio's rate): {verdict(rate_ratio >= 1.0)}"
    )
    print(
        f"  ratio acdgate/kamailio, CPU per registration: {cpu_ratio:5.2f}x  "
        f"target <= {TARGET_CPU_RATIO:.2f}x: {verdict(cpu_ratio <= TARGET_CPU_RATIO)}"
    )
    both = [(g, k) for g in gw for k in ka if g.rate == k.rate and g.passed and k.passed]
    if both:
        g, k = both[-1]
        print(
            f"  p99 at {g.rate}/s (highest rate both passed): acdgate {_ms(g.rtt_ms[2], g.tick_ms)} ms, "
            f"kamailio {_ms(k.rtt_ms[2], k.tick_ms)} ms (SIPp counts in {k.tick_ms:.0f} ms ticks)"
        )


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, "1 s steps up to 800/s (under 30 s)")
    parser.add_argument(
        "--rates", type=int_list, help="offered rates, comma-separated (default: doubling from 200)"
    )
    parser.add_argument("--max-rate", type=int, help="drop default rates above this")
    parser.add_argument(
        "--step-seconds",
        type=float,
        help="registrations per step = rate x this (default 4, quick 1)",
    )
    parser.add_argument(
        "--max-calls", type=int, default=50_000, help="cap on registrations per step"
    )
    parser.add_argument(
        "--servers",
        default="acdgate,kamailio,twisted-floor",
        help="which servers, comma-separated (twisted-floor: bench/twisted_floor.py)",
    )
    parser.add_argument(
        "--keep", type=Path, help="keep SIPp's files and the servers' logs in this new directory"
    )
    args = parser.parse_args(argv)
    rates = args.rates or [
        r for r in DEFAULT_RATES if r <= (args.max_rate or (800 if args.quick else 25600))
    ]
    step_seconds = args.step_seconds or (1.0 if args.quick else 4.0)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]

    def measure() -> dict[str, list[Step]]:
        print(
            f"bench_register: rates {rates}/s, {step_seconds:g} s per step (cap {args.max_calls}), "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} (shared machine: figures vary); "
            f"acdgate {acdgate_build()}"
        )
        starts = {"acdgate": acdgate_server, "kamailio": kamailio_server, "twisted-floor": floor_server}
        results: dict[str, list[Step]] = {}
        with contextlib.ExitStack() as stack:
            tmp = scratch_dir(stack, args.keep, "bench-register-")
            for name in servers:
                work = tmp / name
                work.mkdir()
                with starts[name](work) as server:
                    print(f"{name} on {server.target[0]}:{server.target[1]} (pids {server.pids()})")
                    print(f"  challenge check: {check_challenges(server.target)}", flush=True)
                    results[name] = sweep(server, rates, step_seconds, args.max_calls, work)
        return results

    return run_bench("bench_register", measure, report)


if __name__ == "__main__":
    sys.exit(main())
