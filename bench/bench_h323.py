"""H.323 registration benchmark (issue 15): RRQs per second and the gateway's CPU per RRQ, beside
SIP REGISTERs per second and CPU per registration measured in the same run against the same
`acdgate run`.

One gateway (the demo site plus N H.323 stations 2301...) serves both. First SIPp registers the
demo's SIP stations with digest at a fixed offered rate for a few seconds (bench_register's
step: REGISTER, 401, REGISTER, 200 is one registration); then N H.323 endpoints, each on its own
UDP socket, send full RRQs with an H.235 CAT, closed loop (the next one when the RCF arrives),
then lightweight keep-alive RRQs the same way. Requests are encoded before the clock starts, so
the client's pycrate does not compete with the gateway for the CPU while it is measured. CPU is
the gateway process's utime + stime from /proc around each phase. Prints the figures and the
ratio CPU(RRQ)/CPU(REGISTER) against the target (<= 2x); a missed target is printed, not an
error. Every phase is bounded in count and in time.

Run: .venv/bin/python bench/bench_h323.py [--quick] [--endpoints 50] [--rrqs 3000]
     [--sip-rate 1600] [--sip-seconds 3] [--profile FILE]
(needs `sipp`; loopback only; about 30 s, --quick under 15 s). --profile runs the gateway under
cProfile (`python -m cProfile -o FILE`) to see where an RRQ's time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import selectors
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from acdgate.gateway.h323.h235 import make_cat  # noqa: E402
from acdgate.gateway.h323.ras_codec import RasCodec  # noqa: E402
from acdgate.gateway.h323.ras_messages import (  # noqa: E402
    Alias,
    AliasKind,
    RegistrationRequest,
    TransportAddress,
)
from acdgate.gateway.site_loader import demo_site_text  # noqa: E402
from acdgate.lab.gateway_process import GatewayProcess  # noqa: E402
from bench_register import Server, Step, run_step, sipp_files  # noqa: E402  (sibling modules)
from pycrate_asn1dir import H225  # noqa: E402
from sipp_bench import (  # noqa: E402
    BenchError,
    acdgate_build,
    bench_parser,
    cpu_seconds,
    run_bench,
    scratch_dir,
)

FIRST_STATION = 2301
RCF_INDEX = 4  # H.225.0 RasMessage CHOICE index of registrationConfirm
ANSWER_TIMEOUT = 2.0  # seconds an endpoint waits for its RCF before it counts a failure
TARGET_CPU_RATIO = 2.0


def bench_site(path: Path, endpoints: int) -> Path:
    """The demo site plus `endpoints` H.323 stations (alias = extension, password pw + it)."""
    extra = "".join(
        f'\n[[stations]]\nextension = "{n}"\nh323_alias = "{n}"\nsip_password = "pw{n}"\n'
        f'label = "bench H.323 {n}"\n' for n in range(FIRST_STATION, FIRST_STATION + endpoints))
    path.write_text(demo_site_text() + extra)
    return path


# `GatewayProcess` runs [*prefix, python, -m, acdgate.gateway.cli, run, ...]: this prefix runs
# that module under cProfile instead, and the profile is written when the gateway exits.
_PROFILED = ("import cProfile, sys; sys.argv = sys.argv[3:]; "
             "cProfile.run('import runpy; runpy.run_module(\"acdgate.gateway.cli\", "
             "run_name=\"__main__\")', {out!r})")


@contextlib.contextmanager
def gateway(tmp: Path, endpoints: int, profile: Path | None) -> Iterator[GatewayProcess]:
    """`acdgate run` on the bench site (warnings only), under cProfile when asked."""
    prefix = [sys.executable, "-c", _PROFILED.format(out=str(profile))] if profile else []
    gw = GatewayProcess(tmp / "state", config=bench_site(tmp / "site.toml", endpoints),
                        extra=["--log-level", "warn"], command_prefix=prefix)
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


@dataclass(frozen=True, slots=True)
class Phase:
    """One closed-loop run of RRQs: how many were confirmed, in how long, for how much CPU."""

    name: str
    sent: int
    confirmed: int
    failed: int
    wall: float
    server_cpu: float

    @property
    def per_second(self) -> float:
        return self.confirmed / self.wall if self.wall else 0.0

    @property
    def cpu_us(self) -> float:
        return self.server_cpu * 1e6 / self.confirmed if self.confirmed else float("nan")


class Endpoints:
    """N H.323 endpoints on loopback, each its own RAS socket and station."""

    def __init__(self, count: int) -> None:
        self.socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            self.socks.append(s)
        self.codec = RasCodec()
        self.identifiers: list[str | None] = [None] * count

    def close(self) -> None:
        for s in self.socks:
            s.close()

    def _request(self, i: int, seq: int, **fields: object) -> bytes:
        me = TransportAddress("127.0.0.1", self.socks[i].getsockname()[1])
        station = str(FIRST_STATION + i)
        request = RegistrationRequest(
            seq=seq, call_signal_addresses=(TransportAddress("127.0.0.1", 1720),),
            ras_addresses=(me,), terminal_aliases=(Alias(AliasKind.DIALLED_DIGITS, station),),
            vendor="bench_h323 1.0", time_to_live=300)
        return self.codec.encode(replace(request, **fields))

    def full_rrqs(self, i: int, count: int) -> list[bytes]:
        """`count` full RRQs with CATs, each (timestamp, random) pair fresh (no replays)."""
        now = int(time.time())
        station = str(FIRST_STATION + i)
        return [self._request(i, n % 65535 + 1, tokens=(
            make_cat(station, f"pw{station}", now - n // 256, n % 256),)) for n in range(count)]

    def keep_alives(self, i: int, count: int) -> list[bytes]:
        """`count` lightweight RRQs for the registration the last RCF named (one encoding:
        a keep-alive carries no token, so the same datagram may be sent again)."""
        identifier = self.identifiers[i]
        if identifier is None:
            raise BenchError(f"endpoint {i} has no registration to keep alive")
        return [self._request(i, 1, keep_alive=True, endpoint_identifier=identifier,
                              terminal_aliases=())] * count

    def run(self, name: str, target: tuple[str, int], requests: list[list[bytes]], pid: int,
            max_seconds: float) -> Phase:
        """Each endpoint sends its requests one after the other, the next when the RCF came
        (or after ANSWER_TIMEOUT, a failure); all endpoints at once; at most `max_seconds`."""
        selector = selectors.DefaultSelector()
        pending = [0] * len(self.socks)
        sent_at = [0.0] * len(self.socks)
        confirmed = sent = 0
        cpu0, t0 = cpu_seconds([pid]), time.monotonic()
        deadline = t0 + max_seconds
        for i, s in enumerate(self.socks):
            selector.register(s, selectors.EVENT_READ, i)
            if requests[i]:
                s.sendto(requests[i][0], target)
                sent_at[i], sent = time.monotonic(), sent + 1
        outstanding = sum(1 for r in requests if r)
        last_answer: list[bytes | None] = [None] * len(self.socks)
        while outstanding and time.monotonic() < deadline:
            events = selector.select(timeout=0.05)
            now = time.monotonic()
            ready = {key.data for key, _ in events}
            for i, s in enumerate(self.socks):
                if pending[i] >= len(requests[i]):
                    continue
                if i in ready:
                    data = s.recv(65535)
                    if data and (data[0] >> 2) & 0x1F == RCF_INDEX:
                        confirmed += 1
                        last_answer[i] = data
                    # (anything else, like no answer in time, is a failure: sent - confirmed)
                elif now - sent_at[i] <= ANSWER_TIMEOUT:
                    continue
                pending[i] += 1
                if pending[i] < len(requests[i]):
                    s.sendto(requests[i][pending[i]], target)
                    sent_at[i], sent = now, sent + 1
                else:
                    outstanding -= 1
        wall = time.monotonic() - t0
        cpu = cpu_seconds([pid]) - cpu0
        selector.close()
        for i, data in enumerate(last_answer):
            if data is not None:
                message = H225.H323_MESSAGES.RasMessage
                message.from_aper(data)
                self.identifiers[i] = message.get_val()[1]["endpointIdentifier"]
        return Phase(name, sent, confirmed, sent - confirmed, wall, cpu)  # answered or not


@dataclass(frozen=True, slots=True)
class Results:
    build: str
    sip_target: tuple[str, int]
    ras_target: tuple[str, int]
    endpoints: int
    sip: Step
    full: Phase
    keep_alive: Phase


def measure(args: argparse.Namespace) -> Results:
    endpoints: int = args.endpoints
    rrqs: int = args.rrqs
    with contextlib.ExitStack() as stack:
        tmp = scratch_dir(stack, None, "bench-h323-")
        profile: Path | None = args.profile
        gw = stack.enter_context(gateway(tmp, endpoints, profile))
        assert gw.proc is not None
        pid = gw.proc.pid
        ras = gw.info["h323"]["ras"]
        ras_target = (str(ras["host"]), int(ras["port"]))
        rate, seconds = args.sip_rate, args.sip_seconds
        scenario, users = sipp_files(tmp)
        sip = run_step(Server("acdgate", gw.sip, lambda: [pid]), rate, max(1, int(rate * seconds)),
                       scenario, users, tmp / "sipp")
        clients = Endpoints(endpoints)
        stack.callback(clients.close)
        each = max(1, rrqs // endpoints)
        full = clients.run("full RRQ (CAT)", ras_target,
                           [clients.full_rrqs(i, each) for i in range(endpoints)], pid, 120)
        keep = clients.run("keep-alive RRQ", ras_target,
                           [clients.keep_alives(i, each) for i in range(endpoints)], pid, 120)
        return Results(acdgate_build(), gw.sip, ras_target, endpoints, sip, full, keep)


def report(r: Results) -> None:
    print(f"acdgate ({r.build}): SIP on {r.sip_target[0]}:{r.sip_target[1]}, "
          f"H.323 RAS on {r.ras_target[0]}:{r.ras_target[1]}")
    s = r.sip
    print(f"  SIP REGISTER (SIPp, digest, {s.rate}/s offered): {s.ok}/{s.calls} ok, fail {s.failed}, "
          f"got {s.achieved:.0f}/s, CPU {s.cpu_us_per_reg:.0f} us/reg ({s.verdict})")
    for p in (r.full, r.keep_alive):
        print(f"  H.323 {p.name}, {r.endpoints} endpoints closed loop: {p.confirmed}/{p.sent} RCF, "
              f"fail {p.failed}, {p.per_second:.0f}/s, CPU {p.cpu_us:.0f} us/RRQ")
    for p in (r.full, r.keep_alive):
        ratio = p.cpu_us / s.cpu_us_per_reg if s.cpu_us_per_reg else float("nan")
        verdict = "met" if ratio <= TARGET_CPU_RATIO else "MISSED"
        print(f"  ratio CPU({p.name})/CPU(SIP registration): {ratio:.2f}x  "
              f"target <= {TARGET_CPU_RATIO:.2f}x: {verdict}")


def main() -> int:
    parser = bench_parser(__doc__, "tiny counts (a smoke run)")
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--rrqs", type=int, default=3000, help="RRQs per phase, over all endpoints")
    parser.add_argument("--sip-rate", type=int, default=1600,
                        help="SIPp offered rate: near the RRQ phases' rate, so the CPU figures compare")
    parser.add_argument("--sip-seconds", type=float, default=3.0)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.endpoints, args.rrqs, args.sip_rate, args.sip_seconds = 4, 40, 100, 0.5
    if args.endpoints < 1 or args.rrqs < 1:
        parser.error("--endpoints and --rrqs must be at least 1")
    return run_bench("bench_h323", lambda: measure(args), report)


if __name__ == "__main__":
    sys.exit(main())
