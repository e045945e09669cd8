"""What the SIPp benchmarks share (bench_register, bench_calls, bench_relay): CPU time and socket
drops from /proc, the gateway and Kamailio processes, a SIP request for probes, SIPp's injection
and statistics files, percentiles, and the frame of a benchmark's `main` (`run_bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from acdgate.lab.gateway_process import GatewayProcess  # the lab's launcher: waits for "ready"

ROOT = Path(__file__).resolve().parent.parent

CLK_TCK = os.sysconf("SC_CLK_TCK")
R = TypeVar("R")


class BenchError(Exception):
    """The benchmark could not run (a server did not start, did not challenge, SIPp missing)."""


def free_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat_fields(pid: int) -> list[bytes]:
    """Fields of /proc/<pid>/stat from field 3 (state) on; the name may hold spaces and ')'."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime (fields 14 and 15 of proc(5)) summed over `pids`, in seconds."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def children_of(parent: int) -> list[int]:
    """Live direct children of `parent`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = _stat_fields(int(entry))
                if int(fields[1]) == parent and fields[0] != b"Z":
                    found.append(int(entry))
    return found


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped at the UDP sockets bound to `port` (receive buffer full)."""
    drops = 0
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                drops += int(fields[-1])
    return drops


def children_cpu_seconds() -> float:
    """CPU time of this process's terminated, reaped children (here: each SIPp run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def running_gateway(state: Path, config: Path | None = None) -> Iterator[GatewayProcess]:
    """`acdgate run` (the demo site, or `config`) on 127.0.0.1, free ports, logging warnings
    only; stopped (killed if it will not stop) when the block ends."""
    gw = GatewayProcess(state, config=config, extra=["--log-level", "warn"])
    try:
        gw.start()
    except AssertionError as e:
        raise BenchError(f"acdgate did not start: {e}") from None
    try:
        yield gw
    finally:
        try:
            gw.stop()
        except AssertionError:
            gw.kill()


def acdgate_build() -> str:
    """Which acdgate this interpreter runs (the gateway is started with it): pure Python, or
    with modules compiled by mypyc (setup.py: a wheel's default)."""
    import acdgate.gateway.app  # noqa: F401  (loads every module the gateway runs)
    from acdgate.gateway import build

    return build.describe()


def kamailio_exe() -> str:
    """Debian's kamailio binary (it lives in /usr/sbin, often not on PATH)."""
    exe = shutil.which("kamailio") or (
        "/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None
    )
    if exe is None:
        raise BenchError("kamailio not found: apt-get install kamailio (see bench/README.md)")
    return exe


@contextlib.contextmanager
def kamailio(
    exe: str, tmp: Path, config: Path, port: int, define: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Kamailio with `config` on 127.0.0.1:`port` (`define`: one more -A), in its own session,
    once it answers an OPTIONS; stopped (its session killed if it will not stop) at the end."""
    run = tmp / "kamailio-run"
    run.mkdir(parents=True)
    log = (tmp / "kamailio.log").open("wb")
    proc = subprocess.Popen(
        [
            exe,
            "-f",
            str(config),
            "-DD",
            "-E",
            "-Y",
            str(run),
            "-w",
            str(run),
            "-A",
            f"LISTEN=udp:127.0.0.1:{port}",
            "-A",
            define,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if not _answers_options(("127.0.0.1", port), proc, timeout=15.0):
            raise BenchError(
                "kamailio did not answer on its port:\n"
                + (tmp / "kamailio.log").read_text()[-2000:]
            )
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only the processes it forked
                proc.wait()
        log.close()


def _answers_options(
    target: tuple[str, int], proc: subprocess.Popen[bytes], timeout: float
) -> bool:
    """Whether the server answers an OPTIONS (any status) before `timeout`; probes every 0.2 s."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        local = s.getsockname()
        while time.monotonic() < deadline and proc.poll() is None:
            s.sendto(
                request_bytes("OPTIONS", target, local, "2101", f"ready-{secrets.token_hex(4)}", 1),
                target,
            )
            with contextlib.suppress(TimeoutError):
                if s.recv(65535).startswith(b"SIP/2.0 "):
                    return True
    return False


def request_bytes(
    method: str,
    target: tuple[str, int],
    local: tuple[str, int],
    user: str,
    call_id: str,
    cseq: int,
    authorization: str | None = None,
) -> bytes:
    host, port = target
    lines = [
        f"{method} sip:{host}:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK{secrets.token_hex(8)};rport",
        f"From: <sip:{user}@{host}>;tag={secrets.token_hex(4)}",
        f"To: <sip:{user}@{host}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:{user}@{local[0]}:{local[1]}>",
        "Max-Forwards: 70",
        "Expires: 60",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    lines += ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def injection_file(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A SIPp SEQUENTIAL injection file: field0 = station, field1 = its SIPp credentials."""
    path.write_text("\n".join(
        ["SEQUENTIAL", *(f"{u};[authentication username={u} password={p}]" for u, p in rows)]) + "\n")
    return path


def final_statistics(stat: Path, proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The last row of SIPp's -trace_stat file (cumulative counters); BenchError when none."""
    rows = list(csv.DictReader(stat.open(), delimiter=";")) if stat.exists() else []
    if not rows:
        raise BenchError(
            f"SIPp wrote no statistics (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-2000:]}"
        )
    return rows[-1]


def failure_causes(last: dict[str, str], returncode: int) -> str:
    """SIPp's non-zero failure counters ("UnexpectedMessage 12"), and an exit other than 0 or 1."""
    causes = [
        f"{key[6:-3]} {last[key]}"  # e.g. FailedUnexpectedMessage(C) -> "UnexpectedMessage 12"
        for key in last
        if key.startswith("Failed")
        and key.endswith("(C)")
        and key != "FailedCall(C)"
        and int(last[key] or 0)
    ]
    return " ".join([*causes, *([] if returncode in (0, 1) else [f"sipp exit {returncode}"])])


def response_times(workdir: Path) -> dict[str, list[tuple[float, float]]]:
    """Per RTD number, (ms since SIPp started when the RTD ended, ms it took) of every call,
    from the -trace_rtt files (-rtt_freq 1: SIPp drops a last partial batch)."""
    rtds: dict[str, list[tuple[float, float]]] = {}
    for f in workdir.glob("*_rtt.csv"):
        for r in csv.DictReader(f.open(), delimiter=";"):
            rtds.setdefault(r.get("rtd_no") or "", []).append(
                (float(r["Date_ms"]), float(r["response_time_ms"]))
            )
    return rtds


def started_rate(done: list[tuple[float, float]], last: dict[str, str]) -> float:
    """Calls/s SIPp started. Its CallRate(C) counts the wait for the last answers too: the
    offered rate is measured from when the calls started (completion - response time)."""
    starts = sorted(at - rtt for at, rtt in done)
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    return (len(starts) - 1) * 1000 / span if span > 0 else float(last["CallRate(C)"])


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """Nearest-rank p50, p95, p99 (NaN when empty)."""
    if not values:
        return (float("nan"),) * 3
    ordered = sorted(values)

    def rank(p: int) -> float:
        return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))]

    return rank(50), rank(95), rank(99)


def scratch_dir(stack: contextlib.ExitStack, keep: Path | None, prefix: str) -> Path:
    """Where the runs write: `keep` (--keep; made here, must be new), else a temporary
    directory that `stack` removes."""
    if keep is not None:
        keep.mkdir(parents=True)
        return keep
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))


def run_bench(name: str, measure: Callable[[], R], report: Callable[[R], None]) -> int:
    """A benchmark's exit status: 1 when SIPp is missing or `measure` raised BenchError, 130
    when interrupted (servers stopped by their blocks; SIGTERM runs them too), else 0 after
    `report` printed the figures `measure` returned."""
    if shutil.which("sipp") is None:
        print(f"{name}: sipp not found (apt-get install sip-tester)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop servers
    try:
        results = measure()
    except BenchError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted; servers stopped", file=sys.stderr)
        return 130
    report(results)
    return 0


def int_list(text: str) -> list[int]:
    """A comma-separated option's whole numbers (--rates 100,300)."""
    return [int(r) for r in text.split(",") if r.strip()]


def bench_parser(doc: str | None, quick: str) -> argparse.ArgumentParser:
    """A benchmark's options, first --quick (`quick`: what it does); described by `doc`'s first
    paragraph."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=quick)
    return parser
