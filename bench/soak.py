"""Soak (issue 19): `--minutes` of legitimate traffic with the SIP attacks mixed in, sampling the
gateway's RSS and open descriptors each minute. Zero failed legitimate operations passes.

Legitimate traffic, all from 127.0.0.2 with SIPp, in rounds of `--round-seconds`:
registrations of the calling stations (tests/support/sipp/register_auth.xml) at `--rate`/s,
routed calls to a linear group whose SIPp agents answer (bench/sipp/caller.xml, agent.xml) at
`--rate`/s, and short codes (*38 Not Ready, then *37 Ready) from stations whose users are in no
group. The attacks, one after the other, one per round, from other addresses: svcrack (with the
real password of a calling station deep in its list) and svwar (REGISTER, INVITE, OPTIONS) from
127.0.0.1 (sipvicious 0.3.x ignores -b), a flood of REGISTERs with forged nonces that claim
127.0.0.2's stations sent from 127.0.0.3 (answers never read), and `--idle-tcp` idle TCP
connections from 127.0.4.x, held until the gateway closes them (its tcp_idle_seconds is
`--tcp-idle`).

Each minute: the gateway's RSS and open descriptors (/proc/<pid>/status, /proc/<pid>/fd) and the
operations done so far, printed as a table; at the end the totals and PASS (exit 0) or FAIL
(exit 1: a legitimate operation failed, or the benchmark could not run).

Picking --rate: half the lower of the capacities measured on the same machine, calls being the
lower: bench_calls.py's session establishment rate (400/s on the lab machine, bench/README.md)
gives --rate 200; registrations run at the same rate, far below bench_register.py's 12,800/s.
On a shared machine run it `nice` and lower (bench/README.md records a run at --rate 20).

Run: nice .venv/bin/python bench/soak.py [--minutes 30] [--rate 200] [--keep DIR]
(needs `sipp` and sipvicious, the test extra; loopback only; everything is bounded in time).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from acdgate.lab.drivers.sipp_scenarios import feature_call_scenario

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from bench_calls import AGENT_XML, CALLER_XML, PIN, REGISTER_XML, call_site, site_toml  # noqa: E402
from digest_phone import Phone  # noqa: E402  (the hand-made attack client of tests/security)
from sipp_bench import (  # noqa: E402  (a sibling module, found through sys.path)
    BenchError,
    final_statistics,
    free_port,
    injection_file,
    running_gateway,
    scratch_dir,
)
from sipvicious_runs import dictionary, svcrack_command, svwar  # noqa: E402

LEGIT = "127.0.0.2"  # every legitimate operation comes from here
FORGER = "127.0.0.3"
CODE_STATIONS = 4  # stations 22000.. with users 32000.. (in no group) dial the short codes
SIPVICIOUS_TIMEOUT = 90.0


@dataclass(slots=True)
class Counts:
    """Legitimate operations done and failed, and attack runs, so far (under `lock`)."""

    registrations: int = 0
    calls: int = 0
    codes: int = 0
    failed: int = 0
    attacks: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ok: int, failed: int, why: str = "") -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + ok)
            self.failed += failed
            if failed:
                self.failures.append(f"{kind}: {failed} failed {why}".strip())


@dataclass(frozen=True, slots=True)
class Sample:
    minute: float
    rss_kib: int
    fds: int
    registrations: int
    calls: int
    codes: int
    failed: int
    attacks: int


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def soak_site(agents: int, callers: int, tcp_idle: int) -> tuple[str, list[tuple[str, str]]]:
    """bench_calls' site with the site's default throttle (the attacks need it), the TCP idle
    time, and short-code stations with users in no group; the short-code stations' rows."""
    text = site_toml(call_site(agents, callers))
    text = "\n".join(line for line in text.splitlines() if not line.startswith("auth_failures_before_"))
    text = text.replace("[sip]\n", f"[sip]\ntcp_idle_seconds = {tcp_idle}\n", 1)
    codes = [(str(22000 + i), f"pw{22000 + i}") for i in range(CODE_STATIONS)]
    for i, (ext, password) in enumerate(codes):
        text += (f'\n[[stations]]\nextension = "{ext}"\nsip_password = "{password}"\n'
                 f'\n[[users]]\nid = "{32000 + i}"\nname = "Codes {i}"\npin = "{PIN}"\n')
    text += ('\n[short_codes]\n"*35*N#" = { feature = "login", argument = "N" }\n'
             '"*37" = { feature = "ready" }\n"*38" = { feature = "not-ready" }\n')
    return text + "\n", codes


def sipp(workdir: Path, target: tuple[str, int], scenario: Path, rows: list[tuple[str, str]], *,
         calls: int, rate: float, service: str = "", extra: tuple[str, ...] = (),
         port: int = 0) -> tuple[int, int, str]:
    """One SIPp UAC run from LEGIT (on `port`, else a free one): (successful, failed, output tail)."""
    workdir.mkdir(parents=True, exist_ok=True)
    inf = injection_file(workdir / "users.csv", rows)
    stat = workdir / "stat.csv"
    limit = calls / rate + 30
    args = ["sipp", "-sf", str(scenario), "-inf", str(inf), "-i", LEGIT, "-p", str(port or free_port()),
            "-t", "u1", "-m", str(calls), "-r", f"{rate:g}", "-l", str(max(50, int(rate * 4))),
            "-recv_timeout", "10000", "-timeout", f"{limit:.0f}s", "-timeout_error", "-nostdin",
            "-trace_stat", "-stf", str(stat), "-fd", "1",
            "-trace_err", "-error_file", str(workdir / "errors.log"), *extra]
    if service:
        args += ["-s", service.replace("#", "%23")]
    args.append(f"{target[0]}:{target[1]}")
    proc = subprocess.run(args, capture_output=True, text=True, cwd=workdir, timeout=limit + 30)
    last = final_statistics(stat, proc)
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    return ok, max(failed, calls - ok), (proc.stdout + proc.stderr)[-300:]


@contextlib.contextmanager
def agent_uas(workdir: Path, port: int, sink: int) -> Iterator[subprocess.Popen[bytes]]:
    """bench/sipp/agent.xml on LEGIT:`port`, answering every offer until the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "agent.out").open("wb")
    proc = subprocess.Popen(["sipp", "-sf", str(AGENT_XML), "-i", LEGIT, "-p", str(port), "-t", "u1",
                             "-key", "rtp_port", str(sink), "-d", "0", "-nostdin", "-trace_stat",
                             "-stf", str(workdir / "agent-stat.csv"), "-fd", "1"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Attacks:
    """The attack of each round, in turn; every one bounded in time or count."""

    def __init__(self, workdir: Path, target: tuple[str, int], victim: str, idle_tcp: int,
                 flood: int) -> None:
        self.target = target
        self.victim = victim
        self.idle_tcp = idle_tcp
        self.flood = flood
        self.words = dictionary(workdir / "passwords.txt", f"pw{victim}", at=300, size=1000)
        self.held: list[socket.socket] = []
        self.kinds: Iterator[tuple[str, Callable[[], None]]] = itertools.cycle([
            ("svcrack", self.svcrack), ("forged nonces", self.forged_nonces),
            ("svwar REGISTER", lambda: self.svwar("REGISTER")), ("idle TCP", self.tcp),
            ("svwar INVITE", lambda: self.svwar("INVITE")), ("svwar OPTIONS", lambda: self.svwar("OPTIONS")),
        ])

    def next(self) -> str:
        name, attack = next(self.kinds)
        attack()
        return name

    def svcrack(self) -> None:
        proc = subprocess.run(svcrack_command(self.target, self.victim, self.words),
                              capture_output=True, text=True, timeout=SIPVICIOUS_TIMEOUT)
        if f"pw{self.victim}" in proc.stdout:
            raise BenchError("svcrack found the password:\n" + proc.stdout[-1000:])

    def svwar(self, method: str) -> None:
        run = svwar(self.target, method, "21000-21019")
        if "found nothing" not in run.stderr:
            raise BenchError(f"svwar {method} found extensions:\n{run.stdout[-1000:]}")

    def forged_nonces(self) -> None:
        forger, spoofed = Phone("127.0.2.1", self.target, self.victim), Phone(FORGER, self.target, self.victim)
        try:
            own = forger.challenge()
            for i in range(self.flood):
                nonce = "A" * 43 if i % 2 else None
                spoofed.send(spoofed.request(authorization=forger.authorization(own, "guess", nonce=nonce)))
        finally:
            forger.close()
            spoofed.close()

    def tcp(self) -> None:
        self.held = [s for s in self.held if not _closed(s)]
        for i in range(self.idle_tcp):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((f"127.0.4.{i % 250 + 1}", 0))
            s.settimeout(5)
            try:
                s.connect(self.target)
            except OSError:  # refused by the caps: what they are for
                s.close()
                continue
            self.held.append(s)

    def close(self) -> None:
        for s in self.held:
            s.close()


def _closed(s: socket.socket) -> bool:
    """Whether the gateway closed `s` (EOF or reset seen without waiting); closes it then."""
    s.setblocking(False)
    try:
        gone = s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        gone = True
    if gone:
        s.close()
    return gone


def soak(args: argparse.Namespace, tmp: Path) -> tuple[list[Sample], Counts]:
    site_text, codes = soak_site(args.agents, args.callers, args.tcp_idle)
    config = tmp / "site.toml"
    config.write_text(site_text)
    site = call_site(args.agents, args.callers)
    counts = Counts()
    samples: list[Sample] = []
    with running_gateway(tmp / "state", config) as gw:
        assert gw.proc is not None
        pid, target = gw.proc.pid, gw.sip
        agent_port, sink = free_port(), free_port()
        agents = [(a.station, a.password) for a in site.agents]
        _, failed, out = sipp(tmp / "setup-agents", target, REGISTER_XML, agents, calls=len(agents), rate=50,
                              port=agent_port)
        if failed:
            raise BenchError(f"agent stations did not register: {out}")
        # the phones are registered before the attacks start: 127.0.0.2 is their usual address,
        # the one an account held by guessing still takes (docs/security.md)
        _, failed, out = sipp(tmp / "setup-callers", target, REGISTER_XML, list(site.callers),
                              calls=len(site.callers), rate=50)
        if failed:
            raise BenchError(f"calling stations did not register: {out}")
        with agent_uas(tmp / "agent", agent_port, sink):
            for a in site.agents:  # agents log on by short code, then READY
                for n, code in enumerate((f"*35*{a.user}*{PIN}#", "*37")):
                    _, failed, out = feature(tmp / f"setup-{a.station}-{n}", target, [(a.station, a.password)], code)
                    if failed:
                        raise BenchError(f"agent {a.user} could not log on ({code}): {out}")
            for i, row in enumerate(codes):
                _, failed, out = feature(tmp / f"setup-code-{i}", target, [row], f"*35*{32000 + i}*{PIN}#")
                if failed:
                    raise BenchError(f"user {32000 + i} could not log on: {out}")
            attacks = Attacks(tmp, target, site.callers[0][0], args.idle_tcp, args.flood)
            start = time.monotonic()
            end = start + args.minutes * 60
            next_sample = start

            def sample() -> None:
                with counts.lock:
                    samples.append(Sample((time.monotonic() - start) / 60, rss_kib(pid), open_fds(pid),
                                          counts.registrations, counts.calls, counts.codes, counts.failed,
                                          counts.attacks))
                print(row_text(samples[-1]), flush=True)

            print(HEADER, flush=True)
            try:
                with concurrent.futures.ThreadPoolExecutor(4) as pool:
                    n = 0
                    while time.monotonic() < end:
                        if time.monotonic() >= next_sample:
                            sample()
                            next_sample += 60
                        seconds = min(args.round_seconds, max(1.0, end - time.monotonic()))
                        per_round = max(1, round(args.rate * seconds))
                        work = [
                            pool.submit(legit, counts, "registrations", lambda d=tmp / f"r{n}-reg", m=per_round: sipp(
                                d, target, REGISTER_XML, list(site.callers), calls=m, rate=args.rate)),
                            pool.submit(legit, counts, "calls", lambda d=tmp / f"r{n}-call", m=per_round: sipp(
                                d, target, CALLER_XML, list(site.callers), calls=m, rate=args.rate,
                                service=site.group, extra=("-key", "rtp_port", str(sink)))),
                            pool.submit(legit, counts, "codes", lambda d=tmp / f"r{n}": codes_round(d, target, codes)),
                            pool.submit(attacks.next),
                        ]
                        for w in work:
                            w.result(timeout=SIPVICIOUS_TIMEOUT + seconds + 120)
                        with counts.lock:
                            counts.attacks += 1
                        n += 1
                sample()
            finally:
                attacks.close()
    return samples, counts


def feature(workdir: Path, target: tuple[str, int], rows: list[tuple[str, str]], code: str) -> tuple[int, int, str]:
    """Each station of `rows` dials `code` once (the gateway answers, plays, hangs up)."""
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "feature.xml"
    scenario.write_text(feature_call_scenario(answered=True, rtp_port=free_port()))
    return sipp(workdir, target, scenario, rows, calls=len(rows), rate=10, service=code)


def codes_round(workdir: Path, target: tuple[str, int], codes: list[tuple[str, str]]) -> tuple[int, int, str]:
    """Not Ready then Ready again at every short-code station."""
    a = feature(workdir / "code38", target, codes, "*38")
    b = feature(workdir / "code37", target, codes, "*37")
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def legit(counts: Counts, kind: str, run: Callable[[], tuple[int, int, str]]) -> None:
    ok, failed, out = run()
    counts.add(kind, ok, failed, out if failed else "")


HEADER = (f"{'minute':>6} {'RSS MiB':>8} {'fds':>5} {'registrations':>13} {'calls':>7} "
          f"{'short codes':>11} {'failed':>6} {'attacks':>7}")


def row_text(s: Sample) -> str:
    return (f"{s.minute:6.1f} {s.rss_kib / 1024:8.1f} {s.fds:5d} {s.registrations:13d} {s.calls:7d} "
            f"{s.codes:11d} {s.failed:6d} {s.attacks:7d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="registrations/s and routed calls/s (default 200: half of 400 calls/s)")
    parser.add_argument("--round-seconds", type=float, default=20.0, help="length of a round (default 20)")
    parser.add_argument("--agents", type=int, default=20, help="answering agents (default 20)")
    parser.add_argument("--callers", type=int, default=20, help="calling stations (default 20)")
    parser.add_argument("--idle-tcp", type=int, default=100, help="idle TCP connections per TCP attack")
    parser.add_argument("--tcp-idle", type=int, default=30, help="the gateway's tcp_idle_seconds")
    parser.add_argument("--flood", type=int, default=500, help="forged-nonce REGISTERs per flood")
    parser.add_argument("--keep", type=Path, help="keep SIPp's files here (a new directory)")
    args = parser.parse_args(argv)
    print(f"soak: {args.minutes:g} min at {args.rate:g}/s registrations and calls, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        with contextlib.ExitStack() as stack:
            samples, counts = soak(args, scratch_dir(stack, args.keep, "acdgate-soak-"))
    except (BenchError, subprocess.TimeoutExpired, concurrent.futures.TimeoutError) as e:
        print(f"soak: FAIL, could not run: {e}", file=sys.stderr)
        return 1
    first, last = samples[0], samples[-1]
    print(f"done: {counts.registrations} registrations, {counts.calls} routed calls, {counts.codes} short codes, "
          f"{counts.attacks} attack runs in {last.minute:.1f} min; RSS {first.rss_kib / 1024:.1f} -> "
          f"{last.rss_kib / 1024:.1f} MiB, fds {first.fds} -> {last.fds}")
    for why in counts.failures[:10]:
        print(f"  {why}")
    verdict = "PASS" if counts.failed == 0 else "FAIL"
    print(f"{verdict}: {counts.failed} failed legitimate operation(s)")
    return 0 if counts.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
